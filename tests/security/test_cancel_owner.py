"""Cancel authority (issue 11, second review): with CURVE keys a client key
may cancel only the sweeps it submitted; a key in the authorized-keys
directory's admins/ (the operator's) may cancel any (docs/security.md,
"Roles").

Attacks, through real CURVE connections:
  - bob, another client key, cancels alice's sweep: ErrorReply code 3 naming
    the rule, and the sweep keeps running;
  - a reader key and a worker key cancel it: refused by role, as before;
  - alice cancels her own sweep: done;
  - the operator's admin key cancels bob's sweep with `hptune cancel`
    (the CLI a coordinator host runs): done, exit 0; bob's key with the CLI
    on alice's next sweep: exit 1 with the refusal.
"""
import os
import shutil
import subprocess
import tempfile

import attacker as A
from attacker import harness
from harness import check

SPEC = """
name: {name}
dataset: mnist
test_objective: hash
method: grid
cv: {{folds: 2}}
refit: false
parameters:
  units: {{values: [8, 16, 24, 32]}}
  epochs: {{value: 1}}
"""

keys = tempfile.mkdtemp(prefix="hpt-cancel-")
harness.on_cleanup(lambda: shutil.rmtree(keys, ignore_errors=True))
coord, coord_pub = A.keygen(os.path.join(keys, "coordinator"))
auth = os.path.join(keys, "authorized")
made = {}
for name, role in (("alice", "client"), ("bob", "client"), ("op", "admin"),
                   ("reader", "reader"), ("worker", "worker")):
    k, pub = A.keygen(os.path.join(keys, name), "--role", role)
    os.makedirs(os.path.join(auth, role + "s"), exist_ok=True)
    shutil.copy(pub, os.path.join(auth, role + "s", name + ".pub"))
    made[name] = k

c = harness.Cluster(name="cancel-owner", hb_ms=200, liveness=25)
c.env.update(HPTUNE_CURVE_SECRET=made["op"].path, HPTUNE_SERVER_KEY=coord_pub)
c.start_coordinator("--curve-secret", coord.path, "--authorized-keys", auth)
check("admins=1" in c.coord_log(), "the start-up line does not count the admin key")


def conn(name):
    return A.Client(c.addr, curve=(made[name], coord.public))


def submitted(cl, name):
    m = cl.submit(SPEC.format(name=name))
    check(m is not None and m.body == "submit_reply", f"Submit {name}: {m}")
    return m.msg.sweep if m is not None and m.body == "submit_reply" else 0


def state(cl, sweep):
    m = cl.status(sweep)
    return m.msg.sweeps[0].state if m and m.body == "status_reply" and m.msg.sweeps else None


alice, bob = conn("alice"), conn("bob")
s_alice = submitted(alice, "alices")
s_bob = submitted(bob, "bobs")

m = bob.cancel(s_alice, timeout=10)
check(m is not None and m.body == "error" and m.msg.code == 3,
      f"bob cancelled alice's sweep: {m}")
check(m is not None and m.body == "error" and "only its own sweeps" in m.msg.message
      and "admins/" in m.msg.message, f"the refusal does not say why: {m}")
check(state(alice, s_alice) in ("queued", "running"),
      f"alice's sweep after bob's cancel: {state(alice, s_alice)}")
check("cancel refused: not the sweep's owner" in c.coord_log(),
      "the refusal is not logged")
for name in ("reader", "worker"):
    with conn(name) as cl:
        m = cl.cancel(s_alice, timeout=10)
        check(m is not None and m.body == "error" and m.msg.code == 3,
              f"a {name} key cancelled alice's sweep: {m}")
check(state(alice, s_alice) in ("queued", "running"),
      f"alice's sweep after the reader's and the worker's cancels: {state(alice, s_alice)}")

# Her own: yes.
m = alice.cancel(s_alice)
check(m is not None and m.body == "cancel_reply" and m.msg.cancelled,
      f"alice could not cancel her own sweep: {m}")
check(state(alice, s_alice) == "cancelled", f"alice's sweep: {state(alice, s_alice)}")


def cli_cancel(who, sweep):
    env = dict(os.environ, HPTUNE_COORDINATOR=c.addr, HPTUNE_CURVE_SECRET=made[who].path,
               HPTUNE_SERVER_KEY=coord_pub)
    return subprocess.run([harness.CLI, "cancel", str(sweep)], capture_output=True, text=True,
                          timeout=60, env=env)


# The CLI with bob's key on alice's next sweep: refused, exit 1.
s_alice2 = submitted(alice, "alices-2")
r = cli_cancel("bob", s_alice2)
check(r.returncode == 1 and "only its own sweeps" in r.stderr,
      f"hptune cancel with bob's key on alice's sweep: exit {r.returncode}: {r.stderr}")
check(state(alice, s_alice2) in ("queued", "running"),
      f"alice's second sweep after bob's CLI cancel: {state(alice, s_alice2)}")
# The operator's admin key cancels anybody's.
for sweep in (s_bob, s_alice2):
    r = cli_cancel("op", sweep)
    check(r.returncode == 0 and "cancelled" in r.stdout,
          f"hptune cancel {sweep} with the admin key: exit {r.returncode}: {r.stdout}{r.stderr}")
    check(state(alice, sweep) == "cancelled", f"sweep {sweep}: {state(alice, sweep)}")
alice.close()
bob.close()
check(A.answered(c, curve=(made["op"], coord.public)), "the coordinator does not answer")
harness.finish()
