"""pbwire.py: talk to a coordinator from Python through a real ZeroMQ
socket, as an attacker or a misconfigured peer would: pyzmq for the socket
(CURVE included) and the protobuf classes protoc generates from
proto/hptune.proto, at import time, into a temporary directory.

Used by test_roles.py and test_quotas.py (issue 11, findings 6 and 7).
Needs python3-zmq, python3-protobuf and protoc (deploy/install-deps.sh);
a test that imports this skips (exit 77) when one is missing.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import SRC, on_cleanup, skip

try:
    import zmq
except ImportError:
    skip("python3-zmq is not installed")
if not shutil.which("protoc"):
    skip("protoc is not installed")


def _load_pb():
    out = tempfile.mkdtemp(prefix="hpt-pb-")
    on_cleanup(lambda: shutil.rmtree(out, ignore_errors=True))
    proto = os.path.join(SRC, "proto")
    r = subprocess.run(["protoc", f"-I{proto}", f"--python_out={out}",
                        os.path.join(proto, "hptune.proto")], capture_output=True, text=True)
    if r.returncode != 0:
        skip("protoc failed: " + r.stderr.strip())
    sys.path.insert(0, out)
    try:
        import hptune_pb2
    except ImportError as e:
        skip(f"python3-protobuf cannot load the generated module: {e}")
    return hptune_pb2


pb = _load_pb()
CTX = zmq.Context.instance()


def read_keys(path):
    """(public, secret) Z85 bytes from an hptune keygen .key file (secret
    None for a .pub)."""
    pub = sec = None
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            v = v.strip().strip('"').encode()
            if k.strip() == "public-key":
                pub = v
            elif k.strip() == "secret-key":
                sec = v
    return pub, sec


def envelope(req_id=0, **body):
    """An Envelope with one body field set: envelope(status=pb.StatusRequest())."""
    env = pb.Envelope(protocol=pb.PROTOCOL_VERSION, req_id=req_id)
    (name, msg), = body.items()
    getattr(env, name).CopyFrom(msg)
    return env


class Peer:
    """One DEALER connection to the coordinator.  keys: the client's .key
    file (CURVE) and the server's public key (Z85 bytes or a .pub path);
    source: a local address to connect from (e.g. "127.0.0.2", another
    principal for a coordinator without keys)."""

    def __init__(self, addr, key=None, server=None, source=None):
        self.sock = CTX.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 100000)
        self.sock.setsockopt(zmq.RCVHWM, 100000)
        if key:
            pub, sec = read_keys(key)
            if isinstance(server, str) and os.path.exists(server):
                server = read_keys(server)[0]
            self.sock.curve_publickey = pub
            self.sock.curve_secretkey = sec
            self.sock.curve_serverkey = server
        if source:
            host, _, port = addr.rpartition(":")
            addr = f"tcp://{source}:0;{host[len('tcp://'):]}:{port}"
        self.sock.connect(addr)
        self.next_id = 1

    def send(self, env):
        self.sock.send(env.SerializeToString())

    def send_raw(self, data, flags=0):
        self.sock.send(data, flags)

    def recv(self, timeout=5.0):
        """The next Envelope, or None after timeout seconds."""
        if not self.sock.poll(int(timeout * 1000)):
            return None
        env = pb.Envelope()
        env.ParseFromString(self.sock.recv())
        return env

    def request(self, timeout=5.0, **body):
        """Send a request and return its reply (matching req_id; events and
        other replies are skipped), or None after timeout seconds."""
        rid = self.next_id
        self.next_id += 1
        self.send(envelope(req_id=rid, **body))
        end = time.time() + timeout
        while time.time() < end:
            env = self.recv(end - time.time())
            if env is None:
                return None
            if env.req_id == rid:
                return env
        return None

    def drain(self, timeout=0.2):
        """Every message waiting (and arriving within timeout of the last)."""
        out = []
        while True:
            env = self.recv(timeout)
            if env is None:
                return out
            out.append(env)

    def close(self):
        self.sock.close(0)


def hello(worker_id, slots=1, name="fake", datasets=()):
    return pb.Hello(worker_id=worker_id, name=name, host="fakehost", slots=slots,
                    version="0.0.0-test", datasets=[pb.DatasetInfo(**d) for d in datasets])


def body(env):
    """The name of an Envelope's body ("error", "disconnect", ...) or None."""
    return env.WhichOneof("body") if env is not None else None
