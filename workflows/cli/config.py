"""``sseflow config show|fireworks``: the active configuration, and FireWorks' files for it."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from sseflow.workflows.cli.common import config_option

PASSWORD_VAR = "SSEFLOW_DB_PASSWORD"
FILES = ("my_launchpad.yaml", "my_fworker.yaml", "FW_config.yaml")

# FireWorks' own defaults of FW_NAME_UPDATES: a FW_config.yaml value replaces the whole mapping
_FIREWORKS_NAME_UPDATES = {
    "Transfer Task": "FileTransferTask",
    "Script Task": "ScriptTask",
    "Template Writer Task": "TemplateWriterTask",
    "Dupe Finder Exact": "DupeFinderExact",
}


@click.group("config")
def config():
    """The active configuration; FireWorks' configuration files for the same store."""


def describe(config_value: str | None) -> dict:
    """The active configuration, secrets masked (what ``sseflow config show`` prints)."""
    from sseflow.workflows.store.config import config_file, default_reference, load_config, redact_uri, sseflow_home

    cfg = load_config(config_value)
    cfile, _ = config_file(config_value)
    chose_file = cfg.source != "default" and cfile is not None and not cfg.source.startswith("SSEFLOW_DB")
    ref, ref_source = default_reference(config_value)
    return {
        "source": cfg.source,
        "config_file": str(cfile) if chose_file else None,
        "backend": cfg.backend,
        "database": cfg.database,
        "uri": redact_uri(cfg.uri) if cfg.backend == "mongodb" else None,
        "store_path": str(cfg.path) if cfg.backend == "embedded" else None,
        "sseflow_home": str(sseflow_home()),
        "reference": ref,
        "reference_source": ref_source,
    }


@config.command("show")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the configuration as JSON (nothing else on stdout).")
def show_cmd(config, as_json):
    """Where the store is, what chose it, and the default reference file (passwords masked)."""
    info = describe(config)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    rows = [("chosen by", info["source"]), ("config file", info["config_file"]), ("backend", info["backend"]),
            ("database", info["database"])]
    rows.append(("uri", info["uri"]) if info["backend"] == "mongodb" else ("store", info["store_path"]))
    rows += [("SSEFLOW_HOME", info["sseflow_home"]),
             ("reference", f"{info['reference']} ({info['reference_source']})" if info["reference"]
              else "(none: set SSEFLOW_REFERENCE or 'reference: PATH' in the config file)")]
    for key, value in rows:
        click.echo(f"{key + ':':<13} {value if value is not None else '-'}")


def _uri_without_password(uri: str) -> tuple[str, bool]:
    """``uri`` with its password replaced by ``${SSEFLOW_DB_PASSWORD}``; whether it had one."""
    from sseflow.workflows.store.config import split_uri

    parts = split_uri(uri)
    if parts is None or ":" not in parts[1]:
        return uri, False
    scheme, cred, rest = parts
    user = cred[:-1].split(":", 1)[0]
    return f"{scheme}{user}:${{{PASSWORD_VAR}}}@{rest}", True


def launchpad_dict(cfg) -> tuple[dict, bool]:
    """The ``my_launchpad.yaml`` of a store configuration; whether a password was left out."""
    if cfg.backend == "embedded":
        return {"host": "localhost", "port": 27017, "name": cfg.database}, False
    uri, had_password = _uri_without_password(cfg.uri or "")
    kwargs = {k: v for k, v in (cfg.mongoclient_kwargs or {}).items() if k.lower() != "password"}
    had_password = had_password or len(kwargs) != len(cfg.mongoclient_kwargs or {})
    kwargs.setdefault("serverSelectionTimeoutMS", cfg.timeout_ms)
    return {"host": uri, "uri_mode": True, "name": cfg.database, "mongoclient_kwargs": kwargs}, had_password


def _ensure_store_file(cfg) -> bool:
    """Create the embedded store (as ``sseflow db init``) when its file does not exist yet:
    FireWorks' mongomock client cannot open a missing file. True when it was created."""
    if cfg.path is not None and Path(os.path.realpath(os.path.expanduser(str(cfg.path)))).exists():
        return False
    from sseflow.workflows.store.client import get_launchpad
    from sseflow.workflows.store.api import open_store

    with open_store(cfg) as store:
        get_launchpad(store.config)
    return True


@config.command("fireworks")
@click.option("-o", "--output", "output", default=".", show_default=True, metavar="DIR",
              help="Folder to write my_launchpad.yaml, my_fworker.yaml and FW_config.yaml in.")
@config_option
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def fireworks_cmd(output, config, force):
    """Write FireWorks' my_launchpad.yaml, my_fworker.yaml and FW_config.yaml for the active store,
    so that plain lpad, rlaunch and qlaunch work on it (FW_CONFIG_FILE=DIR/FW_config.yaml).

    A password is never written: the MongoDB URI holds ${SSEFLOW_DB_PASSWORD} in its place.
    """
    import socket

    import yaml

    from sseflow.analysis.errors import InputError
    from sseflow.workflows.cli.common import folder_problem
    from sseflow.workflows.fw_names import OLD_FW_NAMES
    from sseflow.workflows.store.config import load_config

    cfg = load_config(config)
    folder = Path(os.path.expanduser(output)).absolute()
    problem = folder_problem(folder)
    if problem:
        raise InputError(f"-o {output}: cannot write there, {problem}")
    paths = {name: folder / name for name in FILES}
    existing = [str(p) for p in paths.values() if p.exists() or p.is_symlink()]
    if existing and not force:
        raise InputError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}: "
                         f"use --force to overwrite")

    launchpad, password_left_out = launchpad_dict(cfg)
    fworker = {"name": socket.gethostname() or "sseflow-worker", "category": "", "query": "{}", "env": {}}
    fw_config = {"LAUNCHPAD_LOC": str(paths["my_launchpad.yaml"]), "FWORKER_LOC": str(paths["my_fworker.yaml"]),
                 "FW_NAME_UPDATES": {**_FIREWORKS_NAME_UPDATES, **OLD_FW_NAMES}}
    store_file = None
    if cfg.backend == "embedded":
        store_file = os.path.realpath(os.path.expanduser(str(cfg.path)))
        fw_config["MONGOMOCK_SERVERSTORE_FILE"] = store_file

    created = cfg.backend == "embedded" and _ensure_store_file(cfg)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in (("my_launchpad.yaml", launchpad), ("my_fworker.yaml", fworker),
                           ("FW_config.yaml", fw_config)):
            paths[name].write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False),
                                   encoding="utf-8")
    except OSError as exc:
        raise InputError(f"-o {output}: cannot write there, {exc.strerror or exc}") from None

    fw_cfg = paths["FW_config.yaml"]
    say = lambda text: click.echo(text, err=True)  # noqa: E731
    say(f"wrote {', '.join(str(p) for p in paths.values())}")
    if cfg.backend == "embedded":
        say(f"store: embedded {store_file} (database {cfg.database})"
            + (" - created, as `sseflow db init` does" if created else ""))
    else:
        say(f"store: MongoDB {launchpad['host'] if password_left_out else cfg.location} "
            f"(database {cfg.database})")
    say("use them with:")
    say(f"  export FW_CONFIG_FILE={fw_cfg}")
    say("  lpad get_wflows")
    say("  (FireWorks uses a FW_config.yaml in the current folder or ~/.fireworks/ before FW_CONFIG_FILE)")
    if cfg.backend == "embedded":
        say(f"the embedded store is one process at a time: run lpad/rlaunch only while no sseflow "
            f"command runs, or under its lock: flock {store_file}.lock lpad get_wflows")
    elif os.environ.get("MONGOMOCK_SERVERSTORE_FILE"):
        say("note: unset MONGOMOCK_SERVERSTORE_FILE, or FireWorks uses that file instead of the server")
    if password_left_out:
        say(f"note: the password is not written: my_launchpad.yaml holds ${{{PASSWORD_VAR}}} instead (set it percent-encoded, as in a URI), "
            f"which sseflow (--config {paths['my_launchpad.yaml']}) takes from the environment; FireWorks "
            f"reads the file literally, so give lpad a private copy with the password: "
            f"envsubst < {paths['my_launchpad.yaml']} > PRIVATE/my_launchpad.yaml; lpad -l PRIVATE/my_launchpad.yaml")
