"""Repeated log-history replays (issue 11, second review): a Subscribe with
history makes the coordinator send every event of its ring that matches,
so one client asking again and again would keep the loop serialising
events.  Such requests are paced per connection and per principal
(history_per_min, history_burst); one over the limit is refused with
ErrorReply code 5 naming the options, and costs no replay.

Attack: with --history-burst 4 --history-per-min 1, one connection asks
for the history 10 times: the first 4 get their HistoryEnd, the rest are
refused with code 5; a second connection of the same principal (all of
loopback without keys) is refused too; the coordinator still answers.
"""
import attacker as A
from attacker import harness
from harness import check

BURST = 4
c = harness.Cluster(name="history_flood")
c.start_coordinator("--history-burst", str(BURST), "--history-per-min", "1")
# Some events for the ring: a small sweep's submission logs a few.
with A.Client(c.addr) as cl:
    r = cl.submit("name: logged\ndataset: mnist\ntest_objective: hash\nmethod: grid\n"
                  "parameters:\n  units: {value: 8}\n  epochs: {value: 1}\n")
    check(r is not None and r.body == "submit_reply", f"submit: {r}")


def history(cl, req_id):
    """The answer to a history request: 'end' (HistoryEnd, after the
    events), the ErrorReply, or None (no answer)."""
    cl.send("subscribe", A.pb.Subscribe(level="debug", follow=False, history=True),
            req_id=req_id)
    events = 0
    m = cl.recv(3.0)
    while m is not None:
        if m.body == "event":
            events += 1
        elif m.env.req_id == req_id and m.body in ("history_end", "error"):
            return m, events
        m = cl.recv(1.0)
    return None, events


answers = []
with A.Client(c.addr) as cl:
    for i in range(10):
        answers.append(history(cl, 500 + i))
ends = [a for a in answers if a[0] is not None and a[0].body == "history_end"]
refused = [a for a in answers if a[0] is not None and a[0].body == "error"]
check(len(ends) == BURST, f"{len(ends)} replays served, expected the burst of {BURST}")
check(all(e > 0 for _, e in ends), "a served replay carried no events")
check(len(refused) == 10 - BURST and
      all(m.msg.code == 5 and "history_per_min" in m.msg.message for m, _ in refused),
      f"requests over the limit were not refused with code 5: {[a[0] for a in refused]}")
check(all(e == 0 for _, e in refused), "a refused request still replayed events")
with A.Client(c.addr) as cl2:   # the same principal, a new connection
    m, _ = history(cl2, 900)
    check(m is not None and m.body == "error" and m.msg.code == 5,
          f"a new connection of the same principal was not paced: {m}")
check(A.answered(c), "the coordinator does not answer")
harness.finish()
