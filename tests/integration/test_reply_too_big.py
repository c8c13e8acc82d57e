"""A list too big for one message comes in pages, and the coordinator keeps
serving while it sends them.

Most replies are bounded by construction: submit, cancel and history-end
replies are a few fixed-size fields, and results are paged by bytes.  The
StatusReply for all sweeps (one SweepInfo per sweep ever submitted) and the
WorkersReply (one WorkerInfo per connected worker) are paged the same way
(docs/protocol.md "Pages").  This test drives the second far past
HPT_PROTO_MAX_MSG (16 MiB): fake-workers registers about 1,300 workers, each
with its id, name, host, version and 64 datasets at the longest the
coordinator keeps (about 13.5 kB of WorkerInfo each).  `hptune workers` must
then list every one of them, once each and in id order (it reads at least
two pages), in table and JSON form; no reply is refused for its size (the
ErrorReply fallback for a reply that cannot be sent stays, and would show
as a 'reply not sent' warning); and status keeps answering.
"""
import json
import os
import re
import subprocess
import time

from harness import Cluster, check, finish

FAKE = os.environ["HPT_FAKE_WORKERS"]
CAP = 16 * 1024 * 1024           # HPT_PROTO_MAX_MSG
PER_WORKER = 13_500              # a little under a full WorkerInfo's packed size
N = CAP // PER_WORKER + 60       # comfortably over the cap (~17 MB)


def workers_connected(c):
    r = c.cli("status", "--timeout", "10")
    m = re.search(r"workers: (\d+) connected", r.stdout)
    return int(m.group(1)) if m else -1


# Heartbeats every 500 ms, liveness 20: a fake worker whose heartbeats queue
# behind 1,300 others' is not expired while the test runs.
c = Cluster(name="bigreply", hb_ms=500, liveness=20)
c.start_coordinator()
fake = subprocess.Popen([FAKE, c.addr, str(N)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
line = fake.stdout.readline()
if not check(line.strip() == f"ready {N}", f"fake-workers did not start: {line!r}"):
    fake.stdin.close()
    print(fake.stderr.read())
    finish()
c.wait_for(lambda: workers_connected(c) == N, timeout=120, what=f"{N} workers registered")

t0 = time.time()
r = c.cli("workers", "--format", "json", "--timeout", "60", check_rc=False)
took = time.time() - t0
print(f"hptune workers with {N} workers: exit {r.returncode} after {took:.1f}s, "
      f"{len(r.stdout)} bytes", flush=True)
check(r.returncode == 0, f"hptune workers exited {r.returncode}; stderr: {r.stderr}")
ids = [w["id"] for w in json.loads(r.stdout)["workers"]] if r.returncode == 0 else []
check(len(ids) == N and len(set(ids)) == N,
      f"hptune workers listed {len(ids)} workers ({len(set(ids))} distinct), not {N}")
check(ids == sorted(ids, key=lambda s: s.encode()), "the workers are not in id order")
check(len(r.stdout) > CAP, f"the listing is {len(r.stdout)} bytes: no more than one page's worth")
r = c.cli("workers", "--timeout", "60", check_rc=False)
check(r.returncode == 0 and len(r.stdout.splitlines()) >= N + 1,
      f"hptune workers (table): exit {r.returncode}, {len(r.stdout.splitlines())} lines: "
      f"{r.stderr}")

# Nothing was refused for its size, and the coordinator is still serving.
events = c.log_events(msg="reply not sent")
check(not events, f"replies refused: {events[:3]}")
check(c.coord.poll() is None, "the coordinator died")
check(workers_connected(c) == N, "status no longer answers with every worker")

# Once the fake workers have gone, the reply fits again.
fake.stdin.close()
fake.wait(timeout=30)
check(fake.returncode == 0, f"fake-workers exited {fake.returncode}")
c.wait_for(lambda: workers_connected(c) == 0, timeout=60, what="the fake workers expired")
r = c.cli("workers", check_rc=False)
check(r.returncode == 0, f"hptune workers after the workers left: exit {r.returncode}: "
      f"{r.stderr}")

finish()
