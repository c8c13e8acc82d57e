"""Slurm for real: a one-node Slurm cluster on loopback (Debian's munged,
slurmctld and slurmd, started by this test as root with a minimal
slurm.conf in a temporary directory, stopped at the end), then:
  - `sbatch deploy/slurm/hptune.sbatch SPEC OUT` runs a whole sweep (on
    mnist-10k, with CurveZMQ keys) inside one allocation and leaves
    results.csv, results.json and results.txt;
  - a job array of workers (`sbatch --array=1-2 deploy/slurm/worker.sbatch`)
    joins a coordinator running outside Slurm and takes the tasks of its
    sweep; `scancel` of one element and `scontrol requeue` of the other
    (preemption) lose nothing: the sweep ends done with every trial scored,
    and the requeued element runs again and joins again.
Skips (77) without root, the Slurm and munge packages (slurmctld, slurmd,
slurm-client, munge; deploy/install-deps.sh) or the dataset."""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from deploy_common import BINS, SRC, check, finish, free_port, have, run, skip, wait_for

DATA = os.environ.get("HPT_DATA") or os.path.join(SRC, "data")
if os.geteuid() != 0:
    skip("slurmd and slurmctld are started as root")
for tool, pkg in (("munged", "munge"), ("slurmctld", "slurmctld"), ("slurmd", "slurmd"),
                  ("sbatch", "slurm-client")):
    if not have(tool):
        skip(f"{tool} not installed (Debian package {pkg}; deploy/install-deps.sh)")
if not glob.glob(os.path.join(DATA, "mnist-10k", "train-images-idx3-ubyte*")):
    skip(f"mnist-10k not in {DATA} (deploy/fetch-data.sh)")

tmp = tempfile.mkdtemp(prefix="hptune-slurm.")
HOST = socket.gethostname().split(".")[0]
CONF = os.path.join(tmp, "slurm.conf")
ENV = dict(os.environ, SLURM_CONF=CONF)
for k in ("SLURM_JOB_ID", "HPTUNE_COORDINATOR", "HPTUNE_CURVE_SECRET", "HPTUNE_SERVER_KEY"):
    ENV.pop(k, None)
coord = None


def sh(*args, timeout=60, env=None, **kw):
    return run(list(args), timeout=timeout, env=env or ENV, **kw)


def stop_cluster():
    sh("scancel", "--full", "--user", "root", timeout=30)
    for pidfile, name in (("slurmd.pid", "slurmd"), ("slurmctld.pid", "slurmctld"),
                          ("munge/munged.pid", "munged")):
        try:
            pid = int(open(os.path.join(tmp, pidfile)).read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            print(f"{name} ({pid}) did not stop: killing it", flush=True)
            os.kill(pid, signal.SIGKILL)



def start_cluster():
    os.makedirs(os.path.join(tmp, "munge"), mode=0o700)
    for d in ("ctld", "spool"):
        os.makedirs(os.path.join(tmp, d))
    with open(os.path.join(tmp, "munge", "munge.key"), "wb") as f:
        f.write(os.urandom(1024))
    os.chmod(os.path.join(tmp, "munge", "munge.key"), 0o600)
    ctld_port = free_port()
    slurmd_port = free_port()
    with open(CONF, "w") as f:
        f.write(f"""# A one-node cluster on loopback for tests/deploy/test_slurm_cluster.py.
ClusterName=hptune-test
SlurmctldHost={HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={tmp}/munge/socket
StateSaveLocation={tmp}/ctld
SlurmdSpoolDir={tmp}/spool
SlurmctldPidFile={tmp}/slurmctld.pid
SlurmdPidFile={tmp}/slurmd.pid
SlurmctldLogFile={tmp}/slurmctld.log
SlurmdLogFile={tmp}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
KillWait=10
InactiveLimit=0
NodeName={HOST} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    r = sh("munged", "--force", f"--socket={tmp}/munge/socket",
           f"--key-file={tmp}/munge/munge.key", f"--pid-file={tmp}/munge/munged.pid",
           f"--log-file={tmp}/munge/munged.log", f"--seed-file={tmp}/munge/munged.seed")
    if r.returncode != 0:
        raise RuntimeError(f"munged: {r.stderr}")
    r = sh("slurmctld", "-f", CONF)
    if r.returncode != 0:
        raise RuntimeError(f"slurmctld: {r.stderr}")
    r = sh("slurmd", "-f", CONF, "-N", HOST)
    if r.returncode != 0:
        raise RuntimeError(f"slurmd: {r.stderr}")
    wait_for(lambda: "idle" in sh("sinfo", "-h", "-o", "%t").stdout, 60,
             "the node to be idle")


def log_tail(path, n=3000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return f"({path} missing)"


try:
    try:
        start_cluster()
    except Exception as e:   # noqa: BLE001 - any failure to start is the test's failure
        check(False, f"cannot start the Slurm cluster: {e}\n{log_tail(tmp + '/slurmctld.log')}"
                     f"\n{log_tail(tmp + '/slurmd.log')}")
        raise SystemExit(finish())
    print(sh("sinfo").stdout, flush=True)

    # The binaries in one directory, as HPTUNE_BIN wants them.
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    for name, path in BINS.items():
        os.symlink(path, os.path.join(bindir, name))
    base = dict(ENV, HPTUNE_BIN=bindir, HPTUNE_DATA=DATA)

    # --- a whole sweep in one allocation ------------------------------------------
    spec = os.path.join(tmp, "sweep.yaml")
    with open(spec, "w") as f:
        f.write("name: slurm-sweep\ndataset: mnist-10k\nmethod: grid\ncv: {folds: 2, seed: 2}\n"
                "refit: true\nparameters:\n  units: {values: [8, 16]}\n"
                "  epochs: {value: 1}\n  batch_size: {value: 128}\n")
    out = os.path.join(tmp, "results")
    r = sh("sbatch", "--wait", "--nodes=1", f"--output={tmp}/sweep-%j.out",
           os.path.join(SRC, "deploy", "slurm", "hptune.sbatch"), spec, out,
           env=dict(base, HPTUNE_PORT=str(free_port())), timeout=300)
    joblog = "".join(log_tail(p) for p in glob.glob(f"{tmp}/sweep-*.out"))
    check(r.returncode == 0, f"sbatch --wait hptune.sbatch: {r.returncode} {r.stdout} {r.stderr}"
                             f"\n{joblog}")
    for f in ("results.csv", "results.json", "results.txt", "hptune.db", "coordinator.log"):
        check(os.path.isfile(os.path.join(out, f)), f"hptune.sbatch left no {f} in {out}")
    try:
        res = json.load(open(os.path.join(out, "results.json")))["sweep"]
    except (OSError, ValueError, KeyError):
        res = {}
    check(res.get("state") == "done" and res.get("trials_done") == 2 and
          (res.get("refit_test_score") or 0) > 0.5, f"the batch job's sweep: {res}")

    # --- a job array of workers joins a coordinator outside Slurm -------------------
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    clog = open(os.path.join(tmp, "coordinator.log"), "wb")
    coord = subprocess.Popen([BINS["hptune-coordinator"], "--bind", addr, "--db",
                              os.path.join(tmp, "outside.db"), "--data-dir", DATA,
                              "--hb-ivl-ms", "200", "--hb-liveness", "5"],
                             stdout=clog, stderr=subprocess.STDOUT)
    cli_env = dict(os.environ, HPTUNE_COORDINATOR=addr)

    def cli(*args, timeout=60):
        return run([BINS["hptune"], *args], env=cli_env, timeout=timeout)

    wait_for(lambda: cli("status", "--timeout", "1").returncode == 0, 30, "the coordinator")

    def workers():
        r = cli("workers", "--format", "json")
        if r.returncode != 0:
            return {}
        return {w["name"]: w for w in json.loads(r.stdout)["workers"] if w["state"] != "gone"}

    r = sh("sbatch", "--parsable", "--array=1-2", "--cpus-per-task=1",
           f"--output={tmp}/worker-%A_%a.out",
           os.path.join(SRC, "deploy", "slurm", "worker.sbatch"),
           env=dict(base, HPTUNE_COORDINATOR=addr))
    if not check(r.returncode == 0, f"sbatch --array worker.sbatch: {r.stderr}"):
        raise SystemExit(finish())
    array = r.stdout.strip().split(";")[0]
    names = [f"{HOST}-job{array}_1", f"{HOST}-job{array}_2"]
    wait_for(lambda: all(n in workers() for n in names), 60, f"workers {names} to join")
    print("joined:", sorted(workers()), flush=True)

    with open(os.path.join(tmp, "long.yaml"), "w") as f:
        f.write("name: slurm-workers\ndataset: mnist-10k\nmethod: grid\n"
                "cv: {folds: 3, seed: 3}\nrefit: false\nparameters:\n"
                "  units: {values: [16, 24, 32, 40, 48]}\n"
                "  epochs: {value: 12}\n  batch_size: {value: 64}\n")
    r = cli("launch", os.path.join(tmp, "long.yaml"))
    sweep = r.stdout.split("\n")[0].strip()
    check(r.returncode == 0, f"launch: {r.stderr}")

    def busy(name):
        w = workers().get(name)
        return w is not None and w["busy"] > 0

    # scancel one element while it runs a task: it drains (or is killed after
    # KillWait and its task re-runs); the other goes on.
    wait_for(lambda: busy(names[0]), 60, f"{names[0]} to run a task", poll=0.1)
    r = sh("scancel", f"{array}_1")
    check(r.returncode == 0, f"scancel {array}_1: {r.stderr}")
    wait_for(lambda: names[0] not in workers(), 60, f"{names[0]} to leave")
    # Preemption: requeue the other element while it runs a task; it is
    # killed, queued again (made eligible at once) and its new worker joins.
    wait_for(lambda: busy(names[1]), 60, f"{names[1]} to run a task", poll=0.1)
    before = workers()[names[1]]["id"]
    r = sh("scontrol", "requeue", f"{array}_2")
    check(r.returncode == 0, f"scontrol requeue {array}_2: {r.stderr}")
    wait_for(lambda: sh("squeue", "-h", "-j", f"{array}_2", "-o", "%T").stdout.strip()
             in ("PENDING", "RUNNING"), 60, "the requeued element to be queued")
    sh("scontrol", "update", f"JobId={array}_2", "StartTime=now")
    w = wait_for(lambda: (lambda w: w if w and w["id"] != before else None)(
        workers().get(names[1])), 120, f"{names[1]} to join again")
    print("rejoined:", w["id"], "was", before, flush=True)

    r = cli("status", sweep, "--watch", timeout=300)
    check(r.returncode == 0, f"the sweep did not end done: {r.returncode} {r.stdout[-800:]}")
    res = json.loads(cli("results", sweep, "--format", "json").stdout)
    sw = res["sweep"]
    check(sw["state"] == "done" and sw["trials_done"] == 5 and sw["trials_failed"] == 0 and
          sw["tasks_done"] == sw["tasks_total"] == 15, f"the sweep lost work: {sw}")
    check(all(s is not None for k, v in res["cv_results"].items() if k.startswith("split")
              for s in v), "a split score is missing")
    outs = sorted(glob.glob(f"{tmp}/worker-{array}_2.out"))
    text = "".join(log_tail(p, 20000) for p in outs)
    check("restart 1" in text, f"the requeued element did not run again:\n{text[-1500:]}")
    sh("scancel", array)
    wait_for(lambda: not sh("squeue", "-h", "-j", array).stdout.strip(), 60,
             "the array to end")
    wait_for(lambda: not workers(), 30, "the workers to leave")
finally:
    if coord is not None and coord.poll() is None:
        coord.send_signal(signal.SIGTERM)
        try:
            coord.wait(30)
        except subprocess.TimeoutExpired:
            coord.kill()
    stop_cluster()
    if os.environ.get("KEEP_TMP"):
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
finish()
