"""The Rocket's ping thread: no ping after the Rocket stopped it, and a vanished Launch ends it quietly."""
from __future__ import annotations

import threading

import pytest

from sseflow.workflows import fireworks_ping


class Pad:
    def __init__(self, gone: bool = False):
        self.pings, self.gone = [], gone

    def ping_launch(self, launch_id):
        self.pings.append(launch_id)
        if self.gone:
            raise ValueError(f"No Launch exists with launch_id={launch_id}")


def test_no_ping_once_stopped():
    pad, stop = Pad(), threading.Event()
    stop.set()
    fireworks_ping.ping_launch(pad, 7, stop, threading.current_thread())
    assert pad.pings == []


def test_a_live_launch_is_pinged_and_a_vanished_one_ends_quietly(monkeypatch):
    from fireworks.core import rocket

    monkeypatch.setattr(rocket, "PING_TIME_SECS", 0.01)
    pad = Pad(gone=True)
    fireworks_ping.ping_launch(pad, 3, threading.Event(), threading.current_thread())  # returns, no raise
    assert pad.pings == [3]


def test_other_errors_still_surface(monkeypatch):
    from fireworks.core import rocket

    class Broken(Pad):
        def ping_launch(self, launch_id):
            raise ValueError("something else")

    monkeypatch.setattr(rocket, "PING_TIME_SECS", 0.01)
    with pytest.raises(ValueError, match="something else"):
        fireworks_ping.ping_launch(Broken(), 3, threading.Event(), threading.current_thread())


def test_rockets_use_it():
    import sseflow.workflows.firetasks  # noqa: F401  (loading sseflow's Firetasks installs it)
    from fireworks.core import rocket

    assert rocket.ping_launch is fireworks_ping.ping_launch


def test_install_is_idempotent_and_leaves_a_loop_it_does_not_know_alone(monkeypatch):
    from fireworks.core import rocket

    assert fireworks_ping.install() and fireworks_ping.install()
    assert rocket.ping_launch is fireworks_ping.ping_launch

    def someone_elses(launchpad, launch_id, stop_event, master_thread):
        pass

    monkeypatch.setattr(rocket, "ping_launch", someone_elses)
    assert fireworks_ping.install() is False
    assert rocket.ping_launch is someone_elses
