"""Fault: the journal's disk.

  read-only: a journal file with mode 0444, a read-only directory (with and
      without the journal in it) and, as root, a read-only bind mount: the
      coordinator refuses to start, exit 1, with an error naming the file,
      and leaves the file untouched.  Root ignores mode bits, so as root the
      mode cases run the coordinator as nobody (setpriv).
  corrupt: random bytes, a truncated journal, garbage pages in the middle:
      exit 1, a clear error naming the file (one log line), file untouched.
  full: the journal on a 256 KiB tmpfs, a sweep runs until the disk fills: the
      coordinator logs "journal commit failed; stopping" and exits non-zero;
      the journal then passes PRAGMA integrity_check, is consistent, and a
      coordinator on a copy of it resumes the sweep; cancelling that sweep
      leaves the journal consistent too.

Every case runs: the bind mount and the tmpfs need root (the README's test
command, deploy/test.sh, runs as root; so does CI), and a case that cannot
be set up is a failure naming what is missing, never a silent SKIP."""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile

from harness import COORD, DATA, Cluster, check, exempt, finish, free_port, on_cleanup

ROOT = os.geteuid() == 0
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
base = tempfile.mkdtemp(prefix="hpt-disk-")
os.chmod(base, 0o755)   # nobody must reach the cases below


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_coord(db, as_nobody=False):
    """Start a coordinator on db; return (exit status or None if it kept
    running, its output)."""
    cmd = [COORD, "--db", db, "--bind", f"tcp://127.0.0.1:{free_port()}", "--data-dir", DATA]
    if as_nobody:
        cmd = NOBODY + cmd
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return None, out


def refused(tag, db, words, as_nobody=False, exists=True):
    before = sha(db) if exists else None
    rc, out = run_coord(db, as_nobody)
    check(rc == 1, f"{tag}: exit {rc}, want 1:\n{out}")
    check(db in out, f"{tag}: the error does not name {db}:\n{out}")
    check(any(w in out for w in words), f"{tag}: unclear error (want one of {words}):\n{out}")
    lines = [ln for ln in out.splitlines() if ln.strip()]
    check(all(ln.startswith("ts=") for ln in lines), f"{tag}: a log event spans several lines:\n{out}")
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        check(bad not in out, f"{tag}: {bad}:\n{out}")
    if exists:
        check(sha(db) == before, f"{tag}: the journal was modified")
    else:
        check(not os.path.exists(db), f"{tag}: a journal was created")
    check(not os.path.exists(db + "-wal") and not os.path.exists(db + "-shm"),
          f"{tag}: -wal/-shm files left next to the journal")
    err = [ln for ln in lines if "cannot open the journal" in ln]
    print(f"  {tag}: exit {rc}: {err[0][err[0].find('error='):][:160] if err else out[-160:]}")


def consistent(path, tag):
    """integrity_check, and tasks agree with their attempts."""
    db = sqlite3.connect(path)
    ic = db.execute("PRAGMA integrity_check").fetchall()
    check(ic == [("ok",)], f"{tag}: integrity_check {ic}")
    bad = []
    for tid, st, att in db.execute("SELECT id, state, attempt FROM tasks"):
        rows = db.execute("SELECT attempt, outcome FROM attempts WHERE task = ?", (tid,)).fetchall()
        if st == "done" and [r for r in rows if r[1] == "done"] != [(att, "done")]:
            bad.append((tid, st, att, rows))
        if st == "leased" and (att, None) not in rows:
            bad.append((tid, st, att, rows))
    check(not bad, f"{tag}: tasks disagree with their attempts: {bad[:5]}")
    n = db.execute("SELECT COUNT(*) FROM tasks WHERE state = 'done'").fetchone()[0]
    db.close()
    return n


# --- a real journal to spoil ------------------------------------------------
c = Cluster(name="disk-src")
c.start_coordinator()
c.start_worker(slots=4, name="dry", data="/nonexistent", extra=["--dry-run", "--dataset", "mnist"])
s = c.launch("name: src\ndataset: mnist\ntest_objective: hash\nmethod: random\nseed: 3\ncv: {folds: 3}\nrefit: true\n"
             "parameters:\n  units: {distribution: int_uniform, min: 4, max: 64}\n"
             "budget: {max_trials: 200}\n")
check(c.wait_sweep(s, timeout=120) == "done", "source sweep did not finish")
c.stop()
SRC = c.db_path
check(not os.path.exists(SRC + "-wal"), "the journal kept a -wal after a clean stop")
size = os.path.getsize(SRC)
print(f"source journal: {size} bytes")


def copy_to(sub, name="journal.db"):
    d = os.path.join(base, sub)
    os.makedirs(d, exist_ok=True)
    shutil.copy(SRC, os.path.join(d, name))
    return d, os.path.join(d, name)


# --- read-only ------------------------------------------------------------
print("read-only:")
as_nobody = ROOT and shutil.which("setpriv") is not None
if ROOT and not as_nobody:
    check(False, "mode-bit cases cannot run: root ignores mode bits and setpriv (util-linux) "
          "is missing")
else:
    d, db = copy_to("ro-file")
    if as_nobody:
        os.chown(d, 65534, 65534)
        os.chown(db, 65534, 65534)
    os.chmod(db, 0o444)
    refused("file 0444", db, ["not writable", "readonly", "read-only"], as_nobody)

    d, db = copy_to("ro-dir")
    if as_nobody:
        os.chown(d, 65534, 65534)
        os.chown(db, 65534, 65534)
    os.chmod(d, 0o555)
    refused("directory 0555", db, ["not writable", "readonly", "read-only"], as_nobody)
    refused("directory 0555, new journal", os.path.join(d, "new.db"),
            ["unable to open", "not writable", "readonly", "read-only"], as_nobody, exists=False)
    on_cleanup(lambda: os.chmod(os.path.join(base, "ro-dir"), 0o755))

def mount(*args):
    """Run mount(8); a failure is a test failure naming the command."""
    r = subprocess.run(["mount", *args], capture_output=True, text=True)
    check(r.returncode == 0, f"mount {' '.join(args)} failed (exit {r.returncode}): "
          f"{r.stderr.strip()}; this case needs root with mount rights")
    return r.returncode == 0


if not ROOT:
    check(False, "read-only bind mount case cannot run: mounting needs root")
else:
    d, db = copy_to("ro-mount")
    if mount("--bind", d, d):
        on_cleanup(lambda: subprocess.run(["umount", "-l", os.path.join(base, "ro-mount")]))
        if mount("-o", "remount,ro,bind", d):
            refused("read-only bind mount (root)", db, ["not writable", "readonly", "read-only"])

# --- corrupt --------------------------------------------------------------
print("corrupt:")
d = os.path.join(base, "corrupt")
os.makedirs(d)
rnd = os.path.join(d, "random.db")
with open(rnd, "wb") as f:
    f.write(os.urandom(64 * 1024))
refused("random bytes", rnd, ["not a usable SQLite database", "corrupt", "malformed", "not a database"])
tr = os.path.join(d, "truncated.db")
with open(SRC, "rb") as f, open(tr, "wb") as g:
    g.write(f.read()[: size * 6 // 10])
refused("truncated to 60%", tr, ["not a usable SQLite database", "corrupt", "malformed"])
mid = os.path.join(d, "garbage-pages.db")
shutil.copy(SRC, mid)
with open(mid, "r+b") as f:
    f.seek((size // 4096 // 2) * 4096)
    f.write(os.urandom(3 * 4096))
refused("garbage pages in the middle", mid, ["not a usable SQLite database", "corrupt", "malformed"])

# --- full disk --------------------------------------------------------------
print("full disk:")
full = os.path.join(base, "full")
os.makedirs(full)
if not ROOT:
    check(False, "full-disk case cannot run: mounting a tmpfs needs root")
elif mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", full):
    on_cleanup(lambda: subprocess.run(["umount", "-l", full]))
    f = Cluster(name="disk-full", db=os.path.join(full, "journal.db"))
    f.start_coordinator()
    f.start_worker(slots=8, name="dry", data="/nonexistent", extra=["--dry-run", "--dataset", "mnist"])
    big = f.launch("name: big\ndataset: mnist\ntest_objective: hash\nmethod: random\nseed: 5\ncv: {folds: 3}\n"
                   "refit: false\nparameters:\n  units: {distribution: int_uniform, min: 4, max: 64}\n"
                   "budget: {max_trials: 100000}\n")
    exempt(f.coord)   # it is expected to stop by itself, non-zero
    try:
        rc = f.coord.wait(60)
    except subprocess.TimeoutExpired:
        rc = None
    ev = f.log_events("coordinator", "journal commit failed; stopping")
    check(len(ev) == 1, f"no 'journal commit failed; stopping' line:\n{f.coord_log()}")
    check(rc is not None and rc != 0, f"coordinator exit status {rc} after the journal failed, "
          f"want non-zero:\n{f.coord_log()[-1500:]}")
    if ev:
        print(f"  stopped: exit {rc}: {ev[0].get('error')}")
        check(not f.log_events("coordinator", "stopped"),
              "after a journal failure the coordinator still logs a clean 'stopped'")
    f.stop()
    n_done = consistent(f.db_path, "full disk")
    # A coordinator on a copy of it (with room) resumes the sweep.
    g = Cluster(name="disk-resume")
    for ext in ("", "-wal"):
        if os.path.exists(f.db_path + ext):
            shutil.copy(f.db_path + ext, g.db_path + ext)
    g.start_coordinator()
    check(g.wait_log("coordinator", "sweep resumed from the journal", sweep=big, timeout=10) is not None,
          "the sweep was not resumed from the full disk's journal")
    g.start_worker(slots=8, name="dry", data="/nonexistent", extra=["--dry-run", "--dataset", "mnist"])
    more = g.wait_for(lambda: g.results(big)["sweep"]["tasks_done"] > n_done + 30, timeout=30,
                      what="the resumed sweep making progress")
    check(bool(more), "the resumed sweep made no progress")
    g.stop()
    consistent(g.db_path, "resumed")
    # Cancelling it leaves a consistent journal too: the tasks that were
    # leased at the cancel are cancelled, like their attempts.
    g.start_coordinator()
    g.start_worker(slots=2, name="staller", extra=["--dataset", "mnist", "--test-stall-epoch", "1"])
    sid = g.worker_id("staller")
    g.wait_for(lambda: g.q("SELECT COUNT(*) FROM attempts WHERE worker = ? AND outcome IS NULL",
                           sid)[0][0] == 2, timeout=30, what="two leases held by the staller")
    g.cli("cancel", str(big))
    g.stop()
    consistent(g.db_path, "after cancel")
    print(f"FIGURES disk-full: exit={rc} done_tasks_in_journal={n_done}")
finish()
