"""Many `hptune logs -f` followers (issue 11, second review): each follower
costs the coordinator a send per event and a lookup per client message, so
their number is bounded (max_followers); one more is refused with
ErrorReply code 5 and costs nothing, and a place freed is taken again.

Attack: with --max-followers 3, four connections Subscribe with follow; the
fourth is refused; the three still receive events; when one unsubscribes,
a new follower is admitted.
"""
import attacker as A
from attacker import harness
from harness import check

MAX = 3
c = harness.Cluster(name="followers")
c.start_coordinator("--max-followers", str(MAX))


def follow(cl, req_id):
    cl.send("subscribe", A.pb.Subscribe(level="debug", follow=True, history=False),
            req_id=req_id)
    # An admitted follower gets no answer (events follow); a refused one an
    # ErrorReply with the request's id.
    deadline_msgs = []
    m = cl.recv(2.0)
    while m is not None:
        deadline_msgs.append(m)
        if m.body == "error" and m.env.req_id == req_id:
            return m
        m = cl.recv(0.5)
    return None


followers = [A.Client(c.addr) for _ in range(MAX)]
for i, f in enumerate(followers):
    m = follow(f, 100 + i)
    check(m is None, f"follower {i + 1} of {MAX} was refused: {m}")
extra = A.Client(c.addr)
m = follow(extra, 200)
check(m is not None and m.msg.code == 5 and "max_followers" in m.msg.message,
      f"a follower over max_followers was not refused with code 5: {m}")
# The admitted ones still follow: a submission's events reach them.
with A.Client(c.addr) as cl:
    r = cl.submit("name: followed\ndataset: mnist\ntest_objective: hash\nmethod: grid\n"
                  "parameters:\n  units: {value: 8}\n  epochs: {value: 1}\n")
    check(r is not None and r.body == "submit_reply", f"submit: {r}")
got = 0
for f in followers:
    for _ in range(20):
        m = f.recv(1.0)
        if m is not None and m.body == "event":
            got += 1
            break
check(got == MAX, f"{got} of {MAX} followers received events")
# A place freed is taken again.
followers[0].send("unsubscribe", A.pb.Unsubscribe())
followers[0].close()
ok = False
for attempt in range(10):
    m = follow(extra, 300 + attempt)
    if m is None:
        ok = True
        break
check(ok, "a follower was still refused after one unsubscribed")
for f in followers[1:] + [extra]:
    f.close()
check(A.answered(c), "the coordinator does not answer")
harness.finish()
