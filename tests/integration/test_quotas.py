"""Quotas, retention and rate limits (docs/security.md "Quotas and limits";
issue 11, finding 7), each attack made through real sockets (the hptune CLI,
and pyzmq as a raw peer), on a coordinator without keys, where a principal
is the peer's address (pyzmq connects from 127.0.0.x to be another one).

Cluster A, small quotas and no workers (sweeps stay queued, so active):
  - max_active_sweeps_per_key: the third active sweep of one address is
    refused (CLI exit 1, the documented message); another address still
    submits; max_active_sweeps refuses beyond the total; max_spec_bytes
    refuses a large spec before it is parsed;
  - the owners are journaled: after a restart the quota still counts them;
  - keep_sweeps: finished sweeps beyond it leave memory and the journal
    (sweeps, trials, tasks rows), with a sweep.deleted event, and ids are
    not reused.
Cluster B, rate limits, with a runnable sweep (so that each Hello gets
leases, as in the attack of the issue):
  - 1,000 Hellos on one connection (the same worker id, then a new id each
    time) write a bounded number of event rows, and `status` keeps
    answering promptly;
  - 3,000 garbage frames and 2,000 wrong-version envelopes on one
    connection: a bounded number of answers and log lines;
  - Submits past submit_burst on one connection are refused with code 5,
    then dropped once the bad-message burst is spent;
  - keep_events prunes the events table.
"""
import os
import threading
import time

from harness import CLI, Cluster, check, finish, need_data
from pbwire import Peer, body, envelope, hello, pb

need_data("mnist")

SPEC = """
name: {name}
dataset: mnist
test_objective: hash
method: random
seed: {seed}
cv: {{folds: 2}}
refit: false
parameters:
  units: {{distribution: int_uniform, min: 4, max: 64}}
  epochs: {{value: 1}}
budget: {{max_trials: {trials}}}
"""


def spec(name, seed=1, trials=4, pad=0):
    return SPEC.format(name=name, seed=seed, trials=trials) + ("#" * pad + "\n" if pad else "")


def launch(c, text, name):
    path = os.path.join(c.dir, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return c.cli("launch", path, check_rc=False)


def submit_raw(p, text):
    return p.request(submit=pb.Submit(spec=text, path="raw.yaml"))


# === cluster A: quotas and retention ======================================================
A_FLAGS = ["--max-active-sweeps-per-key", "2", "--max-active-sweeps", "3",
           "--max-spec-bytes", "2048", "--keep-sweeps", "2"]
a = Cluster(name="quotas")
a.start_coordinator(*A_FLAGS)

# Plain mode: one connection may work and submit (every peer has every role).
p = Peer(a.addr)
p.send(envelope(hello=hello("plain-worker", slots=1)))
check(body(p.recv(5)) == "welcome", "a plain-text Hello was not welcomed")
rep = p.request(status=pb.StatusRequest())
check(body(rep) == "status_reply", f"status on the same plain connection: {rep}")
p.send(envelope(goodbye=pb.Goodbye(drain=False)))
p.close()

# max_active_sweeps_per_key (per address without keys).
r1 = launch(a, spec("one", 1), "one")
r2 = launch(a, spec("two", 2), "two")
check(r1.returncode == 0 and r2.returncode == 0, f"the first two launches: {r1.stderr} {r2.stderr}")
ids = [int(r1.stdout.split()[0]), int(r2.stdout.split()[0])]
r3 = launch(a, spec("three", 3), "three")
check(r3.returncode == 1 and "quota: address 127.0.0.1 has 2 active sweeps" in r3.stderr and
      "max_active_sweeps_per_key" in r3.stderr, f"the third launch: {r3.returncode} {r3.stderr}")
# Another address is another principal ...
b2 = Peer(a.addr, source="127.0.0.2")
rep = submit_raw(b2, spec("other", 4))
check(body(rep) == "submit_reply", f"a submission from 127.0.0.2: {rep}")
ids.append(rep.submit_reply.sweep)
# ... but the coordinator's total is 3.
b3 = Peer(a.addr, source="127.0.0.3")
rep = submit_raw(b3, spec("fourth", 5))
check(body(rep) == "error" and rep.error.code == 5 and "max_active_sweeps allows" in
      rep.error.message, f"a fourth active sweep: {rep}")
# max_spec_bytes: refused before it is parsed (this one would not parse).
rep = submit_raw(b3, "x" * 3000)
check(body(rep) == "error" and rep.error.code == 5 and "3000 bytes" in rep.error.message and
      "max_spec_bytes" in rep.error.message, f"a 3000-byte spec: {rep}")
r = launch(a, spec("big", 6, pad=3000), "big")
check(r.returncode == 1 and "max_spec_bytes" in r.stderr, f"a big spec: {r.returncode} {r.stderr}")
check(a.wait_log(msg="submission refused by a quota", timeout=5) is not None,
      "quota refusals are not logged")
names = sorted(n for (n,) in a.q("SELECT name FROM sweeps"))
check(names == ["one", "other", "two"], f"sweeps in the journal: {names}")

# Cancelling one makes room for its owner.
a.cli("cancel", str(ids[0]))
r = launch(a, spec("after-cancel", 7), "after-cancel")
check(r.returncode == 0, f"a launch after a cancel: {r.stderr}")
ids.append(int(r.stdout.split()[0]))

# The owners survive a restart: 127.0.0.1 still has two active sweeps.
a.stop()
a.start_coordinator(*A_FLAGS)
r = launch(a, spec("after-restart", 8), "after-restart")
check(r.returncode == 1 and "has 2 active sweeps" in r.stderr,
      f"a launch after the restart: {r.returncode} {r.stderr}")
owners = dict(a.q("SELECT name, owner FROM sweeps"))
check(owners.get("one") == "addr:127.0.0.1" and owners.get("other") == "addr:127.0.0.2",
      f"owners in the journal: {owners}")

# Retention: keep_sweeps 2.  Finish everything: four finished sweeps.
for sid in ids[1:]:
    a.cli("cancel", str(sid))
t0 = time.time()
try:
    a.wait_for(lambda: len(a.q("SELECT id FROM sweeps")) == 2, timeout=30,
               what="retention to delete the oldest finished sweeps")
except RuntimeError as e:
    check(False, str(e) + "\n" + a.coord_log()[-2000:])
left = sorted(i for (i,) in a.q("SELECT id FROM sweeps"))
check(left == sorted(ids[-2:]), f"sweeps kept {left}, expected the last two to finish {ids[-2:]}")
gone = ids[:2]
for table, col in (("tasks", "sweep"), ("trials", "sweep"), ("sweep_summaries", "sweep")):
    n = a.q(f"SELECT COUNT(*) FROM {table} WHERE {col} IN ({gone[0]}, {gone[1]})")[0][0]
    check(n == 0, f"{n} rows of deleted sweeps left in {table}")
ev = a.wait_log(msg="finished sweep deleted (retention)", timeout=5)
check(ev is not None and "keep_sweeps" in ev.get("reason", ""), f"no sweep.deleted event: {ev}")
st = a.cli("status", str(gone[0]), check_rc=False)
check(st.returncode == 1 and "no sweep" in st.stderr, f"status of a deleted sweep: {st.stderr}")
# Ids are never reused, even across a restart.
a.stop()
a.start_coordinator(*A_FLAGS)
r = launch(a, spec("fresh", 9), "fresh")
check(r.returncode == 0 and int(r.stdout.split()[0]) == max(ids) + 1,
      f"the id after deletions and a restart: {r.stdout} {r.stderr}")
b2.close()
b3.close()
a.stop()

# === cluster B: rate limits ===============================================================
b = Cluster(name="limits")
b.start_coordinator("--hello-burst", "5", "--hello-per-min", "60", "--bad-burst", "20",
                    "--bad-per-min", "60", "--submit-burst", "8", "--submit-per-min", "60",
                    "--keep-events", "300")
sid = b.launch(spec("runnable", 11, trials=2000))   # runnable by the fake workers below


class StatusProbe(threading.Thread):
    """Ask for status every 50 ms on its own connection; record latencies."""

    def __init__(self, addr):
        super().__init__(daemon=True)
        self.addr, self.times, self.fails, self.stop_flag = addr, [], 0, False

    def run(self):
        p = Peer(self.addr, source="127.0.0.5")
        while not self.stop_flag:
            t = time.time()
            rep = p.request(timeout=5, status=pb.StatusRequest())
            if body(rep) == "status_reply":
                self.times.append(time.time() - t)
            else:
                self.fails += 1
            time.sleep(0.05)
        p.close()


def events():
    return b.q("SELECT COUNT(*), IFNULL(MAX(rowid), 0) FROM events")[0]


DS = [{"name": "mnist", "fingerprint": "dry-run", "n_train": 60000, "n_test": 10000}]
probe = StatusProbe(b.addr)
probe.start()

# 1,000 Hellos on one connection, the same worker id: it registers once.
time.sleep(0.5)
n0, top0 = events()
f = Peer(b.addr, source="127.0.0.6")
t = time.time()
for i in range(1000):
    f.send(envelope(hello=hello("flooder-1", slots=20, datasets=DS)))
welcomes = sum(body(e) == "welcome" for e in f.drain(1.0))
time.sleep(0.5)
n1, top1 = events()
print(f"1,000 Hellos (one id): {welcomes} welcomed, {top1 - top0} event rows, "
      f"{time.time() - t:.2f} s", flush=True)
check(1 <= welcomes <= 10, f"{welcomes} of 1,000 repeated Hellos were answered (burst 5)")
# worker.joined once; once it falls silent, its 20 leases requeued and worker.left.
check(top1 - top0 <= 30, f"1,000 repeated Hellos wrote {top1 - top0} event rows")
# ... then a new worker id with every Hello (each re-registration requeues
# the leases the last one got): still a bounded number of rows.
t = time.time()
for i in range(1000):
    f.send(envelope(hello=hello(f"flooder-{i + 2}", slots=20, datasets=DS)))
f.drain(1.0)
time.sleep(0.5)
n2, top2 = events()
print(f"1,000 Hellos (new ids): {top2 - top1} event rows, {time.time() - t:.2f} s", flush=True)
check(top2 - top1 <= 400, f"1,000 Hellos with new worker ids wrote {top2 - top1} event rows")
check(b.wait_log(msg="rate limit: message dropped", kind="hello", timeout=5) is not None,
      "the dropped Hellos were not logged")
hello_lines = b.log_events(msg="rate limit: message dropped", kind="hello")
check(len(hello_lines) <= 2, f"{len(hello_lines)} rate-limit lines for one connection's Hellos")
f.close()

# Garbage: envelopes of another protocol version (each was answered with a
# Reject), then random bytes.
g = Peer(b.addr, source="127.0.0.7")
bad_version = pb.Envelope(protocol=99, status=pb.StatusRequest()).SerializeToString()
for i in range(2000):
    g.send_raw(bad_version)
for i in range(3000):
    g.send_raw(os.urandom(40))
answers = g.drain(1.5)
print(f"5,000 bad frames: {len(answers)} answers", flush=True)
check(5 <= len(answers) <= 25, f"{len(answers)} answers to 5,000 bad frames (burst 20)")
dropped = [e for e in b.log_events(msg="bad message dropped")]
check(1 <= len(dropped) <= 3, f"{len(dropped)} 'bad message dropped' lines for one connection")
check(b.wait_log(msg="rate limit: message dropped", kind="bad message", timeout=5) is not None,
      "the dropped bad frames were not logged")
g.close()

# Submissions past the burst: refused with code 5, then dropped.
s = Peer(b.addr, source="127.0.0.8")
for i in range(60):
    s.send(envelope(req_id=i + 1, submit=pb.Submit(spec="name: [", path=f"bad{i}.yaml")))
replies = s.drain(1.5)
codes = [e.error.code for e in replies if body(e) == "error"]
print(f"60 Submits: codes {codes.count(2)}x2 {codes.count(5)}x5 of {len(replies)}", flush=True)
check(codes.count(2) == 8, f"{codes.count(2)} submissions parsed (submit_burst 8)")
check(codes.count(5) >= 1 and len(replies) <= 8 + 21,
      f"rate-limited submissions: {codes.count(5)} refused, {len(replies)} answers in all")
limited = [e for e in replies if body(e) == "error" and e.error.code == 5]
check(limited and "submit_burst" in limited[0].error.message, f"the refusal: {limited[:1]}")
s.close()

probe.stop_flag = True
probe.join(10)
worst = max(probe.times or [99])
print(f"status during the floods: {len(probe.times)} answers, worst {worst * 1e3:.0f} ms, "
      f"{probe.fails} failed", flush=True)
check(probe.fails == 0 and len(probe.times) >= 10, f"status: {probe.fails} failed")
check(worst < 1.0, f"status took {worst:.2f} s during the floods")
check(b.cli("status").returncode == 0, "the coordinator stopped answering")

# keep_events 300: 400 workers that say Hello once each and fall silent
# write more than that (joined, their lease requeued, left) ...
many = [Peer(b.addr, source="127.0.0.9") for i in range(400)]
for i, m in enumerate(many):
    m.send(envelope(hello=hello(f"many-{i}", slots=1, datasets=DS)))
time.sleep(2)
for m in many:
    m.close()
check(events()[1] > 300 + top2, f"the Hellos wrote too few events to test retention: {events()}")
# ... and the table is pruned at the next retention run.
try:
    b.wait_for(lambda: events()[0] <= 300 + 50, timeout=30,
               what="the events table to be pruned to keep_events")
except RuntimeError as e:
    check(False, f"{e}: {events()}")
check(b.wait_log(msg="old events deleted from the journal", timeout=5) is not None,
      "the events' retention was not logged")
b.stop()
finish()
