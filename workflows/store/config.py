"""Where the results database and the FireWorks LaunchPad live: one configuration for both.

Resolution order (the first that applies wins):

1. the ``config`` argument / ``--config VALUE``: a YAML file, or directly a spec
   (``mongodb://...``, ``mongodb+srv://...``, ``embedded`` or ``embedded:PATH``);
2. the environment variable ``SSEFLOW_DB`` (a spec as above);
3. the YAML file named by ``SSEFLOW_CONFIG``;
4. ``$SSEFLOW_HOME/config.yaml`` (``SSEFLOW_HOME`` defaults to ``~/.sseflow``);
5. the embedded default: FireWorks' mongomock-persistence file store at
   ``$MONGOMOCK_SERVERSTORE_FILE`` when that is set, else ``$SSEFLOW_HOME/store.json``.

A YAML file holds either a ``db:`` mapping or, at top level, the keys of a FireWorks
``my_launchpad.yaml`` (host, port, name, username, password, authsource, uri_mode,
mongoclient_kwargs), so an existing ``my_launchpad.yaml`` is a valid sseflow config. Inside
``db:`` the keys are::

    uri: mongodb+srv://user:${SSEFLOW_DB_PASSWORD}@cluster0.example.mongodb.net/sseflow
    database: sseflow            # default: the URI's database, else "sseflow"
    mongoclient_kwargs: {tls: true, tlsCAFile: /path/ca.pem}
    timeout_ms: 4000             # server selection and connect timeout (at most 5000)
    embedded: true               # or a path: the embedded file store (relative to the YAML file)

``${VAR}`` in ``uri``, ``host`` and ``password`` is expanded from the environment.

The same file may name the default reference-energy file of the analysis commands
(``reference: PATH``, relative to the YAML file); ``SSEFLOW_REFERENCE`` overrides it
(:func:`default_reference`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sseflow.analysis.errors import SseflowError
from sseflow.workflows.settings import settings

DEFAULT_DATABASE = "sseflow"
DEFAULT_TIMEOUT_MS = 4000
MAX_TIMEOUT_MS = 5000
STORE_FILENAME = "store.json"

_LAUNCHPAD_KEYS = {"host", "port", "name", "username", "password", "authsource", "uri_mode",
                   "mongoclient_kwargs", "logdir", "strm_lvl", "user_indices", "wf_user_indices"}
_DB_KEYS = {"uri", "database", "mongoclient_kwargs", "timeout_ms", "embedded", "path"} | _LAUNCHPAD_KEYS


class StoreError(SseflowError, RuntimeError):
    """The results store cannot be used (unreachable server, corrupt file ...): one line for the user."""


class StoreLockedError(StoreError):
    """The embedded store file is held by another process."""


class ConfigError(StoreError):
    """The store configuration is invalid or missing."""


def sseflow_home() -> Path:
    """The sseflow folder: ``$SSEFLOW_HOME`` or ``~/.sseflow``."""
    return Path(settings().home or os.path.join(os.path.expanduser("~"), ".sseflow"))


# value of MONGOMOCK_SERVERSTORE_FILE that this process set itself (see client.py); a value we
# set is not a user's choice and must not leak into the resolution of a later configuration
_ENV_SET_BY_US: set[str] = set()


@dataclass(frozen=True)
class StoreConfig:
    """A resolved store configuration."""

    backend: str  # "embedded" or "mongodb"
    database: str = DEFAULT_DATABASE
    path: Path | None = None  # embedded: the store file
    uri: str | None = None  # mongodb: the connection string (may hold a password; never print it)
    mongoclient_kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    source: str = "default"  # where the configuration came from, for `sseflow db status`

    @property
    def identity(self) -> str:
        """Key of the process-wide client for this configuration."""
        if self.backend == "embedded":  # one client per file, whatever database name
            return f"embedded:{os.path.realpath(self.path)}"
        return f"mongodb:{redact_uri(self.uri or '')}#{self.database}"

    @property
    def location(self) -> str:
        """Printable location: the file, or the URI without its password."""
        if self.backend == "embedded":
            return str(self.path)
        return redact_uri(self.uri or "")

    @property
    def hosts(self) -> str:
        return self.location if self.backend == "embedded" else uri_hosts(self.uri or "")

    @property
    def lock_path(self) -> Path | None:
        """The write lock of the embedded store: next to the real file (symbolic links resolved),
        so every route to one file takes the same lock."""
        if self.path is None:
            return None
        real = Path(os.path.realpath(os.path.expanduser(os.fspath(self.path))))
        return real.with_name(real.name + ".lock")

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "location": self.location, "database": self.database,
                "source": self.source}


# --------------------------------------------------------------------------- URIs

_SCHEME_RE = re.compile(r"^mongodb(?:\+srv)?://", re.I)


def split_uri(uri: str) -> tuple[str, str, str] | None:
    """``(scheme, credentials-with-@ or '', rest)``; credentials end at the last '@' before the query."""
    m = _SCHEME_RE.match(uri or "")
    if not m:
        return None
    scheme, body = m.group(0), uri[m.end():]
    at = body.split("?", 1)[0].rfind("@")
    if at < 0:
        return scheme, "", body
    return scheme, body[:at + 1], body[at + 1:]


def redact_uri(uri: str) -> str:
    """``mongodb://user:secret@host/db`` -> ``mongodb://user:***@host/db``."""
    parts = split_uri(uri)
    if parts is None:
        return "<invalid URI>"
    scheme, cred, rest = parts
    if cred:
        user = cred[:-1].split(":", 1)[0]
        cred = f"{user}:***@" if ":" in cred else f"{user}@"
    return f"{scheme}{cred}{rest}"


def uri_hosts(uri: str) -> str:
    """The host list of a MongoDB URI (``host1:27017,host2``), without credentials."""
    parts = split_uri(uri)
    if parts is None:
        return "<invalid URI>"
    return re.split(r"[/?]", parts[2], maxsplit=1)[0] or "localhost"


def uri_database(uri: str) -> str | None:
    parts = split_uri(uri)
    if parts is None or "/" not in parts[2].split("?", 1)[0]:
        return None
    db = parts[2].split("?", 1)[0].split("/", 1)[1]
    return db or None


def uri_password(uri: str) -> str | None:
    parts = split_uri(uri)
    if parts is None or ":" not in parts[1]:
        return None
    from urllib.parse import unquote

    return unquote(parts[1][:-1].split(":", 1)[1]) or None


def is_mongo_uri(text: str) -> bool:
    return bool(re.match(r"^mongodb(\+srv)?://", text or "", re.I))


_FILE_OPTIONS = {"tlscafile", "tlscertificatekeyfile", "tlscrlfile", "ssl_ca_certs", "ssl_certfile",
                 "ssl_keyfile", "ssl_crlfile"}


def check_mongo_options(uri: str, kwargs: dict | None, source: str) -> None:
    """ConfigError (one line, naming the option, never its value) for connection options that
    pymongo would reject with a traceback or ignore after a warning: TLS files that do not exist,
    unknown options and bad values (``authMechanism=BOGUS``)."""
    import warnings
    from urllib.parse import parse_qsl, quote

    query = uri.split("?", 1)[1] if "?" in uri else ""
    pairs = parse_qsl(query.replace(";", "&"), keep_blank_values=True)
    for key, value in [*pairs, *((str(k), v) for k, v in (kwargs or {}).items())]:
        if key.lower() in _FILE_OPTIONS and isinstance(value, str) and value:
            path = Path(os.path.expanduser(value))
            if not path.is_file():
                raise ConfigError(f"{source}: MongoDB option {key}: file not found: {path}")
    if not pairs:
        return
    try:
        from pymongo.uri_parser import split_options
    except ImportError:  # pragma: no cover - pymongo is a dependency
        return

    def check(text: str, name: str | None) -> None:
        where = f"MongoDB URI option '{name}'" if name else "MongoDB URI options"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                split_options(text, validate=True, warn=True)
            except Exception as exc:  # noqa: BLE001 - pymongo's InvalidURI, ValueError, OSError ...
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConfigError(f"{source}: {where}: {first}") from None
        for w in caught:
            if issubclass(w.category, UserWarning) and not issubclass(w.category, DeprecationWarning):
                text = str(w.message).splitlines()[0].replace(" Refer to docstring.", "")
                raise ConfigError(f"{source}: {where}: {text}")

    for key, value in pairs:
        check(f"{quote(key, safe='')}={quote(value, safe='')}", key)
    check(query, None)


# --------------------------------------------------------------------------- resolution

def default_store_path() -> Path:
    env = os.environ.get("MONGOMOCK_SERVERSTORE_FILE")
    if env and env not in _ENV_SET_BY_US:
        return Path(env).expanduser()
    return sseflow_home() / STORE_FILENAME


def _timeout(value: Any, where: str) -> int:
    if value is None:
        return DEFAULT_TIMEOUT_MS
    try:
        t = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: timeout_ms must be an integer number of milliseconds, not {value!r}")
    if t <= 0:
        raise ConfigError(f"{where}: timeout_ms must be positive")
    return min(t, MAX_TIMEOUT_MS)


def from_spec(spec: str, source: str, base: Path | None = None) -> StoreConfig:
    """A configuration from a one-line spec: a MongoDB URI, ``embedded`` or ``embedded:PATH``."""
    spec = spec.strip()
    if is_mongo_uri(spec):
        check_mongo_options(os.path.expandvars(spec), None, source)
        return StoreConfig(backend="mongodb", uri=os.path.expandvars(spec),
                           database=uri_database(spec) or DEFAULT_DATABASE, source=source)
    if spec.lower() == "embedded":
        return StoreConfig(backend="embedded", path=default_store_path(), source=source)
    if spec.lower().startswith("embedded:"):
        p = Path(os.path.expanduser(spec.split(":", 1)[1]))
        if not p.is_absolute():
            p = (base or Path.cwd()) / p
        return StoreConfig(backend="embedded", path=p, source=source)
    shown = redact_uri(spec) if "://" in spec else spec
    raise ConfigError(f"{source}: '{shown}' is not a store spec: use mongodb://..., mongodb+srv://..., "
                      f"'embedded' or 'embedded:PATH'")


def from_file(path: str | os.PathLike, source: str | None = None) -> StoreConfig:
    """A configuration from a YAML file (sseflow ``db:`` mapping or a FireWorks my_launchpad.yaml)."""
    import yaml

    p = Path(path).expanduser()
    source = source or str(p)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"config file {p} cannot be read: {first}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p}: expected a mapping at top level")
    data = {k: v for k, v in data.items() if k != "reference"}  # see default_reference()
    if "db" in data:
        db = data["db"]
        if isinstance(db, str):
            return from_spec(db, source, base=p.parent)
        if not isinstance(db, dict):
            raise ConfigError(f"config file {p}: 'db' must be a mapping or a URI string")
    elif _LAUNCHPAD_KEYS & set(data):
        db = data  # a FireWorks my_launchpad.yaml
    else:
        db = {"embedded": True}
    unknown = set(db) - _DB_KEYS
    if unknown:
        raise ConfigError(f"config file {p}: unknown key(s) in db: {', '.join(sorted(unknown))}")
    return _from_mapping(db, source, p.parent)


def _from_mapping(db: dict, source: str, base: Path) -> StoreConfig:
    timeout = _timeout(db.get("timeout_ms"), source)
    kwargs = db.get("mongoclient_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{source}: mongoclient_kwargs must be a mapping")
    embedded = db.get("embedded", db.get("path"))
    if embedded:
        if embedded is True:
            path = default_store_path()
        elif isinstance(embedded, str):
            path = Path(os.path.expanduser(os.path.expandvars(embedded)))
            if not path.is_absolute():
                path = base / path
        else:
            raise ConfigError(f"{source}: 'embedded' must be true or a path")
        return StoreConfig(backend="embedded", path=path, database=str(db.get("database") or db.get("name")
                                                                          or DEFAULT_DATABASE),
                           source=source)
    uri = db.get("uri")
    host = db.get("host")
    if uri is None and isinstance(host, str) and (db.get("uri_mode") or is_mongo_uri(host)):
        uri = host
    if uri is not None:
        uri = os.path.expandvars(str(uri))
        if not is_mongo_uri(uri):
            raise ConfigError(f"{source}: uri must start with mongodb:// or mongodb+srv://")
        database = db.get("database") or db.get("name") or uri_database(uri) or DEFAULT_DATABASE
        check_mongo_options(uri, kwargs, source)
        return StoreConfig(backend="mongodb", uri=uri, database=str(database), mongoclient_kwargs=dict(kwargs),
                           timeout_ms=timeout, source=source)
    if host is not None:  # FireWorks-style host/port/username/password
        from urllib.parse import quote_plus

        host = os.path.expandvars(str(host))
        port = db.get("port") or 27017
        user, password = db.get("username"), db.get("password")
        cred = ""
        if user:
            cred = quote_plus(str(user))
            if password is not None:
                cred += ":" + quote_plus(os.path.expandvars(str(password)))
            cred += "@"
        database = str(db.get("database") or db.get("name") or DEFAULT_DATABASE)
        uri = f"mongodb://{cred}{host}:{port}/{database}"
        if user:
            uri += f"?authSource={quote_plus(str(db.get('authsource') or database))}"
        check_mongo_options(uri, kwargs, source)
        return StoreConfig(backend="mongodb", uri=uri, database=database, mongoclient_kwargs=dict(kwargs),
                           timeout_ms=timeout, source=source)
    return StoreConfig(backend="embedded", path=default_store_path(),
                       database=str(db.get("database") or DEFAULT_DATABASE), source=source)


def load_config(config: str | os.PathLike | StoreConfig | None = None) -> StoreConfig:
    """Resolve the store configuration (see the module docstring for the order)."""
    if isinstance(config, StoreConfig):
        return config
    if config is not None and str(config).strip():
        text = str(config).strip()
        if is_mongo_uri(text) or text.lower() == "embedded" or text.lower().startswith("embedded:"):
            return from_spec(text, "--config")
        return from_file(text, source=f"--config {text}")
    env_settings = settings()
    env = env_settings.db
    if env and env.strip():
        return from_spec(env, "SSEFLOW_DB")
    env = env_settings.config
    if env and env.strip():
        return from_file(env, source=f"SSEFLOW_CONFIG={env}")
    home_cfg = sseflow_home() / "config.yaml"
    if home_cfg.is_file():
        return from_file(home_cfg)
    return StoreConfig(backend="embedded", path=default_store_path(), source="default")


def config_file(config: str | os.PathLike | None = None) -> tuple[Path | None, str | None]:
    """The sseflow YAML file in use and what chose it: ``--config FILE``, ``SSEFLOW_CONFIG`` or
    ``$SSEFLOW_HOME/config.yaml``; ``(None, None)`` when there is none (a spec or nothing)."""
    if config is not None and str(config).strip():
        text = str(config).strip()
        if is_mongo_uri(text) or text.lower() == "embedded" or text.lower().startswith("embedded:"):
            return None, None
        return Path(text).expanduser(), f"--config {text}"
    env = settings().config
    if env and env.strip():
        return Path(env).expanduser(), f"SSEFLOW_CONFIG={env}"
    home_cfg = sseflow_home() / "config.yaml"
    if home_cfg.is_file():
        return home_cfg, str(home_cfg)
    return None, None


def default_reference(config: str | os.PathLike | None = None) -> tuple[str | None, str | None]:
    """The default reference-energy file and where it was set: ``$SSEFLOW_REFERENCE``, else
    ``reference: PATH`` in the sseflow config file (:func:`config_file`; a relative path is
    relative to that file's folder). ``(None, None)`` when neither is set."""
    import yaml

    env = settings().reference
    if env and env.strip():
        return os.path.expanduser(env.strip()), "SSEFLOW_REFERENCE"
    path, _ = config_file(config)
    if path is None and config is not None:  # a spec: the config file of the environment
        path, _ = config_file(None)
    if path is None or not path.is_file():
        return None, None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None, None  # load_config reports a broken file
    ref = data.get("reference") if isinstance(data, dict) else None
    if ref is None or not str(ref).strip():
        return None, None
    if not isinstance(ref, str):
        raise ConfigError(f"config file {path}: 'reference' must be a file path")
    ref_path = Path(os.path.expanduser(os.path.expandvars(ref.strip())))
    if not ref_path.is_absolute():
        ref_path = path.parent / ref_path
    return str(ref_path), f"{path} (reference:)"
