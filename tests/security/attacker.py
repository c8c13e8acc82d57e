"""attacker.py: a hostile hptune peer written against proto/hptune.proto with
another protobuf implementation (Google's Python runtime) and another ZeroMQ
binding (pyzmq), for the security suite (issue 11).

Nothing here is generated at build time and nothing generated is committed:
on import, protoc compiles proto/hptune.proto into hptune_pb2.py in a fresh
temporary directory (removed at exit), so the suite speaks the wire contract
as written, not as the C code happens to implement it.

What it offers:
  - Peer: one DEALER connection to the coordinator's ROUTER (plain, or CURVE
    with Keys from `hptune keygen` or zmq.curve_keypair()), optionally with a
    chosen routing id and a socket monitor.  send_raw() sends any frames;
    send() sends one Envelope, as the C peers do (common/proto_io.c: one
    frame, protocol = PROTOCOL_VERSION); recv() returns a Msg (frames, the
    decoded Envelope or the decode error, the body's name) or None on timeout.
  - Client(Peer): request(body, msg) waits for the reply carrying the same
    req_id (as coordinator/cli/cli_client.c); submit, status, workers,
    results, cancel, subscribe.
  - Worker(Peer): the worker protocol as worker/main.c speaks it: hello,
    heartbeat (listing the tasks it holds, so the coordinator does not take
    them back), progress, result, goodbye, datasets, fetch_chunk; pump()
    reads what the coordinator sends (Welcome, Assign, Cancel, Disconnect,
    Heartbeat ...) and heartbeats on time; barrier() makes sure every
    message sent before it has been handled (a FetchChunk for a dataset no
    sweep has is answered by a DatasetChunk with an error, in order on the
    connection).
  - raw wire helpers (varint, field, raw_env) to build what a protobuf
    library would refuse to: invalid UTF-8, unknown fields, wrong wire
    types, truncated and overlong encodings.
  - process helpers: RSS of a pid, whether it runs under ASan, a sampler.

The harness (tests/integration/harness.py) starts the real daemons; import
it through this module (attacker.harness) so sys.path is set up once.
"""
import atexit
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from harness import RssSampler, rss_mb  # noqa: E402,F401  (re-exported: A.rss_mb, A.RssSampler)

SRC = os.environ.get("HPT_SRC") or os.path.normpath(os.path.join(HERE, "..", ".."))
PROTO = os.path.join(SRC, "proto", "hptune.proto")
NEED = ("the security suite needs pyzmq, Google's protobuf runtime and protoc "
        "(deploy/install-deps.sh installs python3-zmq python3-protobuf protobuf-compiler)")

try:
    import zmq
    import zmq.utils.monitor
    from google.protobuf.message import DecodeError
except ImportError as e:   # a missing dependency is a failure, not a skip: CI installs them
    print(f"FAIL: {e}: {NEED}", flush=True)
    sys.exit(1)


def _compile_proto():
    """protoc proto/hptune.proto -> a temporary dir; import hptune_pb2 from
    it, and hptune_raw_pb2: the same messages in package hptraw with every
    string field made bytes, to read what a conformant protobuf runtime
    refuses (a proto3 string must be UTF-8)."""
    protoc = shutil.which("protoc") or "/usr/bin/protoc"
    if not os.path.exists(protoc):
        print(f"FAIL: protoc not found: {NEED}", flush=True)
        sys.exit(1)
    out = tempfile.mkdtemp(prefix="hpt-pb2-")
    atexit.register(shutil.rmtree, out, True)
    with open(PROTO) as f:
        text = f.read()
    raw = re.sub(r"\bpackage hpt;", "package hptraw;", text)
    raw = re.sub(r"^(\s*(?:repeated\s+)?)string(\s)", r"\1bytes\2", raw, flags=re.M)
    with open(os.path.join(out, "hptune_raw.proto"), "w") as f:
        f.write(raw)
    for path in (PROTO, os.path.join(out, "hptune_raw.proto")):
        r = subprocess.run([protoc, f"--proto_path={os.path.dirname(path)}",
                            f"--python_out={out}", path], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            print(f"FAIL: protoc {path}: {r.stderr}", flush=True)
            sys.exit(1)
    sys.path.insert(0, out)
    import hptune_pb2
    import hptune_raw_pb2
    return hptune_pb2, hptune_raw_pb2


pb, pbraw = _compile_proto()
PROTOCOL = pb.PROTOCOL_VERSION

# Limits from common/proto_io.h and proto_io.c (the wire contract's numbers).
MAX_MSG = 16 * 1024 * 1024
MAX_SPEC = 1024 * 1024
MAX_INBOUND = MAX_SPEC + 64 * 1024
# The coordinator's per-connection and per-address rate limits (Hello,
# Submit, bad messages; docs/security.md) would drop most of what these tests
# send on purpose from one address, and they test validation, not pacing
# (integration-quotas tests the limits): their coordinators run without them.
NO_RATE_LIMITS = ("--hello-per-min", "0", "--submit-per-min", "0", "--bad-per-min", "0",
                  "--history-per-min", "0")
MAX_STR = 4096

# Envelope body field numbers (proto/hptune.proto), for raw encodings.
BODY_FIELDS = {f.name: f.number for f in pb.Envelope.DESCRIPTOR.oneofs_by_name["body"].fields}
DRY_RUN = "dry-run"   # the fingerprint a --dry-run worker advertises


# --- raw protobuf wire format ---------------------------------------------------

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire_type):
    return varint((field << 3) | wire_type)


def f_varint(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return key(field, 2) + varint(len(b)) + b


def f_fixed64(field, b8):
    return key(field, 1) + b8


def f_double(field, v):
    return key(field, 1) + struct.pack("<d", v)


def raw_env(body_field, body, protocol=PROTOCOL, req_id=0):
    """Envelope bytes around an already encoded body (no checks at all)."""
    out = b""
    if protocol:
        out += f_varint(1, protocol)
    if req_id:
        out += f_varint(2, req_id)
    if isinstance(body_field, str):
        body_field = BODY_FIELDS[body_field]
    return out + f_bytes(body_field, body)


def envelope(body, msg=None, req_id=0, protocol=PROTOCOL):
    """An Envelope with `body` (its oneof name) set to msg (None: empty)."""
    env = pb.Envelope(protocol=protocol, req_id=req_id)
    sub = getattr(env, body)
    if msg is not None:
        sub.CopyFrom(msg)
    sub.SetInParent()
    return env


# --- keys -----------------------------------------------------------------------

class Keys:
    """A CURVE key pair as Z85 bytes (40 characters each)."""

    def __init__(self, public, secret=None, path=None):
        self.public = public if isinstance(public, bytes) else public.encode()
        self.secret = secret if (secret is None or isinstance(secret, bytes)) else secret.encode()
        self.path = path

    @classmethod
    def generate(cls):
        pub, sec = zmq.curve_keypair()
        return cls(pub, sec)

    @classmethod
    def from_file(cls, path):
        """A key file as `hptune keygen` writes it (public-key / secret-key
        lines, quotes optional; docs/security.md)."""
        pub = sec = None
        with open(path) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                v = v.strip().strip('"')
                if k.strip() == "public-key":
                    pub = v
                elif k.strip() == "secret-key":
                    sec = v
        if pub is None:
            with open(path) as f:   # a .pub may be just the 40 characters
                pub = f.read().strip()
        return cls(pub, sec, path)

    def write_pub(self, path):
        with open(path, "w") as f:
            f.write(self.public.decode() + "\n")


def keygen(prefix, *extra):
    """`hptune keygen -o PREFIX [extra]`: (Keys of PREFIX.key, PREFIX.pub path).
    Raises RuntimeError with the CLI's stderr when it fails."""
    r = subprocess.run([harness.CLI, "keygen", "-o", prefix, *extra], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"hptune keygen -o {prefix} {' '.join(extra)}: exit "
                           f"{r.returncode}: {r.stderr.strip()}")
    return Keys.from_file(prefix + ".key"), prefix + ".pub"


# --- one connection --------------------------------------------------------------

class Msg:
    """One message received: its frames, the decoded Envelope (None when it
    did not decode: `error` says why) and the body's name.  An Envelope
    that decodes only with its strings read as bytes (not UTF-8: a
    conformant proto3 runtime refuses it) is decoded so, from pbraw, with
    invalid_utf8 set."""

    def __init__(self, frames):
        self.frames = frames
        self.env = None
        self.error = None
        self.body = None
        self.invalid_utf8 = False
        if len(frames) != 1:
            self.error = f"{len(frames)} frames"
            return
        try:
            self.env = pb.Envelope.FromString(frames[0])
        except DecodeError as e:
            self.error = f"decode: {e}"
            try:
                self.env = pbraw.Envelope.FromString(frames[0])
                self.invalid_utf8 = True
            except DecodeError:
                return
        self.body = self.env.WhichOneof("body")

    @property
    def msg(self):
        return getattr(self.env, self.body) if self.body else None

    def __repr__(self):
        if self.env is None:
            return f"<Msg undecodable {self.error}>"
        return f"<Msg {self.body} req_id={self.env.req_id} {str(self.msg)[:200]!r}>"


_ctx = None


def context():
    global _ctx
    if _ctx is None:
        _ctx = zmq.Context()
        _ctx.setsockopt(zmq.MAX_SOCKETS, 4096)
    return _ctx


class Peer:
    """A DEALER connected to addr.  curve: (Keys of this peer, the server's
    public key as Z85 bytes) or None for plain text."""

    def __init__(self, addr, curve=None, routing_id=None, monitor=False, maxmsg=MAX_MSG,
                 reconnect_ms=None, sndhwm=None):
        self.addr = addr
        self.sock = context().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, maxmsg)
        if sndhwm is not None:
            self.sock.setsockopt(zmq.SNDHWM, sndhwm)
        if reconnect_ms is not None:
            self.sock.setsockopt(zmq.RECONNECT_IVL, reconnect_ms)
        if routing_id is not None:
            self.sock.setsockopt(zmq.ROUTING_ID, routing_id)
        if curve:
            keys, server = curve
            self.sock.curve_secretkey = keys.secret
            self.sock.curve_publickey = keys.public
            self.sock.curve_serverkey = server if isinstance(server, bytes) else server.encode()
        self.mon = self.sock.get_monitor_socket() if monitor else None
        self.sock.connect(addr)
        self.next_req_id = 1000
        self.inbox = []          # messages received and not consumed by request()
        self.closed = False

    def close(self):
        if self.closed:
            return
        self.closed = True
        if self.mon is not None:
            try:
                self.sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self.mon.close(0)
        self.sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- sending
    def send_raw(self, *frames, timeout=10):
        """Send frames (bytes each) as one multi-part message.  Returns False
        when the socket would not take it within timeout seconds."""
        frames = [bytes(f) for f in frames]
        if not frames:
            return True
        self.sock.setsockopt(zmq.SNDTIMEO, int(timeout * 1000))
        try:
            self.sock.send_multipart(frames)
        except zmq.Again:
            return False
        return True

    def send(self, body, msg=None, req_id=0, protocol=PROTOCOL):
        return self.send_raw(envelope(body, msg, req_id, protocol).SerializeToString())

    # -- receiving
    def recv(self, timeout=5.0):
        """The next message (a Msg), or None after timeout seconds."""
        if self.inbox:
            return self.inbox.pop(0)
        if not self.sock.poll(int(max(0, timeout) * 1000), zmq.POLLIN):
            return None
        return Msg(self.sock.recv_multipart())

    def drain(self, timeout=0.0):
        out = []
        while (m := self.recv(timeout)) is not None:
            out.append(m)
        return out

    def request(self, body, msg=None, timeout=30.0, req_id=None, raw=None):
        """Send a request (or raw bytes with that req_id already in them) and
        return the reply with the same req_id (a Msg), or None on timeout.
        Other messages received meanwhile are kept in self.inbox."""
        if req_id is None:
            self.next_req_id += 1
            req_id = self.next_req_id
        if raw is not None:
            self.send_raw(raw)
        else:
            self.send(body, msg, req_id=req_id)
        deadline = time.time() + timeout
        kept = []
        try:
            while time.time() < deadline:
                if not self.sock.poll(int(max(1, (deadline - time.time()) * 1000)), zmq.POLLIN):
                    break
                m = Msg(self.sock.recv_multipart())
                if m.env is not None and m.env.req_id == req_id and m.body != "event":
                    return m
                kept.append(m)
            return None
        finally:
            self.inbox.extend(kept)

    # -- the socket monitor
    def monitor_events(self, timeout=5.0, until=None):
        """Socket monitor events (dicts: event, value, endpoint) for up to
        timeout seconds, or until one whose event is in `until` arrives."""
        out = []
        deadline = time.time() + timeout
        while self.mon is not None and time.time() < deadline:
            if not self.mon.poll(int(max(1, (deadline - time.time()) * 1000)), zmq.POLLIN):
                break
            ev = zmq.utils.monitor.recv_monitor_message(self.mon)
            out.append(ev)
            if until and ev["event"] in until:
                break
        return out


class Client(Peer):
    """The client protocol (coordinator/cli/cli_client.c)."""

    def submit(self, spec, path="attack.yaml", timeout=60.0):
        return self.request("submit", pb.Submit(spec=spec, path=path), timeout)

    def status(self, sweep=0, timeout=30.0):
        return self.request("status", pb.StatusRequest(sweep=sweep), timeout)

    def workers(self, timeout=30.0):
        return self.request("workers", pb.WorkersRequest(), timeout)

    def results(self, sweep, offset=0, limit=0, timeout=60.0):
        return self.request("results", pb.ResultsRequest(sweep=sweep, offset=offset, limit=limit),
                            timeout)

    def cancel(self, sweep, timeout=30.0):
        return self.request("cancel_sweep", pb.CancelRequest(sweep=sweep), timeout)

    def history(self, level="debug", sweep=0, timeout=30.0):
        """The coordinator's event ring (Subscribe with history, no follow):
        the Event messages, or None when HistoryEnd did not come.  Events
        that are not UTF-8 come from pbraw (their strings are bytes) and are
        counted in self.history_invalid_utf8."""
        self.next_req_id += 1
        rid = self.next_req_id
        self.send("subscribe", pb.Subscribe(level=level, sweep=sweep, history=True,
                                            follow=False), req_id=rid)
        self.history_invalid_utf8 = 0
        events = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.recv(deadline - time.time())
            if m is None:
                break
            if m.body == "event":
                events.append(m.msg)
                self.history_invalid_utf8 += m.invalid_utf8
            elif m.body == "history_end" and m.env.req_id == rid:
                return events
            elif m.body == "error" and m.env.req_id == rid:
                return None
        return None


def text(v):
    """A string field as str, whether it came from pb (str) or pbraw (bytes)."""
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def answered(c, timeout=30.0, curve=None):
    """Whether the coordinator answers a StatusRequest on a fresh connection."""
    with Client(c.addr, curve=curve) as cl:
        m = cl.status(timeout=timeout)
        return m is not None and m.body == "status_reply"


class Worker(Peer):
    """A worker as worker/main.c speaks the protocol (docs/protocol.md,
    "Workers").  held: {task: Assign} leased to it and not answered yet."""

    _n = 0

    def __init__(self, addr, worker_id=None, name="attacker", host="attacker-host", slots=1,
                 version="attacker", datasets=(("mnist", DRY_RUN),), **kw):
        super().__init__(addr, **kw)
        Worker._n += 1
        self.worker_id = worker_id or f"attacker:{os.getpid()}:{Worker._n:04x}{time.time_ns() & 0xffff:04x}"
        self.name, self.host, self.slots, self.version = name, host, slots, version
        self.datasets = list(datasets)
        self.hb_ms = 1000
        self.welcomed = 0
        self.session_secret = b""   # from the first Welcome that carried one (never sent
                                    # unless a Hello passes session_secret=)
        self.disconnects = []
        self.rejects = []
        self.cancels = []
        self.assigns = []        # every Assign received, in order
        self.held = {}           # task -> Assign, until answered or cancelled
        self.offers = []
        self.chunks = []
        self.other = []
        self._last_hb = 0.0
        self.heartbeat_running = True   # list held tasks in heartbeats
        self.auto_heartbeat = True
        self._xfer = 1

    # -- messages a worker sends
    def hello(self, **over):
        m = pb.Hello(worker_id=over.pop("worker_id", self.worker_id),
                     name=over.pop("name", self.name), host=over.pop("host", self.host),
                     slots=over.pop("slots", self.slots), version=over.pop("version", self.version),
                     session_secret=over.pop("session_secret", b""))
        for ds in over.pop("datasets", self.datasets):
            m.datasets.add(name=ds[0], fingerprint=ds[1])
        assert not over, over
        self.send("hello", m)

    def register(self, timeout=30.0, **over):
        """Hello, then wait for Welcome; returns it (a Msg) or None."""
        n = self.welcomed
        self.hello(**over)
        if not self.wait(lambda: self.welcomed > n, timeout, raise_=False):
            return None
        return self.welcome

    def heartbeat(self, running=None, free_slots=None):
        hb = pb.Heartbeat()
        if running is None:
            running = [(a.task, a.attempt, 0) for a in self.held.values()] \
                if self.heartbeat_running else []
        for task, attempt, epoch in running:
            hb.running.add(task=task, attempt=attempt, epoch=epoch)
        hb.free_slots = max(0, self.slots - len(self.held)) if free_slots is None else free_slots
        self.send("heartbeat", hb)
        self._last_hb = time.time()

    def progress(self, task, attempt, epoch, epochs, val_score=float("nan"), train_loss=0.5):
        self.send("progress", pb.Progress(task=task, attempt=attempt, epoch=epoch, epochs=epochs,
                                          val_score=val_score, train_loss=train_loss))

    def result(self, task, attempt, **fields):
        """A Result; defaults look like a --dry-run worker's ok answer.
        Forget the task (it is answered)."""
        r = dict(ok=True, score=0.75, accuracy=0.75, log_loss=0.5, f1_macro=0.75,
                 train_score=float("nan"), fit_seconds=0.01, epochs=1, n_eval=100)
        r.update(fields)
        self.send("result", pb.Result(task=task, attempt=attempt, **r))
        self.held.pop(task, None)

    def answer(self, assign, **fields):
        self.result(assign.task, assign.attempt, **fields)

    def goodbye(self, drain=False):
        self.send("goodbye", pb.Goodbye(drain=drain))

    def datasets_msg(self, datasets):
        m = pb.Datasets()
        for ds in datasets:
            m.datasets.add(name=ds[0], fingerprint=ds[1])
        self.send("datasets", m)

    def fetch_chunk(self, dataset, fingerprint, file, offset=0, size=65536, xfer=None):
        if xfer is None:
            self._xfer += 1
            xfer = self._xfer
        self.send("fetch_chunk", pb.FetchChunk(dataset=dataset, fingerprint=fingerprint,
                                               file=file, offset=offset, size=size, xfer=xfer))
        return xfer

    def barrier(self, timeout=30.0):
        """Return once every message this worker sent before has been handled
        by the coordinator (messages of one connection are handled in order;
        a FetchChunk for a dataset no sweep has gets a DatasetChunk with an
        error).  False on timeout, or when this peer is not registered (it
        gets Disconnect instead: see self.disconnects)."""
        n_disc = len(self.disconnects)
        xfer = self.fetch_chunk("attacker-barrier", "0" * 64, "train-images-idx3-ubyte",
                                size=1)
        return self.wait(lambda: any(c.xfer == xfer for c in self.chunks) or
                         len(self.disconnects) > n_disc, timeout, raise_=False) and \
            any(c.xfer == xfer for c in self.chunks)

    # -- reading
    def pump(self, timeout=0.05):
        """Read and file what arrives within timeout; heartbeat when due."""
        deadline = time.time() + timeout
        while True:
            if self.auto_heartbeat and self.welcomed and \
                    time.time() - self._last_hb >= self.hb_ms / 1000.0 / 2:
                self.heartbeat()
            left = deadline - time.time()
            m = self.recv(min(max(left, 0), self.hb_ms / 1000.0 / 2))
            if m is None:
                if time.time() >= deadline:
                    return
                continue
            self._file(m)

    def _file(self, m):
        b = m.body
        if b == "welcome":
            self.welcomed += 1
            self.welcome = m
            if m.msg is not None and m.msg.session_secret:
                self.session_secret = m.msg.session_secret
            self.hb_ms = max(10, m.msg.heartbeat_ms)
        elif b == "assign":
            self.assigns.append(m.msg)
            self.held[m.msg.task] = m.msg
        elif b == "cancel":
            self.cancels.append(m.msg)
            a = self.held.get(m.msg.task)
            if a is not None and a.attempt == m.msg.attempt:
                del self.held[m.msg.task]
        elif b == "disconnect":
            self.disconnects.append(m.msg)
        elif b == "reject":
            self.rejects.append(m.msg)
        elif b == "dataset_offer":
            self.offers.append(m.msg)
        elif b == "dataset_chunk":
            self.chunks.append(m.msg)
        elif b == "heartbeat":
            pass
        else:
            self.other.append(m)

    def wait(self, pred, timeout=30.0, what="condition", raise_=True):
        """Pump until pred() is true; returns its value (or raises / False)."""
        deadline = time.time() + timeout
        while True:
            v = pred()
            if v:
                return v
            if time.time() >= deadline:
                if raise_:
                    raise RuntimeError(f"worker {self.worker_id}: timed out after {timeout}s "
                                       f"waiting for {what}")
                return False
            self.pump(min(0.05, max(0.001, deadline - time.time())))


# --- the coordinator process -------------------------------------------------------



def sanitized(pid):
    """True when the process runs under ASan (its shadow memory and
    quarantine inflate RSS; it is also several times slower)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return any("libasan" in line or "libclang_rt.asan" in line for line in f)
    except OSError:
        return False




def alive(c):
    return c.coord is not None and c.coord.poll() is None


def comparable(res):
    """A sweep's results without the wall-clock columns, for comparing an
    attacked run to a baseline."""
    cv = {k: v for k, v in res["cv_results"].items() if not harness.timing_column(k)}
    return cv, res["sweep"].get("refit_test_score"), res["sweep"].get("best_trial")


def bad_messages(c, timeout=30):
    """The coordinator's count of bad messages so far, this probe's included:
    a fresh peer sends one undecodable frame, which the coordinator logs
    with its running total ('bad message dropped' is logged once a minute
    per peer, but total counts every one).  Sync the attackers' own
    connections first (a reply or a barrier): the ROUTER reads its peers'
    pipes fairly, not in the order they were written."""
    n = len(c.log_events(msg="bad message dropped"))
    with Peer(c.addr) as p:
        p.send_raw(b"\xff\xff\xff")
        c.wait_for(lambda: len(c.log_events(msg="bad message dropped")) > n, timeout,
                   "the probe's bad message to be logged")
    return int(c.log_events(msg="bad message dropped")[-1]["total"])
