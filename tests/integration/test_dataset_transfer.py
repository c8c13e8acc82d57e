"""Dataset transfer: a worker that lacks a sweep's dataset fetches it from the
coordinator (docs/protocol.md, "Dataset transfer").

1. fetch: a worker with an empty data dir is offered mnist-10k, fetches it,
   verifies the fingerprint, announces it and runs the sweep; its files are
   byte for byte the coordinator's and no .partial file is left.  A
   --no-fetch worker ignores the offers (and says so once).
2. resume: a worker fetching slowly (--fetch-rate-kib-s) is killed (SIGKILL)
   mid-transfer; restarted on the same data dir it continues from the bytes
   on disk: its log says on_disk=<partial size> and the coordinator serves
   the file from exactly that offset.
3. refusal: the sweep of a slow transfer is cancelled; the coordinator
   refuses the next requests (the dataset is no queued or running sweep's),
   logs it with the peer, and the worker says the coordinator refused.
4. corrupt final file: a worker whose copy of mnist-10k does not load (a byte
   flipped in a .gz file of the right size) is offered it, finds the
   complete files on disk, fails verification, deletes them and fetches
   again.  A worker whose data dir holds a file of another size is not
   allowed to overwrite it: it refuses the offer with a clear error.
5. corrupt partial file (fingerprint): with a coordinator serving raw
   (uncompressed) IDX files, a worker is killed mid-transfer, a byte of its
   partial file is changed, and the restarted worker resumes, finds the
   wrong fingerprint, and fetches the dataset again.
6. fast limits: workers with --fetch-rate-kib-s at and above 2097152 (more
   bytes/s than an int holds) up to the documented maximum 10485760 start,
   log the rate in bytes/s exactly and fetch.
"""
import gzip
import os
import shutil
import signal
import tempfile
import time

from harness import DATA, Cluster, check, finish, need_data, tail

need_data("mnist-10k")

FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte"]
SPEC = """
name: transfer-{n}
dataset: mnist-10k
method: grid
cv: {{folds: 2, seed: 5}}
refit: false
parameters:
  units: {{values: [8, 9]}}
  epochs: {{value: 1}}
  batch_size: {{value: 128}}
"""
SLOW = ["--fetch-chunk-kb", "16", "--fetch-rate-kib-s", "256"]
tmp = tempfile.mkdtemp(prefix="hpt-transfer-")


def data_dir(name):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    return d


def same_files(a, b, names):
    for n in names:
        with open(os.path.join(a, n), "rb") as x, open(os.path.join(b, n), "rb") as y:
            if x.read() != y.read():
                return False
    return True


def partial(path):
    """The partial file of final file `path`: PATH.partial.PID.RAND (one per
    writing process, wrk_fetch.c), or PATH.partial; None when there is none."""
    d, base = os.path.split(path)
    try:
        got = [f for f in os.listdir(d)
               if f == base + ".partial" or f.startswith(base + ".partial.")]
    except OSError:
        return None
    return os.path.join(d, sorted(got)[0]) if got else None


def wait_size(final, at_least, timeout=60):
    """Wait until final's partial file has at least at_least bytes; return
    its path (None on timeout)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        p = partial(final)
        try:
            if p and os.path.getsize(p) >= at_least:
                return p
        except OSError:
            pass
        time.sleep(0.01)
    return None


def stop(p):
    p.send_signal(signal.SIGTERM)
    check(p.wait(30) == 0, f"worker {p.pid} exited {p.returncode} after SIGTERM")


GZ = [f + ".gz" for f in FILES]
c = Cluster(name="transfer")
c.start_coordinator()

# --- 1. fetch into an empty data dir, then run the sweep --------------------
d1 = data_dir("fresh")
d0 = data_dir("nofetch")
w1 = c.start_worker(slots=2, name="fresh", data=d1)
w0 = c.start_worker(slots=2, name="nofetch", data=d0, extra=["--no-fetch"])
wid1 = c.worker_id("fresh")
s1 = c.launch(SPEC.format(n=1))
check(c.wait_sweep(s1, timeout=120) == "done", "sweep 1 did not finish on the fetching worker")
got = c.log_events("fresh", "dataset fetched", dataset="mnist-10k")
check(len(got) == 1, "fresh: no 'dataset fetched' line:\n" + tail(c.log_path("fresh")))
if got:
    check(got[0]["on_disk"] == "0" and got[0]["fetched"] == got[0]["bytes"],
          f"fresh fetched {got[0]['fetched']} of {got[0]['bytes']}, {got[0]['on_disk']} on disk")
check(same_files(os.path.join(d1, "mnist-10k"), os.path.join(DATA, "mnist-10k"), GZ),
      "the fetched files differ from the coordinator's")
check(not [f for f in os.listdir(os.path.join(d1, "mnist-10k")) if ".partial" in f],
      "a .partial file is left after the fetch")
check(c.wait_log("coordinator", "worker datasets updated", worker=wid1, datasets="mnist-10k",
                 timeout=5) is not None, "the coordinator did not learn of the fetched dataset")
done_by = c.q("SELECT COUNT(*) FROM attempts WHERE worker = ? AND outcome = 'done'", wid1)[0][0]
check(done_by == 4, f"the fetching worker ran {done_by} of the 4 tasks")
ign = c.log_events("nofetch", "dataset offer ignored", dataset="mnist-10k")
check(len(ign) == 1 and ign[0].get("reason") == "--no-fetch",
      "the --no-fetch worker did not say it ignored the offer (once):\n" +
      tail(c.log_path("nofetch")))
check(os.listdir(d0) == [], "the --no-fetch worker wrote into its data dir")
stop(w1)
stop(w0)

# --- 2. kill mid-transfer, restart: resume from the partial file ------------
d2 = data_dir("resume")
final2 = os.path.join(d2, "mnist-10k", "train-images-idx3-ubyte.gz")
slow = c.start_worker(slots=1, name="slow", data=d2, extra=SLOW)
s2 = c.launch(SPEC.format(n=2))
part = wait_size(final2, 200 * 1024)
check(part, "the slow worker wrote no partial file")
c.kill(slow)
have = os.path.getsize(part)
check(0 < have < os.path.getsize(os.path.join(DATA, "mnist-10k", GZ[0])),
      f"partial file of {have} bytes")
check(not os.path.exists(os.path.join(d2, "mnist-10k", GZ[0])), "a final file after the kill")
again = c.start_worker(slots=1, name="again", data=d2)
wid2 = c.worker_id("again")
check(c.wait_sweep(s2, timeout=120) == "done", "sweep 2 did not finish after the restart")
st = c.log_events("again", "fetch started", dataset="mnist-10k")
check(len(st) == 1 and st[0]["on_disk"] == str(have),
      f"the restarted worker did not resume from {have} bytes: {st}")
srv = c.log_events("coordinator", "serving dataset file", worker=wid2, file=GZ[0])
check(len(srv) >= 1 and srv[0]["offset"] == str(have),
      f"the coordinator did not serve {GZ[0]} from offset {have}: {srv}")
fin = c.log_events("again", "dataset fetched", dataset="mnist-10k")
check(len(fin) == 1 and int(fin[0]["fetched"]) == int(fin[0]["bytes"]) - have,
      f"the restarted worker fetched more than the missing bytes: {fin}")
check(same_files(os.path.join(d2, "mnist-10k"), os.path.join(DATA, "mnist-10k"), GZ),
      "the resumed files differ from the coordinator's")
print(f"FIGURES resume: partial_bytes={have} total_bytes={fin[0]['bytes'] if fin else '?'}")
stop(again)

# --- 3. the coordinator refuses a dataset that is no runnable sweep's --------
d3 = data_dir("refused")
final3 = os.path.join(d3, "mnist-10k", "train-images-idx3-ubyte.gz")
w3 = c.start_worker(slots=1, name="refused", data=d3, extra=SLOW)
wid3 = c.worker_id("refused")
s3 = c.launch(SPEC.format(n=3))
check(wait_size(final3, 64 * 1024), "the third worker wrote no partial file")
c.cli("cancel", str(s3))
ref = c.wait_log("coordinator", "dataset request refused", worker=wid3, timeout=30)
check(ref is not None, "the coordinator did not refuse a request for a cancelled sweep's data")
if ref:
    check(ref.get("peer", "") != "" and "not the dataset of a queued or running sweep"
          in ref.get("reason", ""), f"refusal line without peer or reason: {ref}")
check(c.wait_log("refused", "fetch refused by the coordinator", dataset="mnist-10k", timeout=30)
      is not None, "the worker did not report the refusal:\n" + tail(c.log_path("refused")))
check(not os.path.exists(os.path.join(d3, "mnist-10k", GZ[0])), "a refused transfer completed")
stop(w3)

# --- 4. a corrupted final file is refetched; another copy is not overwritten -
d4 = data_dir("corrupt")
shutil.copytree(os.path.join(DATA, "mnist-10k"), os.path.join(d4, "mnist-10k"))
victim = os.path.join(d4, "mnist-10k", GZ[0])
with open(victim, "r+b") as f:
    f.seek(os.path.getsize(victim) // 2)
    b = f.read(1)
    f.seek(-1, os.SEEK_CUR)
    f.write(bytes([b[0] ^ 0xFF]))
d5 = data_dir("other")
os.makedirs(os.path.join(d5, "mnist-10k"))
other = os.path.join(d5, "mnist-10k", GZ[1])
with open(other, "wb") as f:
    f.write(b"somebody else's file")
w4 = c.start_worker(slots=2, name="corrupt", data=d4)
w5 = c.start_worker(slots=1, name="other", data=d5)
s4 = c.launch(SPEC.format(n=4))
check(c.wait_sweep(s4, timeout=120) == "done", "sweep 4 did not finish")
check(c.log_events("corrupt", "dataset unusable, skipped", dataset="mnist-10k") != [],
      "the corrupted copy loaded at start-up")
bad = c.log_events("corrupt", "fetched dataset failed verification; fetching it again",
                   dataset="mnist-10k")
check(len(bad) == 1, "the corrupted final file was not caught by verification:\n" +
      tail(c.log_path("corrupt")))
st4 = c.log_events("corrupt", "fetch started", dataset="mnist-10k")
check(len(st4) == 1 and st4[0]["on_disk"] == st4[0]["bytes"],
      f"the complete (corrupted) files on disk were not taken as fetched: {st4}")
check(len(c.log_events("corrupt", "dataset fetched", dataset="mnist-10k")) == 1,
      "the refetch did not succeed")
check(same_files(os.path.join(d4, "mnist-10k"), os.path.join(DATA, "mnist-10k"), GZ),
      "the refetched files differ from the coordinator's")
refused = c.wait_log("other", "offer refused", dataset="mnist-10k", timeout=10)
check(refused is not None and "not replacing it" in refused.get("error", ""),
      "the worker with another file did not refuse the offer clearly:\n" +
      tail(c.log_path("other")))
with open(other, "rb") as f:
    check(f.read() == b"somebody else's file", "another copy's file was overwritten")
c.stop()

# --- 5. a corrupted partial file is caught by the fingerprint ---------------
raw = os.path.join(tmp, "raw")
os.makedirs(os.path.join(raw, "mnist-10k"))
for n in FILES:
    with gzip.open(os.path.join(DATA, "mnist-10k", n + ".gz")) as src, \
            open(os.path.join(raw, "mnist-10k", n), "wb") as dst:
        shutil.copyfileobj(src, dst)
r = Cluster(name="transfer-raw")
r.start_coordinator("--data-dir", raw)
d6 = data_dir("rawfetch")
final6 = os.path.join(d6, "mnist-10k", "train-images-idx3-ubyte")
w6 = r.start_worker(slots=1, name="raw1", data=d6,
                    extra=["--fetch-chunk-kb", "64", "--fetch-rate-kib-s", "2048"])
s5 = r.launch(SPEC.format(n=5))
part6 = wait_size(final6, 1 << 20)
check(part6, "the raw worker wrote no partial file")
r.kill(w6)
have6 = os.path.getsize(part6)
with open(part6, "r+b") as f:       # change pixels well inside the image data
    f.seek(500000)
    f.write(b"\x7f" * 16)
w7 = r.start_worker(slots=2, name="raw2", data=d6)
check(r.wait_sweep(s5, timeout=120) == "done", "sweep 5 did not finish")
st6 = r.log_events("raw2", "fetch started", dataset="mnist-10k")
check(len(st6) == 1 and st6[0]["on_disk"] == str(have6),
      f"the raw worker did not resume from {have6} bytes: {st6}")
bad6 = r.log_events("raw2", "fetched dataset failed verification; fetching it again",
                    dataset="mnist-10k")
check(len(bad6) == 1 and "fingerprint" in bad6[0].get("error", ""),
      "the corrupted partial file was not caught by the fingerprint:\n" + tail(r.log_path("raw2")))
fin6 = r.log_events("raw2", "dataset fetched", dataset="mnist-10k")
check(len(fin6) == 1 and fin6[0]["on_disk"] == "0" and fin6[0]["fetched"] == fin6[0]["bytes"],
      f"the refetch after the fingerprint failure is not a full fetch: {fin6}")
check(same_files(os.path.join(d6, "mnist-10k"), os.path.join(raw, "mnist-10k"), FILES),
      "the refetched raw files differ from the coordinator's")
r.stop()

# --- 6. the whole documented --fetch-rate-kib-s range (0..10485760) ---------
# From 2097152 KiB/s on the rate is more bytes/s than an int holds (4194304
# KiB/s is 2^32 bytes/s): each worker must start, log its rate exactly and
# fetch.
f6 = Cluster(name="transfer-fast")
f6.start_coordinator()
fast = {}
for kib in (2097151, 2097152, 4194304, 10485760):
    name = f"fast{kib}"
    fast[name] = (kib, f6.start_worker(slots=1, name=name, data=data_dir(name),
                                       extra=["--fetch-rate-kib-s", str(kib)]))
s6 = f6.launch("name: transfer-fast\ndataset: mnist-10k\nmethod: random\nseed: 6\n"
               "cv: {folds: 2}\nrefit: false\nparameters:\n"
               "  units: {distribution: int_uniform, min: 4, max: 16}\n  epochs: {value: 1}\n"
               "budget: {max_trials: 100000}\n")
for name, (kib, p) in fast.items():
    on = f6.wait_log(name, "datasets the coordinator offers are fetched", timeout=30)
    check(on is not None and on.get("rate_kib_s") == str(kib),
          f"{name}: no fetch set-up line with rate_kib_s={kib} (exit {p.poll()}):\n" +
          tail(f6.log_path(name)))
    st = f6.wait_log(name, "fetch started", dataset="mnist-10k", timeout=30)
    check(st is not None and st.get("rate_bytes_s") == str(kib * 1024),
          f"{name}: fetch started with rate_bytes_s {st and st.get('rate_bytes_s')}, "
          f"want {kib * 1024}:\n" + tail(f6.log_path(name)))
    got = f6.wait_log(name, "dataset fetched", dataset="mnist-10k", timeout=60)
    check(got is not None and got["fetched"] == got["bytes"],
          f"{name}: did not fetch mnist-10k: {got}\n" + tail(f6.log_path(name)))
    check(p.poll() is None, f"{name} exited {p.returncode}")
f6.cli("cancel", str(s6))
check(f6.wait_sweep(s6) == "cancelled", "the fast-fetch sweep was not cancelled")
f6.stop()
shutil.rmtree(tmp, ignore_errors=True)
finish()
