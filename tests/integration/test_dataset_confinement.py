"""idx: datasets through real sockets (issue 11, findings 4, 5 and 10).

The coordinator runs with --data-roots ROOT.  Every attack goes through the
CLI or through fetch-probe, a hostile worker speaking the wire protocol:

1. refused at submit, each with an error naming the spec file, line 2, the
   field `dataset` and the path: a relative path, `..` out of the roots, a
   directory outside the roots, /etc, a symbolic link to a directory
   outside, a dataset whose file is a symbolic link (to /etc/passwd, to a
   valid IDX file outside), a file that is not IDX, a FIFO (the coordinator
   must not hang on it), a missing directory;
2. a worker that registered first advertising the dataset with a made-up
   fingerprint sets nothing: the sweep's fingerprint is the coordinator's
   own (journal), the worker gets no task, and status says why the sweep
   waits;
3. FetchChunk from that worker: served only for the sweep's dataset with its
   fingerprint, and only the validated file's bytes; refused for another
   fingerprint, another dataset, /etc, a file of another name, an offset
   past the end; a file swapped for a symbolic link to /etc/passwd after
   validation is never read (the validated, still-open file is), and a new
   submission refuses the link; a file changed in place is refused until it
   is fingerprinted again;
4. a genuine worker still fetches the dataset and runs the sweeps;
5. aliases of the directory (trailing slash, //, /../, a link inside the
   root) are one dataset: one name, no new fingerprint job, one fetch;
6. a dataset rewritten between two submissions is fingerprinted again (the
   cache is keyed on the files' identity), and the older sweep says it
   cannot be served any more.
No chunk the probe ever received holds a byte of a file outside the roots.
"""
import gzip
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import time

from harness import CLI, Cluster, check, finish, on_cleanup, tail

PROBE = os.environ["HPT_FETCH_PROBE"]
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte"]
SIDE = 8


def write_idx(d, seed, n_train=300, n_test=60):
    """A small 4-class dataset of SIDE x SIDE images (raw IDX files)."""
    rng = random.Random(seed)
    os.makedirs(d, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = bytes(rng.randrange(4) for _ in range(n))
        img = bytes(min(255, rng.randrange(100) + 40 * labels[i // (SIDE * SIDE)])
                    for i in range(n * SIDE * SIDE))
        with open(os.path.join(d, f"{prefix}-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, SIDE, SIDE) + img)
        with open(os.path.join(d, f"{prefix}-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + labels)


def fingerprint(d):
    """hptune's dataset fingerprint: SHA-256 over the four files' SHA-256s."""
    h = hashlib.sha256()
    for n in FILES:
        p = os.path.join(d, n)
        data = gzip.open(p + ".gz").read() if os.path.exists(p + ".gz") else open(p, "rb").read()
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


class Probe:
    """fetch-probe, one command at a time."""

    def __init__(self, addr, logdir):
        self.err = open(os.path.join(logdir, "fetch-probe.log"), "ab")
        self.p = subprocess.Popen([PROBE, addr], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True, bufsize=1)
        on_cleanup(lambda: self.p.poll() is None and self.p.kill())
        self.chunks = []   # every chunk with data: (file, offset, bytes)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise RuntimeError(f"fetch-probe exited ({self.p.poll()}) on {line!r}")
        return json.loads(out)

    def fetch(self, name, fp, file, off=0, size=64):
        r = self.cmd(f"fetch {name} {fp} {file} {off} {size}")
        if r.get("ev") == "chunk" and r["len"]:
            self.chunks.append((file, r["offset"], bytes.fromhex(r["hex"])))
        return r

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


c = Cluster(name="confine")
root = os.path.join(c.dir, "root")
outside = os.path.join(c.dir, "outside")
write_idx(os.path.join(root, "good"), 1)
write_idx(os.path.join(outside, "ds"), 2)
# A dataset whose training images are a link to a valid IDX file outside.
write_idx(os.path.join(root, "linkfile"), 3)
os.remove(os.path.join(root, "linkfile", FILES[0]))
os.symlink(os.path.join(outside, "ds", FILES[0]), os.path.join(root, "linkfile", FILES[0]))
# ... and one whose training labels are a link to /etc/passwd.
write_idx(os.path.join(root, "linkpasswd"), 4)
os.remove(os.path.join(root, "linkpasswd", FILES[1]))
os.symlink("/etc/passwd", os.path.join(root, "linkpasswd", FILES[1]))
# A link inside the root to a directory outside it.
os.symlink(os.path.join(outside, "ds"), os.path.join(root, "linkdir"))
# A file that is not IDX, and a FIFO.
write_idx(os.path.join(root, "nonidx"), 5)
with open(os.path.join(root, "nonidx", FILES[3]), "wb") as f:
    f.write(b"root:x:0:0:root:/root:/bin/bash\n")
write_idx(os.path.join(root, "fifo"), 6)
os.remove(os.path.join(root, "fifo", FILES[1]))
os.mkfifo(os.path.join(root, "fifo", FILES[1]))
# A link inside the root to a directory inside it: an alias.
os.symlink(os.path.join(root, "good"), os.path.join(root, "alias"))
write_idx(os.path.join(root, "good2"), 7)
write_idx(os.path.join(root, "good3"), 9, n_train=3000)

c.start_coordinator("--data-roots", root)
ROOT = os.path.realpath(root)
CANON = "idx:" + os.path.join(ROOT, "good")
FP = fingerprint(os.path.join(root, "good"))
with open("/etc/passwd", "rb") as f:
    PASSWD = f.read()
OUTSIDE_BYTES = [open(os.path.join(outside, "ds", n), "rb").read() for n in FILES]

SPEC = ("name: {name}\ndataset: {ds}\nmethod: grid\ncv: {{folds: 2, seed: 3}}\nrefit: false\n"
        "parameters:\n  units: {{values: [4, 6]}}\n  epochs: {{value: 1}}\n"
        "  batch_size: {{value: 32}}\n")


def launch(ds, name="t"):
    """Submit a spec with this dataset: (CompletedProcess, spec path, sweep id or None)."""
    path = os.path.join(c.dir, f"spec-{time.time_ns()}.yaml")
    with open(path, "w") as f:
        f.write(SPEC.format(name=name, ds=ds))
    r = c.cli("launch", path, check_rc=False, timeout=60)
    sid = int(r.stdout.split()[0]) if r.returncode == 0 and r.stdout.strip() else None
    return r, path, sid


def fingerprinted(name):
    return len(c.log_events("coordinator", "dataset fingerprinted", dataset=name))


# --- 1. refused at submit ------------------------------------------------------
cases = [
    ("relative", "idx:root/good", "root/good", "is a relative path"),
    ("dotdot", f"idx:{root}/good/../../outside/ds", f"{root}/good/../../outside/ds",
     "outside the coordinator's data roots"),
    ("outside", f"idx:{outside}/ds", f"{outside}/ds", "outside the coordinator's data roots"),
    ("etc", "idx:/etc", "/etc", "outside the coordinator's data roots"),
    ("linkdir", f"idx:{root}/linkdir", f"{root}/linkdir", "outside the coordinator's data roots"),
    ("linkfile", f"idx:{root}/linkfile", f"{FILES[0]}", "is a symbolic link"),
    ("linkpasswd", f"idx:{root}/linkpasswd", f"{FILES[1]}", "is a symbolic link"),
    ("nonidx", f"idx:{root}/nonidx", f"{FILES[3]}", "bad magic"),
    ("fifo", f"idx:{root}/fifo", f"{FILES[1]}", "a FIFO, not a regular file"),
    ("missing", f"idx:{root}/nope", f"{root}/nope", "no such directory"),
]
for what, ds, path_part, phrase in cases:
    t0 = time.time()
    r, spec_path, sid = launch(ds, name=what)
    took = time.time() - t0
    check(r.returncode != 0 and sid is None, f"{what}: {ds} was accepted: {r.stdout}")
    check(f"{spec_path}:2:10: dataset: " in r.stderr,
          f"{what}: the error does not name the file, line and field: {r.stderr!r}")
    check(path_part in r.stderr and phrase in r.stderr,
          f"{what}: the error does not say {phrase!r} about {path_part}: {r.stderr!r}")
    check(took < 20, f"{what}: the refusal took {took:.1f} s")
check(c.cli("status", check_rc=False).returncode == 0, "the coordinator stopped answering")
check(c.q("SELECT COUNT(*) FROM sweeps")[0][0] == 0, "a refused spec was journaled")
check(fingerprinted(f"idx:{root}/nonidx") == 0, "a dataset outside the rules was fingerprinted")

# --- 2. a worker advertising a made-up fingerprint first ------------------------
probe = Probe(c.addr, c.dir)
FAKE = "0" * 64
check(probe.cmd(f"hello evil-worker {CANON} {FAKE}")["ev"] == "welcome", "the probe got no Welcome")
r, _, s1 = launch(f"idx:{root}/good", name="good")
check(s1 is not None, f"the good dataset was refused: {r.stderr}")
row = c.q("SELECT fingerprint, dataset FROM sweeps WHERE id = ?", s1)
check(row == [(FP, CANON)], f"journal: sweep {s1} has {row}, want ({FP}, {CANON})")
time.sleep(1.0)   # dispatch passes with the probe connected
row = c.q("SELECT fingerprint FROM sweeps WHERE id = ?", s1)
check(row == [(FP,)], f"the sweep's fingerprint changed to {row}")
check(c.wait_log("coordinator", "worker's dataset fingerprint differs from the sweep's; "
                 "no tasks for it", worker="evil-worker", timeout=10) is not None,
      "the coordinator did not report the probe's fingerprint mismatch")
check(c.q("SELECT COUNT(*) FROM attempts")[0][0] == 0, "the probe was given a task")
check(not c.log_events("coordinator", "dataset fingerprint adopted from a worker"),
      "a worker's fingerprint was adopted")
st = c.cli("status").stdout
want = f"no connected worker has dataset {CANON} with fingerprint {FP[:12]}"
check(want in st and "1 worker holds another copy" in st,
      f"status does not say why sweep {s1} waits:\n{st}")
det = c.cli("status", str(s1), check_rc=False).stdout
check("waiting" in det and want in det, f"status {s1} has no waiting line:\n{det}")

# --- 3. what the probe can fetch -----------------------------------------------
good = [open(os.path.join(root, "good", n), "rb").read() for n in FILES]
r = probe.fetch(CANON, FP, FILES[0], 0, 64)
check(r.get("error") == "" and bytes.fromhex(r.get("hex", "")) == good[0][:64],
      f"the sweep's own dataset was not served: {r}")
for name, fp, file, off, why in [
        (CANON, FAKE, FILES[0], 0, "not the dataset of a queued or running sweep"),
        (f"idx:{outside}/ds", FP, FILES[0], 0, "not the dataset of a queued or running sweep"),
        ("idx:/etc", FP, FILES[0], 0, "not the dataset of a queued or running sweep"),
        (CANON, FP, FILES[1] + ".gz", 0, "has no file"),
        (CANON, FP, FILES[0], 10 ** 9, "past the end of the file")]:
    r = probe.fetch(name, fp, file, off, 64)
    check(r.get("ev") == "chunk" and why in r.get("error", "") and r.get("len") == 0,
          f"fetch {name} {file} @{off}: {r}, want a refusal saying {why!r}")
for bad in ("passwd", "../../../../etc/passwd", "/etc/passwd"):
    r = probe.fetch(CANON, FP, bad, 0, 64)
    check(r.get("ev") == "none" or (r.get("error") and r.get("len") == 0),
          f"fetch of file {bad!r} was answered with data: {r}")

# A file swapped for a link to /etc/passwd after validation: the coordinator
# reads only the validated file it holds open, never the link's target (it
# serves that file's bytes, or refuses when the rename changed its ctime).
victim = os.path.join(root, "good", FILES[1])
saved = os.path.join(c.dir, "saved-labels")
os.rename(victim, saved)
os.symlink("/etc/passwd", victim)
r = probe.fetch(CANON, FP, FILES[1], 0, 64)
check((r.get("error") == "" and bytes.fromhex(r.get("hex", "")) == good[1][:64]) or
      (r.get("len") == 0 and "changed since it was validated" in r.get("error", "")),
      f"after the swap: {r}")
r, _, sid = launch(f"idx:{root}/good", name="swapped")
check(sid is None and "is a symbolic link" in r.stderr,
      f"a submission after the swap was not refused for the link: {r.stdout}{r.stderr}")
r = probe.fetch(CANON, FP, FILES[1], 0, 64)
check(r.get("len") == 0 and "no usable copy" in r.get("error", ""),
      f"the swapped dataset is still served: {r}")
os.remove(victim)
os.rename(saved, victim)
# A file changed in place: refused until fingerprinted again.
r, _, s1b = launch(f"idx:{root}/good", name="restored")
check(s1b is not None, f"the restored dataset was refused: {r.stderr}")
with open(victim, "ab") as f:
    f.write(b"\0")
r = probe.fetch(CANON, FP, FILES[1], 0, 64)
check(r.get("len") == 0 and "changed since it was validated" in r.get("error", ""),
      f"a file changed in place was served: {r}")
with open(victim, "wb") as f:
    f.write(good[1])
r, _, s1c = launch(f"idx:{root}/good", name="rewritten")
check(s1c is not None, f"the rewritten dataset was refused: {r.stderr}")
check(c.q("SELECT COUNT(DISTINCT fingerprint) FROM sweeps WHERE dataset = ?", CANON) == [(1,)],
      "the same bytes gave another fingerprint")
jobs = fingerprinted(CANON)
check(jobs == 3, f"{jobs} fingerprint jobs for {CANON}, want 3 (first, restored, rewritten)")

# --- 4. a genuine worker fetches it and runs the sweeps ------------------------
w = c.start_worker(slots=2, name="genuine", data=os.path.join(c.dir, "genuine-data"))
for sid in (s1, s1b, s1c):
    check(c.wait_sweep(sid, timeout=120) == "done", f"sweep {sid} did not finish")

# --- 5. aliases: one dataset ------------------------------------------------------
alias_ids = []
for ds in (f"idx:{root}/good/", f"idx:{root}//good", f"idx:{root}/good/../good",
           f"idx:{root}/alias", f"idx:{ROOT}/./good"):
    r, _, sid = launch(ds, name="alias")
    check(sid is not None, f"alias {ds} was refused: {r.stderr}")
    if sid:
        alias_ids.append(sid)
for sid in alias_ids:
    check(c.wait_sweep(sid, timeout=120) == "done", f"alias sweep {sid} did not finish")
rows = c.q("SELECT DISTINCT dataset, fingerprint FROM sweeps WHERE name = 'alias'")
check(rows == [(CANON, FP)], f"aliases are not one dataset: {rows}")
check(fingerprinted(CANON) == jobs, f"aliases ran {fingerprinted(CANON) - jobs} more "
      "fingerprint jobs")
st = c.cli("status").stdout
check(all(ln.split()[4] == CANON for ln in st.splitlines()[1:] if " alias " in ln),
      f"status shows an alias name:\n{st}")
fetches = c.log_events("genuine", "fetch started")
check(len(fetches) == 1 and fetches[0]["dataset"] == CANON,
      f"the worker fetched {len(fetches)} times: {fetches}")
loaded = c.log_events("genuine", "dataset loaded", fetched="true")
check([e["dataset"] for e in loaded] == [CANON], f"the worker loaded {loaded}")

# Aliases submitted at the same time share one fingerprint job.
g3 = os.path.join(root, "good3")
procs = []
for k, ds in enumerate((f"idx:{g3}", f"idx:{g3}/", f"idx:{root}//good3", f"idx:{g3}/../good3")):
    path = os.path.join(c.dir, f"spec-g3-{k}.yaml")
    with open(path, "w") as f:
        f.write(SPEC.format(name="g3", ds=ds))
    procs.append(subprocess.Popen([CLI, "launch", path], env=c.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True))
outs = [p.communicate(timeout=60) for p in procs]
check(all(p.returncode == 0 for p in procs), f"concurrent aliases refused: {outs}")
rows = c.q("SELECT DISTINCT dataset FROM sweeps WHERE name = 'g3'")
check(rows == [("idx:" + os.path.join(ROOT, "good3"),)], f"concurrent aliases: {rows}")
check(fingerprinted("idx:" + os.path.join(ROOT, "good3")) == 1,
      f"{fingerprinted('idx:' + os.path.join(ROOT, 'good3'))} fingerprint jobs for 4 "
      "concurrent aliases")

# --- 6. a rewritten dataset is fingerprinted again --------------------------------
# (Without the genuine worker, which could fetch the first copy in between.)
w.terminate()
check(w.wait(30) == 0, f"the genuine worker exited {w.returncode}")
g2 = os.path.join(root, "good2")
r, _, s2a = launch(f"idx:{g2}", name="g2a")
fp_a = fingerprint(g2)
time.sleep(0.02)   # a new mtime even on a coarse clock
write_idx(g2, 8)
fp_b = fingerprint(g2)
r, _, s2b = launch(f"idx:{g2}", name="g2b")
rows = c.q("SELECT fingerprint FROM sweeps WHERE id IN (?, ?) ORDER BY id", s2a, s2b)
check(rows == [(fp_a,), (fp_b,)] and fp_a != fp_b,
      f"the rewritten dataset kept its old fingerprint: {rows} (files: {fp_a}, {fp_b})")
check(fingerprinted(f"idx:{ROOT}/good2") == 2, "the rewritten dataset was not fingerprinted again")
det = c.cli("status", str(s2a), check_rc=False).stdout
check(f"now has fingerprint {fp_b[:12]}, the sweep was submitted with {fp_a[:12]}" in det,
      f"the older sweep does not say why it waits:\n{det}")
for sid in (s2a, s2b):
    c.cli("cancel", str(sid))

# --- nothing from outside the roots ever went out ----------------------------------
for file, off, data in probe.chunks:
    i = FILES.index(file)
    check(data == good[i][off:off + len(data)], f"chunk {file}@{off} is not the validated file's")
    check(data not in PASSWD and all(data not in b for b in OUTSIDE_BYTES),
          f"chunk {file}@{off} holds bytes of a file outside the roots")
check(not any(".." in e.get("file", "") for e in c.log_events("coordinator",
                                                              "serving dataset file")),
      "the coordinator served a path with ..")
probe.close()
c.stop()
finish()
