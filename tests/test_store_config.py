"""Store configuration: resolution order, FireWorks-style files, secrets, unreachable servers."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from sseflow.workflows.store import client as store_client
from sseflow.workflows.store.config import ConfigError, StoreError, load_config, redact_uri

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path, monkeypatch):
    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE", "SSEFLOW_TEST_PW"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SSEFLOW_HOME", str(tmp_path / "home"))
    yield tmp_path
    store_client.close_all()


def test_resolution_order(env, monkeypatch):
    assert load_config().backend == "embedded"
    assert load_config().path == env / "home" / "store.json" and load_config().source == "default"
    monkeypatch.setenv("MONGOMOCK_SERVERSTORE_FILE", str(env / "fw.json"))  # a FireWorks user's file store
    assert load_config().path == env / "fw.json"
    (env / "home").mkdir()
    (env / "home" / "config.yaml").write_text("db:\n  embedded: project/store.json\n")
    assert load_config().path == env / "home" / "project" / "store.json"  # relative to the config file
    (env / "other.yaml").write_text("db: mongodb://h1:27017/results\n")
    monkeypatch.setenv("SSEFLOW_CONFIG", str(env / "other.yaml"))
    cfg = load_config()
    assert (cfg.backend, cfg.uri, cfg.database) == ("mongodb", "mongodb://h1:27017/results", "results")
    monkeypatch.setenv("SSEFLOW_DB", "mongodb://h2/")
    assert load_config().hosts == "h2" and load_config().database == "sseflow" and load_config().source == "SSEFLOW_DB"
    monkeypatch.setenv("SSEFLOW_DB", "embedded:rel/store.json")
    assert load_config().path == Path.cwd() / "rel" / "store.json"
    assert load_config(str(env / "other.yaml")).hosts == "h1:27017"  # --config beats everything
    assert load_config("mongodb://h3/x").database == "x"


def test_fireworks_launchpad_file_is_a_config(env, monkeypatch):
    monkeypatch.setenv("SSEFLOW_TEST_PW", "p@ss:word")
    f = env / "my_launchpad.yaml"
    f.write_text("host: db.example.org\nport: 27018\nname: fw_db\nusername: alice\npassword: ${SSEFLOW_TEST_PW}\n"
                 "authsource: admin\nmongoclient_kwargs:\n  tls: true\n")
    cfg = load_config(str(f))
    assert cfg.backend == "mongodb" and cfg.database == "fw_db" and cfg.mongoclient_kwargs == {"tls": True}
    assert cfg.uri == "mongodb://alice:p%40ss%3Aword@db.example.org:27018/fw_db?authSource=admin"
    assert "p%40ss" not in cfg.location and "alice:***@db.example.org:27018" in cfg.location
    f.write_text("host: mongodb+srv://bob:pw@cluster0.example.net/?retryWrites=true\nuri_mode: true\nname: fw\n")
    cfg = load_config(str(f))
    assert cfg.database == "fw" and cfg.hosts == "cluster0.example.net"
    f.write_text("db:\n  uri: mongodb://h/x\n  timeout_ms: 60000\n")
    assert load_config(str(f)).timeout_ms == 5000  # never longer than 5 s


@pytest.mark.parametrize("text, message", [
    ("db:\n  uri: http://h/x\n", "must start with mongodb"),
    ("db:\n  colour: blue\n", "unknown key"),
    ("db: [1, 2]\n", "mapping or a URI"),
    ("db: {\n", "cannot be read"),
    ("- a\n", "mapping at top level"),
    ("db:\n  uri: mongodb://h/x\n  timeout_ms: soon\n", "timeout_ms"),
])
def test_bad_config_files(env, text, message):
    f = env / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(str(f))


def test_missing_and_malformed_specs_never_show_passwords(env, monkeypatch):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(env / "nope.yaml"))
    monkeypatch.setenv("SSEFLOW_DB", "postgres://u:secret@h/db")
    with pytest.raises(ConfigError) as e:
        load_config()
    assert "secret" not in str(e.value) and "SSEFLOW_DB" in str(e.value)
    assert redact_uri("mongodb+srv://u:s3cr%40t@c.net/db?x=1") == "mongodb+srv://u:***@c.net/db?x=1"
    assert redact_uri("mongodb://h1,h2/db") == "mongodb://h1,h2/db"
    assert redact_uri("mongodb://u:p@ss/w@h:1/db?app=a@b") == "mongodb://u:***@h:1/db?app=a@b"  # unescaped


def test_unusable_store_folder_is_a_store_error(env):
    (env / "afile").write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder") as e:
        store_client.connect(f"embedded:{env / 'afile' / 'store.json'}")
    assert type(e.value).__name__ == "StoreError"


def test_templates_are_valid_configs(env):
    cfg = load_config(str(ROOT / "templates" / "launchpad" / "my_launchpad.yaml"))
    assert cfg.backend == "mongodb" and cfg.database == "sseflow"
    cfg = load_config(str(ROOT / "templates" / "config" / "config.yaml"))
    assert cfg.backend == "embedded"


@pytest.mark.parametrize("uri, host", [
    ("mongodb://user:secret@127.0.0.1:1/x", "127.0.0.1:1"),  # refused
    ("mongodb://user:secret@192.0.2.1:27017/x?serverSelectionTimeoutMS=60000", "192.0.2.1:27017"),  # TEST-NET
])
def test_unreachable_server_fails_fast_naming_the_host(env, uri, host):
    t0 = time.monotonic()
    with pytest.raises(StoreError) as e:
        store_client.connect(uri)
    elapsed = time.monotonic() - t0
    msg = str(e.value)
    assert elapsed < 6, elapsed
    assert type(e.value).__name__ == "StoreError"
    assert host in msg and "secret" not in msg and "\n" not in msg
    assert msg.startswith(f"cannot reach MongoDB at {host}")
