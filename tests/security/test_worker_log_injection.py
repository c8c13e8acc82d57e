"""A worker's log lines quote what its coordinator names (issue 11, second
review): dataset names and fingerprints in DatasetOffer reach the worker's
log quoted and escaped, so a hostile (or impersonated) coordinator can
neither add a logfmt field nor put an escape sequence on an operator's
terminal.

The attacker plays the coordinator: a pyzmq ROUTER on the cluster's
address welcomes a real worker, then offers datasets whose names hold a
quote, spaces and '=' (a forged `level=error` field) and, in a second
offer, an ESC sequence and a newline.  Every line of the worker's log must
still be one line, the forged field must appear only inside the quoted
dataset value, and no raw ESC may appear.
"""
import os
import time

import zmq

import attacker as A
from attacker import harness
from harness import check

c = harness.Cluster(name="wrk-log-inject")
ctx = A.context()
router = ctx.socket(zmq.ROUTER)
router.setsockopt(zmq.LINGER, 0)
router.bind(c.addr)
w = c.start_worker(name="victim", extra=("--dry-run", "--log-level", "debug"))


def logfmt(line):
    """A logfmt line as a list of (key, value), values unescaped."""
    out, i, n = [], 0, len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        j = line.find("=", i)
        if j < 0:
            break
        key, i = line[i:j], j + 1
        if i < n and line[i] == '"':
            i += 1
            v = []
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n:
                    nx = line[i + 1]
                    if nx == "x" and i + 3 < n:
                        v.append(chr(int(line[i + 2:i + 4], 16)))
                        i += 4
                        continue
                    v.append({"n": "\n", "t": "\t", "r": "\r"}.get(nx, nx))
                    i += 2
                    continue
                v.append(line[i])
                i += 1
            i += 1
            out.append((key, "".join(v)))
        else:
            j = line.find(" ", i)
            j = n if j < 0 else j
            out.append((key, line[i:j]))
            i = j
    return out


def recv(timeout):
    if not router.poll(int(timeout * 1000), zmq.POLLIN):
        return None, None
    rid, data = router.recv_multipart()[:2]
    env = A.pb.Envelope()
    env.ParseFromString(data)
    return rid, env


rid = None
deadline = time.time() + 20
while time.time() < deadline:
    r, env = recv(1.0)
    if env is not None and env.WhichOneof("body") == "hello":
        rid = r
        break
check(rid is not None, "the worker never said Hello to the fake coordinator")
router.send_multipart([rid, A.envelope("welcome", A.pb.Welcome(
    heartbeat_ms=1000, liveness=30)).SerializeToString()])
FORGED = 'idx:/x" level=error msg="forged'
ESCAPED = "idx:/y\x1b[31mred\nlevel=error"
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")
for name in (FORGED, ESCAPED):
    offer = A.pb.DatasetOffer(dataset=name, fingerprint="ab" * 32, sweep=7)
    for f in FILES:
        offer.files.add(name=f, size=1000)
    router.send_multipart([rid, A.envelope("dataset_offer", offer).SerializeToString()])
# Keep the worker fed until it has logged both offers (or enough time passed).
log_path = os.path.join(c.dir, "worker-victim.log")
text = ""
deadline = time.time() + 15
while time.time() < deadline:
    recv(0.2)
    with open(log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    if text.count("offer") >= 2:
        break
check("offer" in text, f"the worker logged no offer: {text[-600:]}")
check("\x1b" not in text, "a raw ESC reached the worker's log")
for ln in text.splitlines():
    keys = [k for k, _ in logfmt(ln)]
    check(len(keys) == len(set(keys)), f"a field appears twice (forged) in: {ln!r}")
offers = [dict(logfmt(ln)) for ln in text.splitlines() if "offer" in ln and "dataset=" in ln]
names = [o.get("dataset") for o in offers]
check(FORGED in names, f"the forged name is not logged as one dataset value: {names}")
# The ESC offer is either refused as a whole (not plain text) or logged
# with its name escaped, as one value.
check(ESCAPED in names or "invalid message ignored" in text,
      f"the offer with an ESC is neither refused nor logged escaped: {names}")
for ln in text.splitlines():
    check(not ln.lstrip().startswith(("level=", "msg=")), f"a forged line: {ln!r}")
c.kill(w, 15)
router.close(0)
harness.finish()
