"""A reply the coordinator cannot send as built is answered with an ErrorReply
that names the cause, and the coordinator keeps serving.

Most replies are bounded by construction: results are paged by bytes (a
page's first row, at most 32 params and 100 x 100 splits, is far below the
cap), and submit, cancel and history-end replies are a few fixed-size
fields.  Two are not: the StatusReply for all sweeps (one SweepInfo per
sweep ever submitted) and the WorkersReply (one WorkerInfo per connected
worker).  This test drives the second past HPT_PROTO_MAX_MSG (16 MiB):
fake-workers registers about 1,300 workers, each with its id, name, host,
version and 64 datasets at the longest the coordinator keeps (about 13.5 kB
of WorkerInfo each).  `hptune workers` must then exit 1 at once (not time
out and exit 3) with a message naming the reply and the message cap, while
status and, once the workers have gone, workers itself answer as usual.
"""
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
r = c.cli("workers", "--timeout", "20", check_rc=False)
took = time.time() - t0
print(f"hptune workers with {N} workers: exit {r.returncode} after {took:.1f}s: "
      f"{r.stderr.strip()}", flush=True)
check(r.returncode == 1, f"hptune workers exited {r.returncode}, not 1 (a clear error); "
      f"stderr: {r.stderr}")
check("workers_reply" in r.stderr and f"exceed the {CAP}-byte message cap" in r.stderr,
      f"the error does not name the reply and the cap: {r.stderr!r}")
m = re.search(r"(\d+) bytes exceed", r.stderr)
check(m and int(m.group(1)) > CAP, f"the error gives no size over the cap: {r.stderr!r}")
check(took < 30, f"hptune workers took {took:.1f}s: it waited for a reply that never came")
check(r.stdout == "", f"hptune workers printed a table anyway: {r.stdout[:200]!r}")
# JSON output asks for the same reply: the same error.
r = c.cli("workers", "--format", "json", "--timeout", "20", check_rc=False)
check(r.returncode == 1 and "message cap" in r.stderr,
      f"hptune workers --format json: exit {r.returncode}: {r.stderr!r}")

# The coordinator logged it (rate-limited per peer) and is still serving.
events = c.log_events(msg="reply not sent")
check(any(e.get("body") == "workers_reply" for e in events),
      f"no 'reply not sent' warning for the workers_reply: {events[:3]}")
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
