"""Queue a study through FireWorks' ``qlaunch`` on a real one-node SLURM and see it COMPLETED.

The fixture starts ``munged``, ``slurmctld`` and ``slurmd`` as root on localhost, every file in a
temporary folder (their own slurm.conf, munge key and socket, spool and log folders, free
ports), and stops them afterwards. Debian: ``apt-get install slurm-wlm munge``. Skipped, with
the reason, when the binaries are missing or the tests do not run as root.

Embedded store and queues (docs/workflows.md): the store is one process at a time. The study is
submitted (that process ends), ``qlaunch`` runs under ``flock`` on the store's lock file (it opens
the store file with FireWorks' own mongomock client and writes it back when it exits), and the
job's command waits for the lock before it opens the store.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bson import json_util

from helpers import SSEFLOW

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NEEDED = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scontrol", "flock")

REF_CSV = "formula,e_form\nLi2O,-2.07\nAl2O3,-3.43\nLiAlO2,-2.90\nLi5AlO4,-2.43\nLiAl,-0.17\n"
STUDY = """name: queued
electrolytes: [LiAlO2]
anodes: [Li]
phases: {{auto: false, include: [al.cif]}}
calculators: {{relax: {{name: emt}}}}
reference: {{source: both, file: ref.csv, correction_scheme: none}}
output: {OUT}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing() -> str | None:
    gone = [b for b in NEEDED if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if gone:
        return f"SLURM/munge not installed ({', '.join(gone)} missing): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "starting slurmd/munged for the test needs root"
    return None


def _which(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    why = _missing()
    if why:
        pytest.skip(why)
    d = tmp_path_factory.mktemp("slurm")
    for sub in ("munge", "spool/ctld", "spool/d", "log"):
        (d / sub).mkdir(parents=True)
    (d / "munge").chmod(0o700)
    key, sock = d / "munge" / "munge.key", d / "munge" / "munge.sock"
    subprocess.run([_which("mungekey"), "-c", "-k", str(key), "-b", "1024"], check=True, capture_output=True)
    key.chmod(0o600)
    subprocess.run([_which("munged"), "-f", f"--key-file={key}", f"--socket={sock}",
                    f"--pid-file={d / 'munge' / 'munged.pid'}", f"--log-file={d / 'log' / 'munged.log'}",
                    f"--seed-file={d / 'munge' / 'seed'}", "--num-threads=2"], check=True, capture_output=True)
    host = socket.gethostname()
    conf = d / "slurm.conf"
    conf.write_text(f"""ClusterName=sseflowtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
StateSaveLocation={d}/spool/ctld
SlurmdSpoolDir={d}/spool/d
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/linear
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={d}/log/jobcomp.txt
MpiDefault=none
ReturnToService=2
SwitchType=switch/none
MinJobAge=3600
NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    subprocess.run([_which("slurmctld"), "-f", str(conf)], check=True, env=env, capture_output=True)
    subprocess.run([_which("slurmd"), "-f", str(conf)], check=True, env=env, capture_output=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() in ("idle", "mixed"):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"SLURM did not come up: {r.stdout} {r.stderr} "
                    f"{(d / 'log' / 'slurmctld.log').read_text()[-1500:]}")
    yield {"conf": conf, "env": env, "dir": d}
    subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True)
    for pidfile in (d / "slurmd.pid", d / "slurmctld.pid", d / "munge" / "munged.pid"):
        try:
            os.kill(int(pidfile.read_text().split()[0]), 15)
        except (OSError, ValueError):
            pass


def _setup(tmp_path: Path) -> dict:
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    AseAtomsAdaptor.get_structure(bulk("Al", "fcc", a=4.1)).to(filename=str(tmp_path / "al.cif"))
    (tmp_path / "ref.csv").write_text(REF_CSV)
    (tmp_path / "queued.yaml").write_text(STUDY.format(OUT=tmp_path / "report"))
    home = tmp_path / "home"
    store = home / "store.json"
    (tmp_path / "my_launchpad.yaml").write_text("host: localhost\nport: 27017\nname: sseflow\n")  # + the env: file store
    (tmp_path / "my_fworker.yaml").write_text("name: slurm_worker\ncategory: \"\"\nquery: \"{}\"\n"
                                             "env: {sseflow_flush_interval: 0}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SSEFLOW_DB", "SSEFLOW_CONFIG")}
    env.update(SSEFLOW_HOME=str(home), MONGOMOCK_SERVERSTORE_FILE=str(store), OMP_NUM_THREADS="1",
               PATH=f"{BIN}:{env.get('PATH', '')}", PYTHONPATH=str(ROOT))
    return {"env": env, "home": home, "store": store}


def _sseflow(env, *args, cwd):
    return subprocess.run([SSEFLOW, *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _queue_and_wait(slurm, tmp_path, rocket_launch: str) -> tuple[dict, str]:
    s = _setup(tmp_path)
    env = {**s["env"], "SLURM_CONF": str(slurm["conf"])}
    r = _sseflow(env, "submit", "queued.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    wf = r.stdout.strip()
    (tmp_path / "my_qadapter.yaml").write_text(json.dumps({
        "_fw_name": "CommonAdapter", "_fw_q_type": "SLURM", "rocket_launch": rocket_launch,
        "nodes": 1, "ntasks": 1, "walltime": "00:10:00", "job_name": "sseflow_test",
        "pre_rocket": f"export PATH={BIN}:$PATH", "logdir": str(tmp_path / "qlogs")}))
    (tmp_path / "qlogs").mkdir()
    lock = f"{s['store']}.lock"
    q = subprocess.run(["flock", lock, str(BIN / "qlaunch"), "-l", "my_launchpad.yaml", "-w", "my_fworker.yaml",
                        "-q", "my_qadapter.yaml", "singleshot"], env=env, cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert q.returncode == 0, q.stdout + q.stderr
    script = next(tmp_path.glob("**/FW_submit.script")).read_text()
    assert "#SBATCH --job-name=sseflow_test" in script and rocket_launch in script
    r = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True)
    log = "\n".join(q.stdout.splitlines() + q.stderr.splitlines())
    m = re.search(r"Job submission was successful and job_id is (\d+)", log) or re.search(r"job_id is (\d+)", log)
    job = m.group(1) if m else (r.stdout.split() or [None])[0]
    assert job, log
    deadline = time.monotonic() + 240
    state = ""
    while time.monotonic() < deadline:
        out = subprocess.run(["scontrol", "show", "job", job], env=env, capture_output=True, text=True).stdout
        state = (re.search(r"JobState=(\w+)", out) or [None, ""])[1]
        if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
            break
        time.sleep(1)
    errs = "\n".join(p.read_text()[-3000:] for p in (tmp_path / "qlogs").glob("*"))
    assert state == "COMPLETED", f"job {job}: {state}\n{errs}"
    r = _sseflow(env, "status", wf, "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return s, r.stdout


def _check_done(s: dict, status_json: str, tmp_path: Path) -> None:
    (w,) = json.loads(status_json)
    assert {fw["state"] for fw in w["fireworks"]} == {"COMPLETED"}, w
    data = json_util.loads(s["store"].read_text())["sseflow"]
    assert len(data["tasks"]["documents"]) == 1 and len(data["windows"]["documents"]) == 1
    assert (tmp_path / "report" / "windows.md").is_file()
    assert (tmp_path / "report" / "reaction_LiAlO2_Li.png").is_file()


def test_qlaunch_job_runs_study_with_rlaunch(slurm, tmp_path):
    """FireWorks' own rlaunch in the job; sseflow's Firetasks write to the rlaunch LaunchPad's store."""
    lock = "$SSEFLOW_HOME/store.json.lock"
    s, status = _queue_and_wait(slurm, tmp_path, f"flock -w 120 {lock} true && rlaunch -l "
                                                 f"{tmp_path / 'my_launchpad.yaml'} -w {tmp_path / 'my_fworker.yaml'} "
                                                 f"rapidfire --max_loops 1")
    _check_done(s, status, tmp_path)


def test_qlaunch_job_runs_study_with_sseflow_run(slurm, tmp_path):
    """``sseflow run --wait`` in the job: waits for the store, then runs every ready Firework."""
    s, status = _queue_and_wait(slurm, tmp_path, f"sseflow run --wait 120 --quiet --fworker "
                                                 f"{tmp_path / 'my_fworker.yaml'}")
    _check_done(s, status, tmp_path)
