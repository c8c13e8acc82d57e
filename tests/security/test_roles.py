"""Issue 11, finding 6: with CURVE keys, a key's role limits what it may ask
(docs/security.md, "Roles").

Attacks, each checked through a client key:
  - a key with role worker registers as a worker (Hello is welcomed) but
    cannot Submit or Cancel: refused with ErrorReply code 3, and nothing
    happens;
  - a key with role reader reads (Status, Results, Workers are answered)
    but cannot Submit, Cancel or register as a worker (Disconnect);
  - a client key submits, cancels and reads, but cannot register as a
    worker either (least privilege, docs/security.md);
  - a key with a role line that disagrees with its directory is refused at
    start, so a file's author cannot grant itself a role.

Adapted to the interface that landed (written before it, against a guess):
the roles are worker, client and reader (the guessed "admin" is the client
role), and a key's role is the subdirectory of --authorized-keys its .pub is
in (workers/, clients/, readers/); `hptune keygen --role ROLE` only writes a
role line that must agree with it.  The guess allowed "refused with an
ErrorReply, or not answered"; the docs say a request outside the role gets
ErrorReply code 3, so that is what is checked now (stricter).
"""
import os
import shutil
import tempfile

import attacker as A
from attacker import harness
from harness import check

def make_key(keys, name, role):
    """A key pair with a role: (Keys, pub path).  The only role-specific code
    in this script; the .pub is authorized by copying it into the role's
    subdirectory (authorize() below)."""
    return A.keygen(os.path.join(keys, name), "--role", role)


def authorize(auth, pub, role, name):
    d = os.path.join(auth, role + "s")
    os.makedirs(d, exist_ok=True)
    shutil.copy(pub, os.path.join(d, name + ".pub"))


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

keys = tempfile.mkdtemp(prefix="hpt-roles-")
harness.on_cleanup(lambda: shutil.rmtree(keys, ignore_errors=True))
coord, coord_pub = A.keygen(os.path.join(keys, "coordinator"))
auth = os.path.join(keys, "authorized")
os.mkdir(auth)
# The guessed "admin" role is the client role (docs/security.md, "Roles").
admin, admin_pub = make_key(keys, "admin", "client")
worker, worker_pub = make_key(keys, "worker", "worker")
reader, reader_pub = make_key(keys, "reader", "reader")
for name, pub, role in (("admin", admin_pub, "client"), ("worker", worker_pub, "worker"),
                        ("reader", reader_pub, "reader")):
    authorize(auth, pub, role, name)

# A file's author cannot grant itself a role: a worker's key (role line
# worker) copied into clients/ is a bad file, refused at start.
bad = os.path.join(keys, "authorized-bad")
shutil.copytree(auth, bad)
authorize(bad, worker_pub, "client", "worker-as-client")
cb = harness.Cluster(name="roles-bad")
cb.start_coordinator("--curve-secret", coord.path, "--authorized-keys", bad, wait=False)
harness.exempt(cb.coord)
try:
    rc = cb.coord.wait(15)
except Exception:
    rc = None
    cb.coord.kill()
check(rc is not None and rc != 0,
      f"the coordinator with a worker's key (role line worker) in clients/: exit {rc}")
check("worker-as-client.pub" in cb.coord_log(),
      f"the refusal does not name the bad file: {cb.coord_log()[-800:]}")

c = harness.Cluster(name="roles", hb_ms=200, liveness=25)
c.env.update(HPTUNE_CURVE_SECRET=admin.path, HPTUNE_SERVER_KEY=coord_pub)
c.start_coordinator("--curve-secret", coord.path, "--authorized-keys", auth)


def conn(keys_, cls=A.Client, **kw):
    return cls(c.addr, curve=(keys_, coord.public), **kw)


def sweep_names(cl):
    m = cl.status()
    return sorted(s.name for s in m.msg.sweeps) if m and m.body == "status_reply" else None


def sweep_state(cl, sweep):
    m = cl.status(sweep)
    return m.msg.sweeps[0].state if m and m.body == "status_reply" and m.msg.sweeps else None


def refused(m):
    """A refusal by role: ErrorReply code 3 (docs/security.md, "Roles")."""
    return m is not None and m.body == "error" and m.msg.code == 3


adm = conn(admin)
m = adm.submit(SPEC.format(name="by-admin"))
check(m is not None and m.body == "submit_reply", f"admin: Submit: {m}")
s_admin = m.msg.sweep if m is not None and m.body == "submit_reply" else 0

for role, key in (("worker", worker), ("reader", reader)):
    with conn(key) as cl:
        m = cl.submit(SPEC.format(name=f"by-{role}"), timeout=10)
        check(refused(m), f"a {role} key submitted a sweep: {m}")
        m = cl.cancel(s_admin, timeout=10)
        check(refused(m), f"a {role} key cancelled a sweep: {m}")
    names = sweep_names(adm)
    check(names is not None and f"by-{role}" not in names,
          f"sweeps after the {role} key's Submit: {names}")
    st = sweep_state(adm, s_admin)
    check(st != "cancelled", f"the admin's sweep is {st} after the {role} key's Cancel")
    if st == "cancelled":   # for the next role's check
        m = adm.submit(SPEC.format(name="by-admin-again"))
        s_admin = m.msg.sweep if m is not None and m.body == "submit_reply" else s_admin

# A worker key works as a worker; a reader key reads but does not work.
w = conn(worker, A.Worker, name="role-worker")
check(w.register(timeout=10) is not None, "a worker key's Hello was not welcomed")
w.goodbye()
w.close()
with conn(reader) as cl:
    for what, m in (("Status", cl.status()), ("Workers", cl.workers()),
                    ("Results", cl.results(s_admin))):
        check(m is not None and m.body in ("status_reply", "workers_reply", "results_reply"),
              f"a reader key's {what}: {m}")
r = conn(reader, A.Worker, name="role-reader")
r.hello()
r.heartbeat(running=[], free_slots=1)
r.wait(lambda: r.welcomed or r.disconnects or r.rejects, 10, raise_=False)
check(not r.welcomed, "a reader key registered as a worker")
check(r.disconnects, "a reader key's Hello: no Disconnect")
r.close()
# Nor does a client key (least privilege).
r = conn(admin, A.Worker, name="role-client")
r.hello()
r.heartbeat(running=[], free_slots=1)
r.wait(lambda: r.welcomed or r.disconnects or r.rejects, 10, raise_=False)
check(not r.welcomed, "a client key registered as a worker")
check(r.disconnects, "a client key's Hello: no Disconnect")
r.close()
m = adm.cancel(s_admin)
check(m is not None and m.body == "cancel_reply", f"admin: Cancel: {m}")
adm.close()
check(A.answered(c, curve=(admin, coord.public)), "the coordinator does not answer")
harness.finish()
