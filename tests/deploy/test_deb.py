"""The Debian package, for real: deploy/build-deb.sh builds hptune_*.deb
with dpkg-buildpackage -b -us -uc (debhelper and meson, from
deploy/debian/); lintian finds no error in it; `apt-get install
./hptune_*.deb` installs it (binaries, man pages, units, the hptune system
user, its state directory, conffiles in /etc/hptune, examples, Prometheus
rules, bash completion); the installed daemons run a small sweep on MNIST
(mnist-10k) with the installed configs, as the hptune user (under systemd as
the packaged services; where systemd is not PID 1, as in CI, started
directly with the same configs and user); `apt-get purge` then leaves
none of the package's files, no /etc/hptune and no /var/lib/hptune.

Needs root, dpkg-buildpackage, debhelper, lintian and apt-get; skips (77)
without them, without the dataset, or when a package called hptune is
already installed (the test would replace and purge it)."""
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from deploy_common import BINS, SRC, check, finish, free_port, have, run, skip

DATA = os.environ.get("HPT_DATA") or os.path.join(SRC, "data")
if os.geteuid() != 0:
    skip("installing a package needs root")
for tool, pkg in (("dpkg-buildpackage", "dpkg-dev"), ("dh", "debhelper"), ("lintian", "lintian"),
                  ("apt-get", "apt")):
    if not have(tool):
        skip(f"{tool} not installed (Debian package {pkg}; deploy/install-deps.sh)")
if not glob.glob(os.path.join(DATA, "mnist-10k", "train-images-idx3-ubyte*")):
    skip(f"mnist-10k not in {DATA} (deploy/fetch-data.sh)")
if run(["dpkg-query", "-W", "-f=${Status}", "hptune"]).stdout.startswith("install ok"):
    skip("a package called hptune is installed already: this test would replace and purge it")

work = tempfile.mkdtemp(prefix="hptune-deb-test.")
out = os.path.join(work, "out")
procs = []
installed = False


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    if installed:
        run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "purge", "-y", "-qq", "hptune"], timeout=300,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    shutil.rmtree(work, ignore_errors=True)


try:
    # --- build -----------------------------------------------------------------
    t0 = time.time()
    r = run([os.path.join(SRC, "deploy", "build-deb.sh"), out], timeout=900,
            env=dict(os.environ, JOBS="2"))
    print(f"build-deb.sh: {time.time() - t0:.0f} s", flush=True)
    if not check(r.returncode == 0, f"build-deb.sh failed ({r.returncode}):\n"
                 f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}"):
        finish()
    debs = glob.glob(os.path.join(out, "hptune_*.deb"))
    if not check(len(debs) == 1, f"expected one hptune_*.deb in {out}: {os.listdir(out)}"):
        finish()
    deb = debs[0]
    version = run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()
    built = run([BINS["hptune"], "--version"]).stdout.split()
    check(built and version == built[-1], f"package version {version} is not the program's "
          f"({built})")

    # --- lintian ---------------------------------------------------------------
    r = run(["lintian", "--fail-on", "error", "--no-tag-display-limit", deb], timeout=300)
    tags = [l for l in r.stdout.splitlines() if l[:2] in ("E:", "W:", "I:")]
    print("lintian:", *(tags or ["(no tags)"]), sep="\n  ", flush=True)
    check(r.returncode == 0 and not any(l.startswith("E:") for l in tags),
          f"lintian reports errors ({r.returncode}): {r.stdout}{r.stderr}")

    # --- install ---------------------------------------------------------------
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    installed = True
    r = run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends",
             "./" + os.path.basename(deb)], cwd=out, env=env, timeout=300)
    if not check(r.returncode == 0, f"apt-get install ./{os.path.basename(deb)}: "
                 f"{r.stdout[-2000:]}{r.stderr[-2000:]}"):
        finish()
    files = run(["dpkg-query", "-L", "hptune"]).stdout.split("\n")
    files = [f for f in files if f and os.path.isfile(f)]
    for f in ("/usr/bin/hptune", "/usr/bin/hptune-coordinator", "/usr/bin/hptune-worker",
              "/usr/share/man/man1/hptune.1.gz", "/usr/share/man/man1/hptune-worker.1.gz",
              "/usr/share/man/man1/hptune-coordinator.1.gz",
              "/lib/systemd/system/hptune-coordinator.service",
              "/lib/systemd/system/hptune-worker@.service", "/usr/lib/sysusers.d/hptune.conf",
              "/usr/lib/tmpfiles.d/hptune.conf", "/usr/share/bash-completion/completions/hptune",
              "/usr/share/hptune/prometheus/hptune-rules.yml",
              "/usr/share/hptune/examples/blog-grid.yaml", "/etc/hptune/coordinator.conf",
              "/etc/hptune/worker-local.conf", "/usr/share/doc/hptune/copyright"):
        check(f in files, f"{f} is not in the package")
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "hptune"]).stdout
    check("/etc/hptune/coordinator.conf" in conffiles and "/etc/hptune/worker-local.conf" in
          conffiles, f"conffiles: {conffiles!r}")
    try:
        user = pwd.getpwnam("hptune")
    except KeyError:
        user = None
    check(user is not None, "the package did not create the hptune user")
    st = os.stat("/var/lib/hptune") if os.path.isdir("/var/lib/hptune") else None
    check(st is not None and user is not None and st.st_uid == user.pw_uid and
          (st.st_mode & 0o777) == 0o750, "/var/lib/hptune is not 0750 hptune:hptune")
    r = run(["/usr/bin/hptune", "--version"])
    check(r.returncode == 0 and version in r.stdout, f"installed hptune --version: {r.stdout}")
    r = run(["unit=/lib/systemd/system/hptune-coordinator.service; grep -q "
             "'^ExecStart=/usr/bin/hptune-coordinator --config /etc/hptune/coordinator.conf$' "
             "\"$unit\""], shell=True)
    check(r.returncode == 0, "the packaged unit does not run /usr/bin/hptune-coordinator with "
          "/etc/hptune/coordinator.conf")
    if user is None:
        finish()

    # --- a sweep with the installed daemons --------------------------------------
    dest = "/var/lib/hptune/data/mnist-10k"
    shutil.copytree(os.path.join(DATA, "mnist-10k"), dest, dirs_exist_ok=True)
    for root, dirs, fs in os.walk("/var/lib/hptune/data"):
        for n in dirs + fs:
            os.chown(os.path.join(root, n), user.pw_uid, user.pw_gid)
    systemd = os.path.isdir("/run/systemd/system")
    if systemd:
        # The packaged services, with the packaged configs (port 7600).
        addr = "tcp://127.0.0.1:7600"
        for unit in ("hptune-coordinator.service", "hptune-worker@local.service"):
            r = run(["systemctl", "restart", unit])
            check(r.returncode == 0, f"systemctl restart {unit}: {r.stderr}")
    else:
        # No systemd: the same binaries, configs and user, started directly;
        # only the port is a free one (flags beat the config file).
        print("systemd is not PID 1: starting the daemons directly", flush=True)
        addr = f"tcp://127.0.0.1:{free_port()}"
        logs = open(os.path.join(work, "daemons.log"), "wb")
        as_hptune = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                         cwd="/var/lib/hptune", stdout=logs, stderr=subprocess.STDOUT)
        procs.append(subprocess.Popen(
            ["/usr/bin/hptune-coordinator", "--config", "/etc/hptune/coordinator.conf",
             "--bind", addr], **as_hptune))
        procs.append(subprocess.Popen(
            ["/usr/bin/hptune-worker", "--config", "/etc/hptune/worker-local.conf",
             "--coordinator", addr, "--slots", "2"], **as_hptune))
    spec = os.path.join(work, "spec.yaml")
    with open(spec, "w") as f:
        f.write("name: deb\ndataset: mnist-10k\nmethod: grid\ncv: {folds: 2, seed: 1}\n"
                "refit: true\nparameters:\n  units: {values: [8, 16]}\n"
                "  epochs: {value: 1}\n  batch_size: {value: 128}\n")
    cli = ["/usr/bin/hptune", "--coordinator", addr]
    deadline = time.time() + 30
    while run([*cli, "status", "--timeout", "1"]).returncode != 0 and time.time() < deadline:
        time.sleep(0.2)
    r = run([*cli, "launch", spec, "--wait"], timeout=300)
    print(r.stdout[-1500:], flush=True)
    check(r.returncode == 0, f"hptune launch --wait with the installed daemons: {r.returncode} "
          f"{r.stderr[-1500:]}")
    sweep = r.stdout.split("\n")[0].strip()
    r = run([*cli, "results", sweep, "--format", "json"])
    res = json.loads(r.stdout)["sweep"] if r.returncode == 0 else {}
    check(res.get("state") == "done" and res.get("trials_done") == 2 and
          (res.get("refit_test_score") or 0) > 0.5, f"the sweep: {res}")
    db = "/var/lib/hptune/hptune.db"
    check(os.path.isfile(db) and os.stat(db).st_uid == user.pw_uid,
          "the journal is not /var/lib/hptune/hptune.db owned by hptune")
    if systemd:
        for unit in ("hptune-worker@local.service", "hptune-coordinator.service"):
            run(["systemctl", "stop", unit])
    else:
        for p in reversed(procs):   # the worker first, then the coordinator
            p.send_signal(signal.SIGTERM)
            rc = p.wait(60)
            check(rc == 0, f"{p.args[0]} exited {rc} after SIGTERM")
        with open(os.path.join(work, "daemons.log"), errors="replace") as f:
            log = f.read()
        check("level=error" not in log, "the daemons logged errors:\n" + log[-3000:])

    # --- purge -------------------------------------------------------------------
    r = run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "purge", "-y", "-qq", "hptune"], env=env, timeout=300)
    check(r.returncode == 0, f"apt-get purge hptune: {r.stdout}{r.stderr}")
    installed = r.returncode != 0
    status = run(["dpkg-query", "-W", "-f=${Status}", "hptune"]).stdout
    check("installed" not in status.replace("not-installed", ""),
          f"dpkg still knows hptune after the purge: {status!r}")
    left = [f for f in files if os.path.exists(f)]
    check(not left, f"files left after the purge: {left}")
    for d in ("/etc/hptune", "/var/lib/hptune"):
        check(not os.path.exists(d), f"{d} left after the purge")
finally:
    cleanup()
finish()
