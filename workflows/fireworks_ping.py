"""FireWorks' launch ping without its spurious last ping.

A Rocket starts a thread that pings its Launch every ``PING_TIME_SECS`` so that a lost run can be
told from a live one. FireWorks' loop pings once more after the Rocket has stopped it: the Launch
is then finished (the ping's update matches nothing) or, on the embedded store after a rerun or
a store switch, gone, and the thread dies with "No Launch exists with launch_id=N" printed as a
traceback. :func:`install` replaces the loop with one that stops when told to and ends quietly
when its Launch no longer exists; a live Launch is pinged exactly as before.

This is a patch of FireWorks, kept because FireWorks offers no other way in: the Rocket calls the
module function ``fireworks.core.rocket.ping_launch`` from ``Rocket.run`` (no hook, no setting,
and ``rlaunch`` makes plain Rockets and LaunchPads). It is installed at one point: the import
of :mod:`sseflow.workflows.firetasks`, the only sseflow code a Rocket runs before it starts the
ping thread (it loads a Firework's tasks when it checks the Firework out). docs/architecture.md
lists it with the other patch of third-party code.
"""
from __future__ import annotations

import logging

__all__ = ["install", "ping_launch"]

log = logging.getLogger(__name__)


def ping_launch(launchpad, launch_id, stop_event, master_thread) -> None:
    """FireWorks' ``rocket.ping_launch`` loop, minus the ping after ``stop_event`` is set."""
    from fireworks.core import rocket

    while not stop_event.is_set() and master_thread.is_alive():
        stop_event.wait(rocket.PING_TIME_SECS)
        if stop_event.is_set() or not master_thread.is_alive():
            return
        try:
            rocket.do_ping(launchpad, launch_id)
        except ValueError as exc:
            if "No Launch exists" not in str(exc):
                raise
            log.debug("launch %s is gone; its ping thread ends", launch_id)
            return


def install() -> bool:
    """Use :func:`ping_launch` for every Rocket of this process; whether it is in use.

    Idempotent. Guarded: FireWorks' loop is replaced only when it is FireWorks' own and the
    module still has what :func:`ping_launch` calls (``do_ping``, ``PING_TIME_SECS``); a
    FireWorks that changed, or a loop someone else replaced, is left alone.
    """
    from fireworks.core import rocket

    current = getattr(rocket, "ping_launch", None)
    if current is ping_launch:
        return True
    if (getattr(current, "__module__", None) != rocket.__name__ or not hasattr(rocket, "do_ping")
            or not hasattr(rocket, "PING_TIME_SECS")):
        log.debug("fireworks.core.rocket.ping_launch left as it is: %r", current)
        return False
    rocket.ping_launch = ping_launch
    return True
