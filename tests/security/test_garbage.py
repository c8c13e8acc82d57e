"""Garbage from every role, while a genuine worker runs a sweep (plain text;
test_curve_attack covers the refusals with keys).

Roles: a stranger (a fresh connection that never says Hello), a registered
worker (it said Hello and was welcomed) and a client.  Each sends:
  - random bytes, an empty frame, truncated Envelopes (every one cut inside
    its body), wrong frame counts (2, 5 and 100 frames, empty first or last);
  - unknown body cases (unused field numbers up to 2^29 - 1), wrong wire
    types for known fields, groups, wire types 6 and 7, overlong varints,
    lengths past the end, field number 0;
  - protocol versions 0, 2, 2^32 - 1 and 2^64 - 1;
  - the coordinator's own messages (Welcome, Assign, Cancel, Disconnect,
    Reject, DatasetOffer, DatasetChunk) and replies (SubmitReply ... Error);
  - strings that are not UTF-8 and strings with NULs;
  - every string field of the worker and client messages at its limit and
    one byte over (Hello's worker_id, name, host, version, dataset name and
    fingerprint; Result.error; FetchChunk's dataset, fingerprint, file;
    Submit's path; Subscribe's level), repeated fields at their limits and
    one over (Hello and Datasets: 64 datasets with 4 KiB names; Heartbeat:
    1,024 running entries), numbers at their edges (slots 0, 1024, 1025;
    FetchChunk size 0 and 1 MiB + 1, offset 4 GiB), unknown fields of
    4 KiB and 4 KiB + 1 in all.
What must hold:
  - every malformed message is counted as a bad message (the count rises by
    exactly the number sent), and nothing malformed is served: a stranger
    or client gets at most an ErrorReply (code 2, for an Envelope that
    decoded and carried a req_id), a Reject (wrong version) or a Disconnect
    (a worker message from a peer that never said Hello);
  - what is within the limits is served: a Hello at its limits is welcomed,
    one over is not (the peer is then told to say Hello); a Datasets at its
    limits replaces the worker's list, one over does not;
  - the registered worker stays registered;
  - the coordinator answers status throughout, the sweep finishes with
    exactly the results of the same sweep run before the attack, and the
    coordinator exits 0 on SIGTERM with no sanitizer report.
"""
import random

import attacker as A
from attacker import harness, pb
from harness import check

SPEC = """
name: {name}
dataset: mnist
test_objective: hash
method: random
seed: 23
cv: {{folds: 3, seed: 9}}
refit: true
budget: {{max_trials: 150}}
parameters:
  units: {{values: [8, 16, 32]}}
  dropout: {{distribution: uniform, min: 0.0, max: 0.5}}
  epochs: {{value: 1}}
"""
NOWHERE = ("no-such-dataset", "ef" * 32)   # a dataset no sweep uses: no tasks, no offers
rng = random.Random(1234)
E = A.envelope


def ser(body, msg=None, req_id=0, protocol=A.PROTOCOL):
    return E(body, msg, req_id, protocol).SerializeToString()


def hello_msg(**kw):
    m = pb.Hello(worker_id=kw.pop("worker_id", f"garbage:{rng.getrandbits(48):x}"),
                 name=kw.pop("name", "g"), host=kw.pop("host", "h"), slots=kw.pop("slots", 1),
                 version=kw.pop("version", "v"))
    for name, fp in kw.pop("datasets", [NOWHERE]):
        m.datasets.add(name=name, fingerprint=fp)
    assert not kw, kw
    return m


# --- the malformed corpus: (label, frames); every one must count as bad --------

def malformed(req_id):
    """Messages that fail framing, decoding or validation.  Those that decode
    and carry req_id are answered with an ErrorReply when the sender is not
    a registered worker (the second element says so)."""
    valid = {
        "hello": ser("hello", hello_msg()),
        "result": ser("result", pb.Result(task=1, attempt=1, ok=True, score=0.5, error="e")),
        "heartbeat": ser("heartbeat", pb.Heartbeat(running=[pb.TaskProgress(task=5, attempt=1)])),
        "submit": ser("submit", pb.Submit(spec="name: x\n", path="p.yaml"), req_id=req_id),
        "status": ser("status", pb.StatusRequest(sweep=1), req_id=req_id),
        "fetch_chunk": ser("fetch_chunk", pb.FetchChunk(
            dataset="mnist", fingerprint="a" * 64, file="train-images-idx3-ubyte", size=10)),
    }
    out = []   # (label, frames, answered with ErrorReply)
    for n in (1, 2, 3, 7, 16, 100, 1000, 4096, 65536):
        # Random bytes may well decode (as unknown fields, say); they are
        # still malformed: no body, or the wrong version.
        b = bytes(rng.getrandbits(8) for _ in range(n))
        out.append((f"random {n} bytes", [b], False))
    out.append(("empty frame", [b""], False))
    for name, v in valid.items():
        # Cut inside the body (the last field): its length says more follows.
        # (A cut between fields would leave a shorter valid Envelope.)
        body = getattr(pb.Envelope.FromString(v), name).SerializeToString()
        start = len(v) - len(A.f_bytes(A.BODY_FIELDS[name], body))
        for cut in sorted({1, start + 1, start + (len(v) - start) // 2, len(v) - 1}):
            out.append((f"{name} cut to {cut} of {len(v)} bytes", [v[:cut]], False))
    st = valid["status"]
    out += [("two frames", [st, st], False), ("empty frame first", [b"", st], False),
            ("empty frame last", [st, b""], False), ("five frames", [st] * 5, False),
            ("100 frames", [b"x"] * 100, False)]
    for f in (3, 9, 15, 19, 25, 29, 45, 49, 54, 60, 99, 1000, 2**29 - 1):
        out.append((f"unknown body field {f}", [A.raw_env(f, b"\x08\x01", req_id=req_id)], True))
    p1 = A.f_varint(1, 1)
    out += [("a body as a varint", [p1 + A.f_varint(10, 5)], False),
            ("a body as fixed64", [p1 + A.f_fixed64(13, b"\0" * 8)], False),
            ("a body as fixed32", [p1 + A.key(11, 5) + b"\0" * 4], False),
            ("protocol as bytes", [A.f_bytes(1, b"\x01") + A.f_bytes(32, b"")], False),
            ("a start group", [p1 + A.key(10, 3) + A.key(10, 4)], False),
            ("wire type 6", [p1 + A.key(11, 6) + b"\0" * 8], False),
            ("wire type 7", [p1 + A.key(11, 7) + b"\0" * 8], False),
            ("an 11-byte varint", [b"\x08" + b"\xff" * 10 + b"\x01"], False),
            ("a length varint of 2^64-1", [p1 + A.key(10, 2) + b"\xff" * 9 + b"\x01"], False),
            ("a length past the end", [p1 + A.key(10, 2) + A.varint(1000) + b"abc"], False),
            ("field number 0", [b"\x02\x00" + valid["status"]], False),
            ("nested garbage in Hello.datasets",
             [A.raw_env("hello", A.f_bytes(1, "w") + A.f_varint(4, 1) + A.f_bytes(6, b"\xff" * 9))],
             False),
            ("nested garbage in Heartbeat.running",
             [A.raw_env("heartbeat", A.f_bytes(1, b"\x08"))], False),
            ("no body", [p1 + A.f_varint(2, req_id)], True)]
    for v in (0, 2, 2**32 - 1, 2**64 - 1):
        # Version 0 is the field left out.
        out.append((f"protocol {v}", [A.raw_env("status", A.f_varint(1, 1), protocol=v,
                                                  req_id=req_id)], True))
    # Coordinator-to-worker messages sent to the coordinator.
    for body, msg in (("welcome", pb.Welcome(heartbeat_ms=100, liveness=3)),
                      ("assign", pb.Assign(task=1, attempt=1, dataset="mnist", folds=2)),
                      ("cancel", pb.Cancel(task=1, attempt=1)),
                      ("disconnect", pb.Disconnect(reason="go")),
                      ("reject", pb.Reject(reason="no")),
                      ("dataset_offer", pb.DatasetOffer(dataset="mnist", fingerprint="a" * 64)),
                      ("dataset_chunk", pb.DatasetChunk(dataset="mnist", error="x"))):
        out.append((f"coordinator's {body}", [ser(body, msg)], False))
    return out


# Replies sent to the coordinator: decoded and valid, but not requests; a
# client gets ErrorReply code 2 "not a request a client can send".
REPLIES = [("submit_reply", pb.SubmitReply(sweep=1)), ("status_reply", pb.StatusReply()),
           ("workers_reply", pb.WorkersReply()), ("results_reply", pb.ResultsReply()),
           ("cancel_reply", pb.CancelReply()), ("event", pb.Event(message="x")),
           ("history_end", pb.HistoryEnd()), ("error", pb.ErrorReply(code=1))]


def sync_client(p, what):
    """A round trip on p's connection: everything it sent before is read."""
    m = p.request("status", pb.StatusRequest(), timeout=60)
    check(m is not None and m.body == "status_reply", f"{what}: no StatusReply after the garbage")
    return m


def check_replies(msgs, what, allowed):
    for m in msgs:
        check(m.body in allowed, f"{what}: answered with {m!r}")


def barrage(c, role, send, sync, replies):
    """Send the malformed corpus through send(frames); return the number sent."""
    corpus = malformed(req_id=4242)
    for label, frames, _ in corpus:
        send(frames)
    sync()
    got = replies()
    allowed = {"error", "reject", "disconnect", "status_reply"}
    check_replies(got, role, allowed)
    if role != "worker":
        errs = [m for m in got if m.body == "error" and m.env.req_id == 4242]
        n_answerable = sum(1 for _, _, a in corpus if a)
        check(len(errs) == n_answerable,
              f"{role}: {len(errs)} ErrorReplies for {n_answerable} malformed requests that "
              f"decoded with a req_id: {[m.msg.message for m in errs]}")
        check(all(m.msg.code == 2 and m.msg.message.startswith("bad request:") for m in errs),
              f"{role}: ErrorReplies: {[(m.msg.code, m.msg.message) for m in errs]}")
        rejects = [m for m in got if m.body == "reject"]
        check(len(rejects) >= 4 and all("protocol version" in m.msg.reason for m in rejects),
              f"{role}: Rejects for 4 wrong versions (and random bytes that decoded): "
              f"{[m.msg.reason for m in rejects]}")
    return len(corpus)


# --- limits ---------------------------------------------------------------------

def hello_limits(c):
    """(label, Hello, welcomed?) at each limit and one over; returns the
    number that must count as bad."""
    big_ds = [("d" * 4096, "f" * 64)] * 64
    cases = [
        ("worker_id of 255", dict(worker_id="i" * 255), True),
        ("worker_id of 256", dict(worker_id="i" * 256), False),
        ("empty worker_id", dict(worker_id=""), False),
        ("name of 255", dict(name="n" * 255), True),
        ("name of 256", dict(name="n" * 256), False),
        ("host of 255", dict(host="h" * 255), True),
        ("host of 256", dict(host="h" * 256), False),
        ("version of 64", dict(version="v" * 64), True),
        ("version of 65", dict(version="v" * 65), False),
        ("dataset name of 4096", dict(datasets=[("d" * 4096, "f" * 64)]), True),
        ("dataset name of 4097", dict(datasets=[("d" * 4097, "f" * 64)]), False),
        ("empty dataset name", dict(datasets=[("", "f" * 64)]), False),
        ("fingerprint of 65", dict(datasets=[("x", "f" * 65)]), False),
        ("64 datasets of 4 KiB names", dict(datasets=big_ds), True),
        ("65 datasets", dict(datasets=big_ds + [("x", "f" * 64)]), False),
        ("slots 0", dict(slots=0), False),
        ("slots 1024", dict(slots=1024), True),
        ("slots 1025", dict(slots=1025), False),
        ("slots 2^32-1", dict(slots=2**32 - 1), False),
    ]
    n_bad = 0
    for label, kw, ok in cases:
        with A.Worker(c.addr) as w:
            w.send("hello", hello_msg(**kw))
            w.heartbeat(running=[], free_slots=0)   # answered with Disconnect if not registered
            got = w.wait(lambda: w.welcomed or w.disconnects, 60, raise_=False)
            if ok:
                check(w.welcomed and not w.disconnects,
                      f"Hello with {label}: not welcomed ({w.disconnects})")
                w.goodbye()
                w.barrier(5)
            else:
                check(got and not w.welcomed and w.disconnects,
                      f"Hello with {label}: welcomed={w.welcomed}, want it refused")
                n_bad += 1
    # Not UTF-8, and NULs: protobuf-c does not check; the coordinator must
    # survive them (what it then prints is finding 8's business).
    for label, name in (("name not UTF-8", b"\xff\xfe\xc3"), ("name with NUL", b"a\x00b")):
        with A.Worker(c.addr) as w:
            raw = hello_msg().SerializeToString() + A.f_bytes(2, name)
            w.send_raw(A.raw_env("hello", raw))
            w.heartbeat(running=[], free_slots=0)
            w.wait(lambda: w.welcomed or w.disconnects, 60, raise_=False)
            w.goodbye()
    return n_bad


def worker_limits(c, w, cl):
    """Datasets, Heartbeat, Result, Progress and FetchChunk at and over
    their limits, from the registered worker w; returns the bad count."""
    n_bad = 0

    def datasets_of():
        m = cl.workers()
        for info in m.msg.workers if m and m.body == "workers_reply" else []:
            if info.id == w.worker_id:
                return [(d.name, d.fingerprint) for d in info.datasets]
        return None

    big = [("d" * 4096, "f" * 64)] * 64
    w.datasets_msg(big)
    check(w.barrier(), "Datasets at its limits: barrier")
    got = datasets_of()
    check(got is not None and len(got) == 64, f"Datasets at its limits not applied: {got and len(got)}")
    w.datasets_msg(big + [("x", "f" * 64)])
    w.datasets_msg([("y", "f" * 65)])
    n_bad += 2
    check(w.barrier(), "Datasets over its limits: barrier")
    got = datasets_of()
    check(got is not None and len(got) == 64, f"a refused Datasets changed the list: {got and len(got)}")
    w.datasets_msg([NOWHERE])
    check(w.barrier(), "Datasets back: barrier")

    w.heartbeat(running=[(1 + i, 1, 0) for i in range(1024)], free_slots=0)
    w.heartbeat(running=[(1 + i, 1, 0) for i in range(1025)], free_slots=0)
    w.heartbeat(running=[(0, 1, 0)], free_slots=0)   # task 0
    n_bad += 2
    w.result(123456789, 1, ok=False, error="e" * 4096)
    w.result(123456789, 1, ok=False, error="e" * 4097)
    w.result(0, 1)                                    # task 0
    w.result(123456789, 0)                            # attempt 0
    n_bad += 3
    w.progress(123456789, 1, 1, 1)
    w.progress(123456789, 1, 0, 1)                    # epoch 0
    w.progress(123456789, 1, 2, 1)                    # epoch > epochs
    w.progress(123456789, 1, 1, 2**32 - 1)            # epochs over the maximum
    w.progress(123456789, 1, 1, 1, val_score=float("inf"))
    n_bad += 4
    fp = "a" * 64
    fetches = [
        (dict(dataset="d" * 4096, fingerprint=fp, file="train-images-idx3-ubyte"), True),
        (dict(dataset="d" * 4097, fingerprint=fp, file="train-images-idx3-ubyte"), False),
        (dict(dataset="", fingerprint=fp, file="train-images-idx3-ubyte"), False),
        (dict(dataset="mnist", fingerprint="A" * 64, file="train-images-idx3-ubyte"), False),
        (dict(dataset="mnist", fingerprint=fp[:63], file="train-images-idx3-ubyte"), False),
        (dict(dataset="mnist", fingerprint=fp, file="../../../etc/passwd"), False),
        (dict(dataset="mnist", fingerprint=fp, file="train-images-idx3-ubyte/../x"), False),
        (dict(dataset="mnist", fingerprint=fp, file="t10k-labels-idx1-ubyte.gz"), True),
        (dict(dataset="mnist", fingerprint=fp, file="train-images-idx3-ubyte", size=0), False),
        (dict(dataset="mnist", fingerprint=fp, file="train-images-idx3-ubyte",
              size=1024 * 1024), True),
        (dict(dataset="mnist", fingerprint=fp, file="train-images-idx3-ubyte",
              size=1024 * 1024 + 1), False),
        (dict(dataset="mnist", fingerprint=fp, file="train-images-idx3-ubyte",
              offset=4 << 30), False),
    ]
    xfers = {}
    for kw, ok in fetches:
        x = w.fetch_chunk(**{"size": 10, **kw})
        xfers[x] = ok
        n_bad += not ok
    check(w.barrier(), "FetchChunks: barrier")
    answered = {ch.xfer: ch for ch in w.chunks}
    for x, ok in xfers.items():
        if ok:
            check(x in answered and answered[x].error and not answered[x].data,
                  f"FetchChunk {x} within limits (no such sweep): want a refusal, got "
                  f"{answered.get(x)}")
        else:
            check(x not in answered, f"FetchChunk {x} over its limits was answered")
    return n_bad


def client_limits(c, cl):
    """Submit and Subscribe strings at and over their limits; unknown fields;
    returns the bad count."""
    n_bad = 0

    def req(body, msg, extra=b""):
        cl.next_req_id += 1
        rid = cl.next_req_id
        raw = E(body, msg, rid).SerializeToString() + extra
        return cl.request(None, raw=raw, req_id=rid, timeout=60)

    m = req("submit", pb.Submit(spec="x: [", path="p" * 4096))
    check(m and m.body == "error" and m.msg.code == 2 and not m.msg.message.startswith("bad request"),
          f"Submit with a path of 4096: want a spec error, got {m}")
    m = req("submit", pb.Submit(spec="x: [", path="p" * 4097))
    check(m and m.body == "error" and m.msg.code == 2 and "path too long" in m.msg.message,
          f"Submit with a path of 4097: {m}")
    m = req("submit", pb.Submit(spec="", path="p"))
    check(m and m.body == "error" and m.msg.code == 2 and "empty spec" in m.msg.message,
          f"Submit with an empty spec: {m}")
    n_bad += 2
    m = req("subscribe", pb.Subscribe(level="d" * 16))
    check(m and m.body == "error" and m.msg.code == 2 and "unknown level" in m.msg.message,
          f"Subscribe with a level of 16: {m}")
    m = req("subscribe", pb.Subscribe(level="d" * 17))
    check(m and m.body == "error" and m.msg.code == 2 and "bad level" in m.msg.message,
          f"Subscribe with a level of 17: {m}")
    n_bad += 1
    # Unknown fields: 4 KiB in all are carried, more are refused.
    m = req("status", pb.StatusRequest(), extra=A.f_bytes(99, b"u" * 4096))
    check(m and m.body == "status_reply", f"a request with 4 KiB of unknown fields: {m}")
    m = req("status", pb.StatusRequest(), extra=A.f_bytes(99, b"u" * 4097))
    check(m and m.body == "error" and m.msg.code == 2 and "unknown fields" in m.msg.message,
          f"a request with 4 KiB + 1 of unknown fields: {m}")
    n_bad += 1
    # Not UTF-8 and NULs in a spec and its path: a spec error, nothing worse.
    # (An error that echoes them back as they came is not UTF-8 either, and a
    # conformant proto3 client cannot read it: that is finding 8's business,
    # see pending_injection.py; here it is only noted.)
    for label, spec, path in (("spec not UTF-8", b"name: \xff\xfe\n", b"p.yaml"),
                              ("spec with NUL", b"na\x00me: x\n", b"p.yaml"),
                              ("path not UTF-8", b"x: [", b"\xc3\x28.yaml")):
        cl.next_req_id += 1
        rid = cl.next_req_id
        raw = A.raw_env("submit", A.f_bytes(1, spec) + A.f_bytes(2, path), req_id=rid)
        m = cl.request(None, raw=raw, req_id=rid, timeout=60)
        check(m is not None and m.body == "error" and m.msg.code == 2,
              f"Submit with a {label}: {m}")
        if m is not None and m.invalid_utf8:
            print(f"NOTE: the ErrorReply to a Submit with a {label} is not UTF-8: "
                  f"{m.msg.message[:120]!r}", flush=True)
    # Replies sent as requests.
    for body, msg in REPLIES:
        m = req(body, msg)
        check(m and m.body == "error" and m.msg.code == 2 and
              "not a request a client can send" in m.msg.message, f"a {body} sent to the "
              f"coordinator: {m}")
    return n_bad


# --- the run --------------------------------------------------------------------

harness.need_data("mnist")
# A long liveness: the registered attacker is silent while the others act.
c = harness.Cluster(name="sec-garbage", hb_ms=300, liveness=100)
c.start_coordinator(*A.NO_RATE_LIMITS)
c.start_worker(slots=2, name="genuine", extra=("--dry-run", "--dataset", "mnist"))
base = c.launch(SPEC.format(name="baseline"))
check(c.wait_sweep(base, timeout=300) == "done", "the baseline sweep did not finish")
base_res = c.results(base)

cl = A.Client(c.addr)
w = A.Worker(c.addr, name="garbage-worker", datasets=[NOWHERE])
check(w.register() is not None, "the attacker worker got no Welcome")
s1 = c.launch(SPEC.format(name="attacked"))
bad0 = A.bad_messages(c)
expected = 1   # the second probe

# Stranger: a few fresh connections share the corpus.
strangers = [A.Client(c.addr) for _ in range(4)]
sent = [0]


def stranger_send(frames):
    strangers[sent[0] % len(strangers)].send_raw(*frames)
    sent[0] += 1


def stranger_sync():
    for s in strangers:
        sync_client(s, "stranger")


def stranger_replies():
    return [m for s in strangers for m in s.drain(0.05)]


expected += barrage(c, "stranger", stranger_send, stranger_sync, stranger_replies)
for s in strangers:
    s.close()
check(A.answered(c), "no answer after the strangers' garbage")

expected += barrage(c, "client", lambda f: cl.send_raw(*f), lambda: sync_client(cl, "client"),
                    lambda: cl.drain(0.05))
check(A.answered(c), "no answer after the client's garbage")


def worker_sync():
    check(w.barrier(), "the registered worker's barrier after its garbage")


def worker_replies():
    out = list(w.other)
    w.other.clear()
    return out


expected += barrage(c, "worker", lambda f: w.send_raw(*f), worker_sync, worker_replies)
check(not w.disconnects, f"the registered worker was disconnected by its garbage: {w.disconnects}")

w.heartbeat()
expected += hello_limits(c)
w.heartbeat()
expected += worker_limits(c, w, cl)
w.heartbeat()
expected += client_limits(c, cl)
check(w.barrier(), "the registered worker is no longer registered")
sync_client(cl, "client")
bad1 = A.bad_messages(c)
check(bad1 - bad0 == expected,
      f"{bad1 - bad0} messages counted bad, {expected} sent malformed")

st = c.wait_sweep(s1, timeout=300)
check(st == "done", f"the sweep run during the garbage ended {st}")
check(A.comparable(c.results(s1)) == A.comparable(base_res),
      "the attacked sweep's results differ from the baseline's")
check(A.alive(c), "the coordinator died")
w.goodbye()
w.close()
cl.close()
harness.finish()
