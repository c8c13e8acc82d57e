"""Two workers sharing one --data-dir (the quick start's layout; issue 11,
finding 9), the dataset only on the coordinator.

Before this was fixed both fetched the offered dataset at once, clobbered
each other's .partial files, both gave up for ten minutes, and the sweep sat
queued with `queued 0/N` and no hint why.  Now:

1. a sweep launched with `launch --wait` before any worker is connected: its
   progress line and `status` say no worker is connected;
2. two workers on one empty data dir (fetching slowly, so the transfers
   overlap): one fetches under the directory's lock, the other says it waits
   for it, and while the transfer runs `status` says a worker is fetching the
   dataset; then the waiting worker takes the finished copy (verified, not
   fetched again);
3. the sweep finishes, both workers hold the dataset, neither gave up or
   failed a verification, the files are the coordinator's, no partial file
   or second copy is left, and `launch --wait` ended 0 having shown why it
   waited.
Rounds 2 and 3 run ROUNDS times, with a fresh data dir and sweep each time,
once at full speed (the workers may then not overlap at all).
"""
import os
import subprocess
import tempfile
import time

from harness import CLI, DATA, Cluster, check, finish, need_data, tail

need_data("mnist-10k")

ROUNDS = [("slow", ["--fetch-chunk-kb", "32", "--fetch-rate-kib-s", "640"]),
          ("slow2", ["--fetch-chunk-kb", "32", "--fetch-rate-kib-s", "640"]),
          ("fast", [])]
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
SPEC = """
name: shared-{n}
dataset: mnist-10k
method: grid
cv: {{folds: 2, seed: 5}}
refit: false
parameters:
  units: {{values: [8, 9]}}
  epochs: {{value: 1}}
  batch_size: {{value: 256}}
"""

c = Cluster(name="shared")
c.start_coordinator()
tmp = tempfile.mkdtemp(prefix="hpt-shared-", dir=c.dir)


def status_until(pred, timeout=60, what="a status line"):
    t0 = time.time()
    last = ""
    while time.time() - t0 < timeout:
        last = c.cli("status", check_rc=False).stdout
        if pred(last):
            return last
        time.sleep(0.05)
    check(False, f"status never showed {what}:\n{last}")
    return last


for n, (label, extra) in enumerate(ROUNDS, 1):
    # --- 1. launch --wait with no worker -------------------------------------
    spec = os.path.join(c.dir, f"spec-{n}.yaml")
    with open(spec, "w") as f:
        f.write(SPEC.format(n=n))
    out_path = os.path.join(c.dir, f"launch-{n}.out")
    out = open(out_path, "w")
    launch = subprocess.Popen([CLI, "launch", spec, "--wait"], stdout=out,
                              stderr=subprocess.STDOUT, env=c.env, text=True)
    sweep = None
    st = status_until(lambda s: f"shared-{n}" in s and "no worker is connected" in s,
                      what=f"sweep shared-{n} waiting for a worker")
    for ln in st.splitlines():
        if f"shared-{n}" in ln:
            sweep = int(ln.split()[0])
    t0 = time.time()
    while time.time() - t0 < 30 and "waiting: no worker is connected" not in open(out_path).read():
        time.sleep(0.05)
    check("waiting: no worker is connected" in open(out_path).read(),
          f"round {n}: launch --wait did not say why it waits:\n{open(out_path).read()}")

    # --- 2. two workers, one data dir ----------------------------------------
    shared = os.path.join(tmp, f"data-{n}")
    os.makedirs(shared)
    names = [f"{label}-a", f"{label}-b"]
    procs = [c.start_worker(slots=1, name=w, data=shared, extra=extra) for w in names]
    WAIT = "another process is fetching this dataset into the same directory; waiting for it"
    if extra:
        status_until(lambda s: "1 worker is fetching it" in s,
                     what=f"round {n}: '1 worker is fetching it'")

    # --- 3. the sweep finishes; both hold the dataset --------------------------
    check(c.wait_sweep(sweep, timeout=180) == "done", f"round {n}: sweep {sweep} did not finish")
    if extra:   # the transfers overlapped: one worker waited for the other's
        waited = [w for w in names if c.log_events(w, WAIT, dataset="mnist-10k")]
        check(len(waited) == 1, f"round {n}: {len(waited)} workers waited for the other's fetch:"
              + "".join("\n" + tail(c.log_path(w), 1500) for w in names))
    try:
        rc = launch.wait(60)
    except subprocess.TimeoutExpired:
        launch.kill()
        rc = None
    out.close()
    check(rc == 0, f"round {n}: launch --wait exited {rc}:\n{open(out_path).read()}")
    for w in names:
        check(c.wait_log(w, "dataset loaded", timeout=30, dataset="mnist-10k", fetched="true")
              is not None, f"round {n}: {w} does not hold the dataset:\n" + tail(c.log_path(w)))
        for bad in ("fetched dataset failed verification; fetching it again",
                    "fetched dataset failed verification again; giving up", "offer refused",
                    "fetch refused by the coordinator", "cannot write the dataset"):
            check(not c.log_events(w, bad), f"round {n}: {w} logged {bad!r}:\n" +
                  tail(c.log_path(w)))
    started = [e for w in names for e in c.log_events(w, "fetch started", dataset="mnist-10k")]
    fetched = [int(e["fetched"]) for w in names
               for e in c.log_events(w, "dataset fetched", dataset="mnist-10k")]
    total = sum(os.path.getsize(os.path.join(DATA, "mnist-10k", f)) for f in FILES)
    check(len(fetched) == 2 and sorted(fetched)[0] == 0 and sorted(fetched)[1] == total,
          f"round {n}: bytes fetched by the two workers {fetched}, want one full transfer "
          f"({total}) and one verified from disk; fetch started: {started}")
    d = os.path.join(shared, "mnist-10k")
    left = sorted(os.listdir(d))
    check(left == sorted(FILES + [".fetch.lock"]), f"round {n}: the data dir holds {left}")
    for f in FILES:
        with open(os.path.join(d, f), "rb") as x, open(os.path.join(DATA, "mnist-10k", f),
                                                      "rb") as y:
            check(x.read() == y.read(), f"round {n}: {f} differs from the coordinator's")
    ran = c.q("SELECT COUNT(*) FROM attempts a JOIN tasks t ON t.id = a.task "
              "WHERE t.sweep = ? AND a.outcome = 'done'", sweep)[0][0]
    check(ran == 4, f"round {n}: {ran} of 4 tasks done")
    for p in procs:
        p.terminate()
        check(p.wait(30) == 0, f"round {n}: a worker exited {p.returncode}")
    print(f"round {n} ({label}): fetched {fetched}", flush=True)

c.stop()
finish()
