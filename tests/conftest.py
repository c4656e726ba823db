import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import MP_CSV, REF_CSV


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Keep parsed-reference caches and sseflow's home out of the user's folders."""
    os.environ.setdefault("SSEFLOW_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh ``SSEFLOW_HOME`` (embedded store) with ``tmp_path`` as the working folder, holding
    the tiny study's ``ref.csv`` (see ``helpers.write_study``)."""
    from sseflow.workflows.store import client as store_client

    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        monkeypatch.delenv(var, raising=False)
    h = tmp_path / "home"
    monkeypatch.setenv("SSEFLOW_HOME", str(h))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ref.csv").write_text(REF_CSV)
    yield h
    store_client.close_all()


@pytest.fixture(scope="session")
def mp_csv() -> Path:
    if not MP_CSV.is_file():
        pytest.skip(f"shared reference data not found at {MP_CSV} (../shared absent)")
    return MP_CSV


@pytest.fixture(scope="session")
def mp_reference(mp_csv):
    from sseflow.analysis.reference import load_reference

    return load_reference(mp_csv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _secantusd() -> str | None:
    here = Path(sys.executable).parent / "secantusd-py"
    return str(here) if here.is_file() else shutil.which("secantusd-py")


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory):
    """A real MongoDB wire-protocol server for the whole session, as a URI without a database.

    ``SSEFLOW_TEST_MONGODB_URI`` names one to use (a MongoDB or Atlas test cluster); otherwise a
    SecantusDB server (test-only dependency) is started on 127.0.0.1 on a free port with a
    temporary storage folder and stopped at the end. Retryable writes are off: on SecantusDB they
    slow every write ten-fold after about 10,000 of them. SecantusDB's findAndModify is not atomic
    across client processes, so tests that use this server keep to one writing client.
    """
    given = os.environ.get("SSEFLOW_TEST_MONGODB_URI")
    if given:
        yield given
        return
    exe = _secantusd()
    if exe is None:
        pytest.skip("no MongoDB server: SecantusDB (the 'test' extra) is not installed and "
                    "SSEFLOW_TEST_MONGODB_URI is not set")
    import pymongo

    port = _free_port()
    store = tmp_path_factory.mktemp("secantusdb")
    log = open(store.parent / f"secantusd-{port}.log", "wb")
    proc = subprocess.Popen([exe, "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(store)],
                            stdout=log, stderr=subprocess.STDOUT)
    uri = f"mongodb://127.0.0.1:{port}/?retryWrites=false"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"SecantusDB exited with status {proc.returncode}; see {log.name}")
            client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)
            try:
                client.admin.command("ping")
                break
            except pymongo.errors.PyMongoError:
                if time.monotonic() > deadline:
                    pytest.fail(f"SecantusDB did not answer a ping within 60 s; see {log.name}")
                time.sleep(0.2)
            finally:
                client.close()
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """No user store configuration, a fresh ``SSEFLOW_HOME``; every store closed afterwards."""
    from sseflow.workflows.store import client as store_client

    for var in ("SSEFLOW_DB", "SSEFLOW_CONFIG", "MONGOMOCK_SERVERSTORE_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SSEFLOW_HOME", str(tmp_path / "home"))
    yield tmp_path
    store_client.close_all()
