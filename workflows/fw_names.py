"""Stored Firetask names from before sseflow had one import namespace, mapped to today's.

FireWorks stores a Firetask by ``_fw_name`` (``{{module.Class}}`` for ``@explicit_serialize``).
Workflows added when the modules were top-level ``workflows.*`` name ``{{workflows.firetasks.X}}``;
FireWorks' ``FW_NAME_UPDATES`` maps such names on load, so existing LaunchPads keep working.
:func:`register` adds the mappings in this process (every sseflow LaunchPad and Firetask import
calls it); for bare ``lpad``/``rlaunch`` put :data:`OLD_FW_NAMES` under ``FW_NAME_UPDATES`` in
``FW_config.yaml``.
"""
from __future__ import annotations

__all__ = ["OLD_FW_NAMES", "register"]

_TASKS = ("RelaxTask", "StaticTask", "ThermoTask", "ReactionTask", "ScreeningTask", "InterfaceTask",
          "SchottkyTask", "PhononTask", "ReportTask")

OLD_FW_NAMES: dict[str, str] = {
    f"{{{{workflows.firetasks.{t}}}}}": f"{{{{sseflow.workflows.firetasks.{t}}}}}" for t in _TASKS
}


def register() -> None:
    """Add :data:`OLD_FW_NAMES` to FireWorks' ``FW_NAME_UPDATES`` (idempotent)."""
    from fireworks.fw_config import FW_NAME_UPDATES

    FW_NAME_UPDATES.update(OLD_FW_NAMES)
