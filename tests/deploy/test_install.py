"""`meson install --destdir TMP` puts the binaries, the man pages, the systemd
units, the sysusers.d file, the example specs, the bash completion and the
/etc/hptune configs in place; a second install keeps an edited config; the installed binaries run
and accept the installed configs."""
import json
import os
import re
import shutil
import stat
import tempfile

from deploy_common import BUILD, SRC, check, finish, run, skip

meson = shutil.which("meson")
if not meson:
    skip("meson not on PATH")

r = run([meson, "introspect", BUILD, "--buildoptions"])
if r.returncode != 0:
    skip("meson introspect failed: " + r.stderr)
opts = {o["name"]: o["value"] for o in json.loads(r.stdout)}
prefix = opts["prefix"]


def under(d):
    """An install dir option as an absolute path (relative ones are under prefix)."""
    v = opts[d]
    return v if os.path.isabs(v) else os.path.join(prefix, v)


bindir, mandir, datadir, sysconfdir = under("bindir"), under("mandir"), under("datadir"), under("sysconfdir")
unitdir = opts.get("systemdunitdir") or os.path.join(prefix, "lib", "systemd", "system")
sysusersdir = os.path.join(prefix, "lib", "sysusers.d")

tmp = tempfile.mkdtemp(prefix="hptune-deploy-install.")
try:
    dest = os.path.join(tmp, "dest")

    def D(p):
        return dest + p

    def install():
        return run([meson, "install", "-C", BUILD, "--destdir", dest, "--no-rebuild", "--quiet"],
                   timeout=300)

    r = install()
    check(r.returncode == 0, f"meson install failed ({r.returncode}): {r.stdout}{r.stderr}")

    # Binaries.
    for b in ("hptune", "hptune-coordinator", "hptune-worker"):
        p = D(os.path.join(bindir, b))
        check(os.path.isfile(p) and os.access(p, os.X_OK), f"{p}: not installed or not executable")
        v = run([p, "--version"])
        check(v.returncode == 0 and "0." in v.stdout, f"{p} --version: {v.returncode} {v.stdout}")

    # Man pages.
    for m in ("hptune.1", "hptune-coordinator.1", "hptune-worker.1"):
        p = D(os.path.join(mandir, "man1", m))
        check(os.path.isfile(p) or os.path.isfile(p + ".gz"), f"{p}: man page not installed")

    # systemd units: the paths in them are the installed ones.
    for u, exe, conf in (("hptune-coordinator.service", "hptune-coordinator", "coordinator.conf"),
                         ("hptune-worker@.service", "hptune-worker", "worker-%i.conf")):
        p = D(os.path.join(unitdir, u))
        if not check(os.path.isfile(p), f"{p}: unit not installed"):
            continue
        text = open(p).read()
        check(not re.search(r"@[a-z]+@", text), f"{u}: unsubstituted @...@ left")
        want = f"ExecStart={os.path.join(bindir, exe)} --config {os.path.join(sysconfdir, 'hptune', conf)}"
        check(want in text, f"{u}: no line '{want}'")
    p = D(os.path.join(sysusersdir, "hptune.conf"))
    check(os.path.isfile(p) and open(p).read().count("\nu hptune ") == 1,
          f"{p}: sysusers.d file missing or without the hptune user")

    # Examples: every spec of deploy/examples and the two reference configs.
    ex = D(os.path.join(datadir, "hptune", "examples"))
    for f in sorted(os.listdir(os.path.join(SRC, "deploy", "examples"))):
        check(os.path.isfile(os.path.join(ex, f)), f"example {f} not installed in {ex}")
    for f in ("hptune-coordinator.conf", "hptune-worker.conf"):
        check(os.path.isfile(os.path.join(ex, f)), f"{f} not installed in {ex}")

    # The bash completion of hptune, where bash-completion looks for it.
    compdir = opts.get("bashcompletiondir") or os.path.join(datadir, "bash-completion",
                                                            "completions")
    p = D(os.path.join(compdir, "hptune"))
    check(os.path.isfile(p) and "complete -F _hptune hptune" in open(p).read(),
          f"{p}: bash completion not installed")

    # The Prometheus rules.
    p = D(os.path.join(datadir, "hptune", "prometheus", "hptune-rules.yml"))
    check(os.path.isfile(p) and "HptuneWorkerLost" in open(p).read(),
          f"{p}: Prometheus rules not installed")

    # /etc/hptune: the service configs, substituted, readable by all.
    etc = D(os.path.join(sysconfdir, "hptune"))
    for f in ("coordinator.conf", "worker-local.conf"):
        p = os.path.join(etc, f)
        if not check(os.path.isfile(p), f"{p}: not installed"):
            continue
        check(not re.search(r"@[a-z]+@", open(p).read()), f"{p}: unsubstituted @...@ left")
        check(stat.S_IMODE(os.stat(p).st_mode) == 0o644, f"{p}: mode is not 0644")

    # The installed binaries accept the installed configs.
    coord, worker = D(os.path.join(bindir, "hptune-coordinator")), D(os.path.join(bindir, "hptune-worker"))
    r = run([coord, "--config", os.path.join(etc, "coordinator.conf"), "--dump-config"])
    check(r.returncode == 0 and "/var/lib/hptune/hptune.db" in r.stdout,
          f"hptune-coordinator rejects the installed coordinator.conf: {r.returncode} {r.stderr}")
    r = run([worker, "--config", os.path.join(etc, "worker-local.conf"), "--dump-config"])
    check(r.returncode == 0 and "/var/lib/hptune/data" in r.stdout,
          f"hptune-worker rejects the installed worker-local.conf: {r.returncode} {r.stderr}")

    # A second install keeps a config the administrator edited...
    p = os.path.join(etc, "coordinator.conf")
    if os.path.isfile(p):
        with open(p, "a") as f:
            f.write("# edited by the administrator\n")
        os.remove(os.path.join(etc, "worker-local.conf"))
        r = install()
        check(r.returncode == 0, f"second meson install failed: {r.stdout}{r.stderr}")
        check(open(p).read().endswith("# edited by the administrator\n"),
              "a second meson install overwrote an edited /etc/hptune/coordinator.conf")
        # ...and puts back one that was removed.
        check(os.path.isfile(os.path.join(etc, "worker-local.conf")),
              "a second meson install did not restore a removed worker-local.conf")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
