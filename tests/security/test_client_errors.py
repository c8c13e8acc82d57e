"""The client side, from this suite's own protobuf implementation: requests
that cannot be served get a clear ErrorReply, never a crash or silence.

  - Submit: malformed YAML, unknown keys, wrong types, values out of range,
    aliases, a grid of more than 10 million combinations, nesting a million
    deep, a 1 MiB scalar, an empty spec, a spec over 1 MiB: ErrorReply code
    2, and for spec errors the documented `path:line:col: field: problem`
    form, naming the path the client gave; no sweep is created;
  - Cancel, Status and Results of sweeps that do not exist (0, the next id,
    2^63, 2^64 - 1): ErrorReply code 4 "no sweep N";
  - Results paging at the extremes on a real sweep: offset 0 limit 1 (one
    trial, more), offset total - 1, offset = total, offset 2^64 - 1 (an
    empty page, more = false, total right), limit 2^32 - 1 (every trial);
    reading page by page with limit 1 gives the whole table;
  - Cancel twice: the second says cancelled = false with the final state;
  - requests with req_id 2^64 - 1 are answered with it;
  - Subscribe with an unknown level: ErrorReply code 2;
  - a Worker message from a client connection (it never said Hello):
    Disconnect, and the client connection still works.
Then `hptune status` and a real sweep still work.
"""
import re

import attacker as A
from attacker import harness, pb
from harness import check

SPEC = """
name: paged
dataset: mnist
test_objective: hash
method: grid
cv: {folds: 2, seed: 3}
refit: false
parameters:
  units: {values: [8, 16, 24, 32, 40, 48, 56]}
  epochs: {value: 1}
"""
N_TRIALS = 7

GOOD_HEAD = "name: s\ndataset: mnist\nmethod: grid\n"
BAD_SPECS = [
    ("malformed YAML", "name: [unclosed\n", "yaml"),
    ("a tab indent", "name: s\n\tdataset: mnist\n", None),
    ("unknown key", GOOD_HEAD + "parameters:\n  units: {values: [8]}\nbogus: 1\n", "bogus"),
    ("duplicate key", GOOD_HEAD + "name: t\nparameters:\n  units: {values: [8]}\n", "name"),
    # (No dataset and quoted numbers are valid since issue 12: W&B configs
    # omit dataset: (mnist, with a warning) and quote numbers.)
    ("no method", "name: s\ndataset: mnist\nparameters:\n  units: {values: [8]}\n", "method"),
    ("unknown method", "name: s\ndataset: mnist\nmethod: magic\nparameters:\n  units: {values: [8]}\n",
     "method"),
    ("quoted non-number", GOOD_HEAD + "cv: {folds: \"five\"}\nparameters:\n  units: {values: [8]}\n",
     "cv.folds"),
    ("folds 2^32 - 1", GOOD_HEAD + "cv: {folds: 4294967295}\nparameters:\n  units: {values: [8]}\n",
     "cv.folds"),
    ("seed 2^64", GOOD_HEAD + "seed: 18446744073709551616\nparameters:\n  units: {values: [8]}\n",
     "seed"),
    ("priority -2^63", GOOD_HEAD + "priority: -9223372036854775808\nparameters:\n"
     "  units: {values: [8]}\n", "priority"),
    ("learning rate .inf", GOOD_HEAD + "parameters:\n  learning_rate: {value: .inf}\n",
     "learning_rate"),
    ("max_trials 2^64 - 1", "name: s\ndataset: mnist\nmethod: random\nbudget: {max_trials: "
     "18446744073709551615}\nparameters:\n  units: {values: [8]}\n", "budget.max_trials"),
    ("an alias", "name: &a s\ndataset: *a\nmethod: grid\nparameters:\n  units: {values: [8]}\n",
     "alias"),
    ("an unknown parameter", GOOD_HEAD + "parameters:\n" + "".join(f"  p{i}: {{values: [1]}}\n"
                                                          for i in range(33)), "parameters"),
    ("a grid of 10^13", GOOD_HEAD + "parameters:\n" + "".join(
        f"  {p}: {{values: [{', '.join(str(i) for i in range(1, 100))}]}}\n"
        for p in ("units", "batch_size", "epochs")) + "  dropout: {values: [" +
     ", ".join(f"0.{i:04d}" for i in range(1000)) + "]}\n" + "  learning_rate: {values: [" +
     ", ".join(f"0.{i:04d}" for i in range(1, 1000)) + "]}\n", "combinations"),
    ("a million [", "a: " + "[" * (A.MAX_SPEC - 3), "yaml"),
    ("a 1 MiB name", "name: " + "x" * (A.MAX_SPEC - 6), "name"),
    ("a dataset path of 1024", "name: s\ndataset: idx:/" + "d" * 1020 + "\nmethod: grid\n"
     "parameters:\n  units: {values: [8]}\n", "dataset"),
    ("a control character in the name", "name: \"a\\u001b[31mb\"\ndataset: mnist\nmethod: grid\n"
     "parameters:\n  units: {values: [8]}\n", "name"),
]
PATH = "attack/spec.yaml"
POSITION = re.compile(r"^" + re.escape(PATH) + r":\d+:\d+: ")

c = harness.Cluster(name="sec-client", hb_ms=200, liveness=25)
c.start_coordinator(*A.NO_RATE_LIMITS)
cl = A.Client(c.addr)

# --- Submit -------------------------------------------------------------------
for label, spec, field in BAD_SPECS:
    m = cl.submit(spec, path=PATH, timeout=60)
    if m is None:   # not answered: the rest would each wait out the timeout
        check(False, f"Submit of {label}: no answer within 60 s")
        break
    if not check(m.body == "error", f"Submit of {label}: {m}"):
        continue
    e = m.msg
    print(f"Submit of {label}: {e.code} {e.message[:150]}", flush=True)
    check(e.code == 2, f"Submit of {label}: code {e.code}, want 2: {e.message}")
    check(POSITION.match(e.message) is not None,
          f"Submit of {label}: the error is not 'path:line:col: ...': {e.message!r}")
    if field:
        check(field in e.message, f"Submit of {label}: the error does not name {field!r}: "
              f"{e.message!r}")
for label, raw, want in (
        ("an empty spec", A.envelope("submit", pb.Submit(spec="", path=PATH), req_id=77),
         "empty spec"),
        ("a spec over 1 MiB", A.envelope("submit", pb.Submit(spec="#" * (A.MAX_SPEC + 1),
                                                             path=PATH), req_id=77),
         "spec larger than")):
    m = cl.request(None, raw=raw.SerializeToString(), req_id=77, timeout=120)
    check(m is not None and m.body == "error" and m.msg.code == 2 and want in m.msg.message,
          f"Submit of {label}: {m}")
m = cl.status()
check(m is not None and m.body == "status_reply" and len(m.msg.sweeps) == 0,
      f"bad Submits created sweeps: {m}")

# --- sweeps that do not exist ---------------------------------------------------
for sweep in (0, 1, 2**63, 2**64 - 1):
    for what, m in (("Cancel", cl.cancel(sweep)), ("Results", cl.results(sweep)),
                    ("Status", cl.status(sweep) if sweep else None)):
        if m is None and what == "Status":
            continue   # Status of 0 means all sweeps
        check(m is not None and m.body == "error" and m.msg.code == 4 and
              m.msg.message == f"no sweep {sweep}", f"{what} of sweep {sweep}: {m}")

# --- a real sweep and its pages ----------------------------------------------------
c.start_worker(slots=2, name="genuine", extra=("--dry-run", "--dataset", "mnist"))
m = cl.submit(SPEC, path="paged.yaml")
check(m is not None and m.body == "submit_reply" and m.msg.trials == N_TRIALS,
      f"a good Submit: {m}")
sweep = m.msg.sweep if m is not None and m.body == "submit_reply" else 1
check(c.wait_sweep(sweep, timeout=120) == "done", "the sweep did not finish")


def page(offset, limit):
    m = cl.results(sweep, offset, limit)
    if not check(m is not None and m.body == "results_reply",
                 f"Results offset {offset} limit {limit}: {m}"):
        return None
    return m.msg


whole = page(0, 0)
if whole is not None:
    check(whole.total == N_TRIALS and len(whole.trials) == N_TRIALS and not whole.more,
          f"whole table: total {whole.total}, {len(whole.trials)} trials, more {whole.more}")
for offset, limit, n, more in ((0, 1, 1, True), (N_TRIALS - 1, 0, 1, False),
                               (N_TRIALS - 1, 2**32 - 1, 1, False),
                               (N_TRIALS, 0, 0, False), (N_TRIALS, 5, 0, False),
                               (2**63, 0, 0, False), (2**64 - 1, 0, 0, False),
                               (2**64 - 1, 2**32 - 1, 0, False), (0, 2**32 - 1, N_TRIALS, False)):
    p = page(offset, limit)
    if p is None:
        continue
    check(len(p.trials) == n and p.more == more and p.total == N_TRIALS and p.offset == offset,
          f"Results offset {offset} limit {limit}: {len(p.trials)} trials (want {n}), more "
          f"{p.more} (want {more}), total {p.total}, offset {p.offset}")
rows, off = [], 0
while True:
    p = page(off, 1)
    if p is None or not p.trials:
        break
    rows += list(p.trials)
    off += len(p.trials)
    if not p.more or off > 100:
        break
check(whole is not None and [r.trial for r in rows] == [r.trial for r in whole.trials],
      f"paging one by one gave trials {[r.trial for r in rows]}")

# --- cancel, req_id extremes, subscribe, worker messages from a client ----------------
m = cl.cancel(sweep)
check(m is not None and m.body == "cancel_reply" and not m.msg.cancelled and
      m.msg.state == "done", f"Cancel of a finished sweep: {m}")
m2 = cl.submit(SPEC.replace("name: paged", "name: tocancel"), path="c.yaml")
if check(m2 is not None and m2.body == "submit_reply", f"Submit: {m2}"):
    s2 = m2.msg.sweep
    a, b = cl.cancel(s2), cl.cancel(s2)
    check(a is not None and a.body == "cancel_reply" and b is not None and
          b.body == "cancel_reply" and not b.msg.cancelled and
          b.msg.state in ("cancelled", "done"), f"Cancel twice: {a}, {b}")
m = cl.request("status", pb.StatusRequest(), req_id=2**64 - 1)
check(m is not None and m.body == "status_reply", f"a request with req_id 2^64 - 1: {m}")
m = cl.request("subscribe", pb.Subscribe(level="verbose"))
check(m is not None and m.body == "error" and m.msg.code == 2 and "level" in m.msg.message,
      f"Subscribe with level verbose: {m}")
for body, msg in (("heartbeat", pb.Heartbeat()), ("goodbye", pb.Goodbye()),
                  ("result", pb.Result(task=1, attempt=1, ok=True, score=0.9)),
                  ("progress", pb.Progress(task=1, attempt=1, epoch=1, epochs=1)),
                  ("datasets", pb.Datasets()),
                  ("fetch_chunk", pb.FetchChunk(dataset="mnist", fingerprint="a" * 64,
                                                file="train-images-idx3-ubyte", size=1))):
    cl.send(body, msg)
    m = cl.recv(30)
    check(m is not None and m.body == "disconnect", f"a {body} from a client: {m}")
m = cl.status()
check(m is not None and m.body == "status_reply", f"the client connection after worker messages: {m}")

r = c.cli("status", check_rc=False)
check(r.returncode == 0, f"hptune status after the attack: {r.returncode} {r.stderr}")
s3 = c.launch(SPEC.replace("name: paged", "name: after"))
check(c.wait_sweep(s3, timeout=120) == "done", "a sweep after the attack did not finish")
check(A.alive(c), "the coordinator died")
cl.close()
harness.finish()
