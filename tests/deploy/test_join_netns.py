"""deploy/join.sh for real: a network namespace plays the spare machine.

The "machine" is a network namespace (`ip netns`) reached over a veth pair,
with its own mount namespace (`unshare --mount`) in which tmpfs hides
/etc/hptune, /usr/local, /var/lib/hptune, /var/cache/hptune, /run/hptune and
/etc/systemd/system: nothing there is shared with the coordinator's side.  A
copy of the source tree goes to /usr/local/src/hptune inside it (as the
README's `git archive | ssh` line does), then:
  - join.sh (as root, no systemd as PID 1: the documented fallback) installs
    the packages it needs (all present here), builds, installs, writes the
    config and keys and starts the worker, which connects with CurveZMQ to a
    coordinator on the other end of the veth;
  - the worker fetches mnist-10k from the coordinator (its data dir is empty)
    and takes the tasks of a running sweep, which ends done;
  - join.sh a second time changes nothing (same worker process, same worker
    id, no file written);
  - join.sh --remove while the worker runs tasks: it drains (its tasks end
    done, it says goodbye), then nothing of hptune is left on the machine.
Skips (77) only where namespaces are impossible (not root, no ip, nsenter or
unshare, `ip netns add` refused) or without the dataset; with HPT_CI set (as
.ci/run does) such a skip fails instead."""
import json
import os
import shutil
import subprocess
import tempfile
import time

from deploy_common import BINS, SRC, check, finish, have, run, skip, wait_for

DATA = os.environ.get("HPT_DATA") or os.path.join(SRC, "data")
CI = bool(os.environ.get("HPT_CI"))


def skip_here(why):
    if CI:
        check(False, f"cannot run ({why}), and HPT_CI is set: CI must run this test")
        finish()
    skip(why)


if os.geteuid() != 0:
    skip_here("the namespaces are made as root")
for tool in ("ip", "nsenter", "unshare", "start-stop-daemon"):
    if not have(tool):
        skip_here(f"{tool} not installed")
if not os.path.isfile(os.path.join(DATA, "mnist-10k", "train-images-idx3-ubyte")) and \
        not os.path.isfile(os.path.join(DATA, "mnist-10k", "train-images-idx3-ubyte.gz")):
    skip_here(f"mnist-10k not in {DATA} (deploy/fetch-data.sh)")

PID = os.getpid()
NS = f"hptjoin{PID}"
VETH_HOST, VETH_NS = f"hjh{PID % 100000}", f"hjn{PID % 100000}"
NET = f"10.213.{PID % 250}"
HOST_IP, NS_IP = f"{NET}.1", f"{NET}.2"
NAME = "spare"
# The unit's command (no pid namespace here: other tests' workers are seen).
WORKER_CMD = f"/usr/local/bin/hptune-worker --config /etc/hptune/worker-{NAME}.conf"
HIDDEN = ["/etc/hptune", "/usr/local", "/var/lib/hptune", "/var/cache/hptune", "/run/hptune",
          "/etc/systemd/system"]
tmp = tempfile.mkdtemp(prefix="hptune-join-netns.")
MNT_DIR = os.path.join(tmp, "ns")
MNT = os.path.join(MNT_DIR, "mnt")
created_dirs = []   # mount points this test had to create on the host
coord = None
ns_made = mnt_made = False


def sh(*args, timeout=60, **kw):
    return run(list(args), timeout=timeout, **kw)


def must(*args, timeout=60):
    r = sh(*args, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def inside(*args, timeout=60, **kw):
    """Run a command on the spare machine (both namespaces)."""
    return sh("nsenter", f"--mount={MNT}", f"--net=/run/netns/{NS}", "--", *args,
              timeout=timeout, **kw)



def make_machine():
    global ns_made, mnt_made
    r = sh("ip", "netns", "add", NS)
    if r.returncode != 0:
        skip_here(f"ip netns add refused: {r.stderr.strip()}")
    ns_made = True
    must("ip", "link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS, "netns", NS)
    must("ip", "addr", "add", f"{HOST_IP}/24", "dev", VETH_HOST)
    must("ip", "link", "set", VETH_HOST, "up")
    must("ip", "-n", NS, "addr", "add", f"{NS_IP}/24", "dev", VETH_NS)
    must("ip", "-n", NS, "link", "set", VETH_NS, "up")
    must("ip", "-n", NS, "link", "set", "lo", "up")
    # A persistent mount namespace: its file is bind-mounted on MNT, which
    # must sit on a private mount.
    os.makedirs(MNT_DIR)
    must("mount", "--bind", MNT_DIR, MNT_DIR)
    must("mount", "--make-private", MNT_DIR)
    open(MNT, "w").close()
    mnt_made = True
    for d in HIDDEN:
        if not os.path.isdir(d):
            os.makedirs(d)
            created_dirs.append(d)
    mounts = " && ".join(f"mount -t tmpfs -o mode=0755 hptune-spare {d}" for d in HIDDEN)
    must("unshare", f"--mount={MNT}", "--propagation", "private", "sh", "-c", mounts)
    # The source tree, copied in (no build directories, data or .git).
    tar = subprocess.Popen(["tar", "-c", "-C", SRC, "--exclude=./build*", "--exclude=./data",
                            "--exclude=./.git", "--exclude=__pycache__", "."], stdout=subprocess.PIPE)
    r = inside("sh", "-c", "mkdir -p /usr/local/src/hptune && tar -x -C /usr/local/src/hptune",
               stdin=tar.stdout)
    tar.wait()
    if r.returncode != 0 or tar.returncode != 0:
        raise RuntimeError(f"copying the source tree in: {r.stderr}")


def proc_state(pid):
    """A process's state letter, or None when it is gone (a zombie, Z, has
    exited: whoever adopted the daemon may be slow to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def files_under(root):
    """The files (not directories) under root on the spare machine."""
    r = inside("find", root, "-mindepth", "1", "!", "-type", "d")
    return sorted(r.stdout.split())


def stop_coordinator():
    if coord is not None and coord.poll() is None:
        coord.terminate()
        try:
            coord.wait(30)
        except subprocess.TimeoutExpired:
            coord.kill()


def cleanup():
    stop_coordinator()
    if mnt_made:
        # A worker left running (a failed test): stop it before the namespaces go.
        r = inside("cat", f"/run/hptune/worker-{NAME}.pid")
        if r.returncode == 0 and r.stdout.strip().isdigit():
            inside("kill", "-KILL", r.stdout.strip())
        sh("umount", MNT)
        sh("umount", MNT_DIR)
    if ns_made:
        sh("ip", "link", "del", VETH_HOST)
        sh("ip", "netns", "del", NS)
    for d in reversed(created_dirs):
        try:
            os.rmdir(d)
        except OSError as e:
            print(f"could not remove {d}: {e}", flush=True)
    if os.environ.get("KEEP_TMP"):
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


try:
    make_machine()

    # --- the coordinator's side: CurveZMQ keys, the coordinator on the veth --------
    keys = os.path.join(tmp, "keys")
    auth = os.path.join(keys, "authorized_keys")
    for role in ("workers", "clients"):
        os.makedirs(os.path.join(auth, role))
    for who, role in (("coordinator", None), ("worker", "worker"), ("client", "client")):
        args = [BINS["hptune"], "keygen", "-o", os.path.join(keys, who)]
        if role:
            args += ["--role", role]
        r = run(args)
        if not check(r.returncode == 0, f"keygen {who}: {r.stderr}"):
            raise SystemExit(finish())
    shutil.copy(os.path.join(keys, "worker.pub"), os.path.join(auth, "workers", "spare.pub"))
    shutil.copy(os.path.join(keys, "client.pub"), os.path.join(auth, "clients", "test.pub"))
    port = 7600 + PID % 1000
    addr = f"tcp://{HOST_IP}:{port}"
    clog = open(os.path.join(tmp, "coordinator.log"), "wb")
    coord = subprocess.Popen([BINS["hptune-coordinator"], "--bind", addr,
                              "--curve-secret", os.path.join(keys, "coordinator.key"),
                              "--authorized-keys", auth, "--db", os.path.join(tmp, "hptune.db"),
                              "--data-dir", DATA, "--hb-ivl-ms", "200", "--hb-liveness", "10"],
                             stdout=clog, stderr=subprocess.STDOUT)
    cli_env = dict(os.environ, HPTUNE_COORDINATOR=addr,
                   HPTUNE_CURVE_SECRET=os.path.join(keys, "client.key"),
                   HPTUNE_SERVER_KEY=os.path.join(keys, "coordinator.pub"))

    def cli(*args, timeout=60):
        return run([BINS["hptune"], *args], env=cli_env, timeout=timeout)

    wait_for(lambda: cli("status", "--timeout", "1").returncode == 0, 30, "the coordinator")

    def workers():
        """The workers registered (not gone); the spare machine's is the only one."""
        r = cli("workers", "--format", "json")
        if r.returncode != 0:
            return []
        return [w for w in json.loads(r.stdout)["workers"] if w["state"] != "gone"]

    def spare():
        ws = workers()
        return ws[0] if len(ws) == 1 else {}

    def worker_log():
        return inside("tail", "-c", "3000", f"/var/lib/hptune/worker-{NAME}.log").stdout

    # The sweep runs before the worker exists: it waits for one.
    with open(os.path.join(tmp, "first.yaml"), "w") as f:
        f.write("name: join-first\ndataset: mnist-10k\nmethod: grid\ncv: {folds: 2, seed: 1}\n"
                "refit: false\nparameters:\n  units: {values: [8, 16]}\n"
                "  epochs: {value: 1}\n  batch_size: {value: 128}\n")
    r = cli("launch", os.path.join(tmp, "first.yaml"))
    check(r.returncode == 0, f"launch: {r.stderr}")
    first = r.stdout.split("\n")[0].strip()

    # --- join.sh on the spare machine ------------------------------------------------
    # The key files are given as join.sh's inputs (copied in, like the tree).
    inside("mkdir", "-p", "/usr/local/src/keys")
    for f in ("coordinator.pub", "worker.key"):
        with open(os.path.join(keys, f), "rb") as src:
            inside("sh", "-c", f"cat > /usr/local/src/keys/{f}", stdin=src)
    JOIN = ["/usr/local/src/hptune/deploy/join.sh", f"{HOST_IP}:{port}", "--name", NAME,
            "--slots", "2", "--server-key", "/usr/local/src/keys/coordinator.pub",
            "--secret", "/usr/local/src/keys/worker.key"]
    env_ns = ["env", "-u", "JOIN_SYSTEMD", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
    t0 = time.time()
    r = inside(*env_ns, *JOIN, timeout=600)
    print(f"join.sh: {time.time() - t0:.0f} s", flush=True)
    print(r.stdout[-3000:], r.stderr[-3000:], flush=True)
    if not check(r.returncode == 0, f"join.sh: exit {r.returncode}"):
        raise SystemExit(finish())
    check("systemd is not running here" in r.stdout and "the worker is running (pid" in r.stdout,
          "join.sh did not start the worker through the fallback")
    for f in ("/usr/local/bin/hptune-worker", "/usr/local/bin/hptune",
              "/usr/local/lib/systemd/system/hptune-worker@.service",
              f"/etc/hptune/worker-{NAME}.conf", f"/etc/hptune/worker-{NAME}.key",
              f"/etc/hptune/coordinator-{NAME}.pub", f"/run/hptune/worker-{NAME}.pid"):
        check(inside("test", "-f", f).returncode == 0, f"join.sh left no {f} on the machine")
    check(not os.path.exists(f"/etc/hptune/worker-{NAME}.conf"),
          "the config is visible on the coordinator's side: the namespaces leak")
    pid1 = inside("cat", f"/run/hptune/worker-{NAME}.pid").stdout.strip()
    r = inside("ps", "-o", "user=,args=", "-p", pid1)
    check(r.stdout.split()[:4] == ["hptune", "/usr/local/bin/hptune-worker", "--config",
                                   f"/etc/hptune/worker-{NAME}.conf"],
          f"the worker runs as something other than the unit's command: {r.stdout!r}")

    try:
        w = wait_for(spare, 30, "the spare machine's worker to register")
    except RuntimeError:
        check(False, f"the worker did not register; its log:\n{worker_log()}")
        raise SystemExit(finish())
    r = cli("status", first, "--watch", timeout=300)
    check(r.returncode == 0, f"the first sweep did not end done: {r.stdout[-800:]} {r.stderr[-800:]}")
    res = json.loads(cli("results", first, "--format", "json").stdout)["sweep"]
    check(res["state"] == "done" and res["trials_done"] == 2 and res["trials_failed"] == 0,
          f"the first sweep: {res}")
    w = spare()
    check(w.get("tasks_done", 0) >= 4, f"the spare machine's worker did not run the sweep's tasks: {w}")
    check(inside("test", "-f", "/var/lib/hptune/data/mnist-10k/train-images-idx3-ubyte").returncode == 0
          or inside("test", "-f", "/var/lib/hptune/data/mnist-10k/train-images-idx3-ubyte.gz").returncode == 0,
          "the worker did not fetch mnist-10k from the coordinator into /var/lib/hptune/data: "
          + " ".join(files_under("/var/lib/hptune/data")))

    # --- a second run changes nothing ------------------------------------------------
    before = {f: inside("stat", "-c", "%Y %i %s", f).stdout for f in
              ("/usr/local/bin/hptune-worker", f"/etc/hptune/worker-{NAME}.conf",
               f"/etc/hptune/worker-{NAME}.key")}
    r = inside(*env_ns, *JOIN, timeout=600)
    check(r.returncode == 0, f"join.sh again: exit {r.returncode}: {r.stderr[-2000:]}")
    check("already running with this configuration" in r.stdout and "wrote " not in r.stdout
          and "starting " not in r.stdout, f"join.sh again did something:\n{r.stdout[-3000:]}")
    check(inside("cat", f"/run/hptune/worker-{NAME}.pid").stdout.strip() == pid1,
          "join.sh again replaced the worker process")
    pids = inside("pgrep", "-f", "-x", WORKER_CMD).stdout.split()
    check(pids == [pid1], f"worker processes on the machine after a second join.sh: {pids}")
    check(spare().get("id") == w.get("id"),
          "join.sh again: the coordinator sees a new worker")
    after = {f: inside("stat", "-c", "%Y %i %s", f).stdout for f in before}
    check(after == before, f"join.sh again changed files: {before} -> {after}")

    # --- --remove drains, then uninstalls ----------------------------------------------
    with open(os.path.join(tmp, "second.yaml"), "w") as f:
        f.write("name: join-second\ndataset: mnist-10k\nmethod: grid\ncv: {folds: 3, seed: 2}\n"
                "refit: false\nparameters:\n  units: {values: [32, 48, 64]}\n"
                "  epochs: {value: 12}\n  batch_size: {value: 64}\n")
    r = cli("launch", os.path.join(tmp, "second.yaml"))
    check(r.returncode == 0, f"launch: {r.stderr}")
    second = r.stdout.split("\n")[0].strip()
    busy = wait_for(lambda: spare().get("busy", 0), 60,
                    "the worker to run tasks of the second sweep", poll=0.05)
    done_before = json.loads(cli("results", second, "--format", "json").stdout)["sweep"]["tasks_done"]
    r = inside(*env_ns, *JOIN, "--remove", timeout=600)
    print(r.stdout[-3000:], r.stderr[-2000:], flush=True)
    check(r.returncode == 0, f"join.sh --remove: exit {r.returncode}")
    check("it drains" in r.stdout and "has exited" in r.stdout and "did not drain" not in r.stdout,
          "join.sh --remove did not drain the worker")
    res = json.loads(cli("results", second, "--format", "json").stdout)["sweep"]
    check(res["tasks_done"] >= done_before + busy and res["trials_failed"] == 0,
          f"the worker's {busy} running task(s) ({done_before} done before) were not finished by "
          f"the drain: {res}")
    check(proc_state(pid1) in (None, "Z"), f"the worker (pid {pid1}) still runs after --remove")
    check(inside("pgrep", "-f", "-x", WORKER_CMD).stdout.strip() == "",
          "a worker still runs on the machine after --remove")
    try:    # its Goodbye is on the way
        wait_for(lambda: not workers(), 10, "the worker to leave")
    except RuntimeError:
        check(False, f"the worker is still registered after --remove: {workers()}")
    left = [l for l in open(os.path.join(tmp, "coordinator.log"), errors="replace")
            if "task requeued" in l or "worker left" in l]
    # An Assign that crossed the worker's Goodbye on the wire is refused unrun
    # ("worker draining") and goes back to the queue: not a lost lease.
    lost = [l for l in left if "task requeued" in l and "worker draining" not in l]
    check(not lost and any("requeued=0" in l for l in left),
          "the worker's leases were requeued, not drained:\n" + "".join(left))
    for d in HIDDEN:
        left = [f for f in files_under(d) if not f.startswith("/usr/local/src/")]
        check(not left, f"join.sh --remove left files in {d}: {left[:20]}")
    cli("cancel", second)
finally:
    cleanup()
finish()
