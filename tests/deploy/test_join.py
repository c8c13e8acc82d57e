"""deploy/join.sh: its usage errors, and its --dry-run plan: the packages,
the meson build and install, the worker's config (which this build's
hptune-worker accepts), the keys, the systemd instance; a dry run changes
nothing.  The packages it installs exist in Debian and cover every library
the binaries link."""
import os
import re
import shutil
import tempfile

from deploy_common import BINS, SRC, apt_unknown, check, finish, have, run, shell_list

JOIN = os.path.join(SRC, "deploy", "join.sh")
tmp = tempfile.mkdtemp(prefix="hptune-deploy-join.")
NAME = f"deploytest-{os.getpid()}"


def join(*args, env=None):
    e = dict(os.environ, JOIN_SYSTEMD="yes")
    e.update(env or {})
    return run([JOIN, *args], env=e, timeout=120)


def written(out, path):
    """The content a dry run shows for `+ write PATH`."""
    m = re.search(r"^\+ write %s \(mode [0-7]+, owner [\w:]+\):\n((?:\|  .*\n?)*)" % re.escape(path), out, re.M)
    return None if not m else "".join(l[3:] + "\n" for l in m.group(1).splitlines())


try:
    # --- usage ---------------------------------------------------------------
    r = join("--help")
    check(r.returncode == 0 and "Usage: deploy/join.sh COORDINATOR" in r.stdout, f"--help: {r.returncode}")
    for args, what in [((), "no coordinator"),
                       (("a", "b"), "two coordinators"),
                       (("h:99999",), "port out of range"),
                       (("h:x1",), "bad port"),
                       (("ipc:///x",), "not tcp"),
                       (("h", "--slots", "0"), "--slots 0"),
                       (("h", "--slots", "x"), "--slots x"),
                       (("h", "--name", "a/b"), "--name with /"),
                       (("h", "--data-dir", "rel"), "relative --data-dir"),
                       (("h", "--secret", "/etc/hostname"), "--secret without --server-key"),
                       (("h", "--bogus"), "unknown option"),
                       (("h", "--name"), "missing value")]:
        r = join(*args, "--dry-run")
        check(r.returncode == 2 and "join:" in r.stderr, f"{what}: exit {r.returncode}, want 2: {r.stderr}")
    r = join("h", "--server-key", os.path.join(tmp, "nonexistent.pub"), "--dry-run")
    check(r.returncode == 1 and "no such file" in r.stderr, f"missing key file: {r.returncode} {r.stderr}")
    r = join("h", "--src", tmp, "--dry-run")
    check(r.returncode == 1 and "not an hptune source tree" in r.stderr, f"--src not a tree: {r.returncode}")

    # --- the plan --------------------------------------------------------------
    build = os.path.join(tmp, "build")
    r = join("tuner.lan", "--name", NAME, "--slots", "3", "--dry-run", "--build-dir", build,
             "--prefix", "/opt/hptune")
    out = r.stdout
    check(r.returncode == 0, f"dry run: exit {r.returncode}: {r.stderr}")
    check(f"coordinator tcp://tuner.lan:7600, instance {NAME}" in out, "dry run: no coordinator/instance line")
    check(f"+ meson setup {build} {SRC} --prefix=/opt/hptune --sysconfdir=/etc" in out,
          "dry run: no meson setup of the source tree with --prefix and --sysconfdir=/etc")
    check("-Dtests=false -Dbench=false" in out, "dry run: builds tests or benchmarks")
    check(f"+ meson compile -C {build}" in out and f"+ meson install -C {build}" in out,
          "dry run: no meson compile and install")
    check("+ install -d -m 0750 -o hptune -g hptune /var/lib/hptune/data" in out, "dry run: no data dir")
    check(re.search(r"^\+ (systemd-sysusers /opt/hptune/lib/sysusers.d/hptune.conf|useradd .* hptune)$",
                    out, re.M) or "user hptune exists" in out, "dry run: no system user")
    check(f"+ systemctl enable --quiet hptune-worker@{NAME}.service" in out, "dry run: no systemctl enable")
    check(f"+ systemctl restart hptune-worker@{NAME}.service" in out, "dry run: no (re)start")
    check(not os.path.exists(build), "a dry run created the build directory")
    check(not os.path.exists(f"/etc/hptune/worker-{NAME}.conf"), "a dry run wrote the config")

    conf = written(out, f"/etc/hptune/worker-{NAME}.conf")
    if check(conf is not None, "dry run: the worker config is not shown"):
        check("coordinator tcp://tuner.lan:7600\n" in conf and "slots 3\n" in conf
              and "data_dir /var/lib/hptune/data\n" in conf, f"worker config:\n{conf}")
        p = os.path.join(tmp, "worker.conf")
        open(p, "w").write(conf)
        r = run([BINS["hptune-worker"], "--config", p, "--dump-config"])
        check(r.returncode == 0 and "tcp://tuner.lan:7600" in r.stdout and re.search(r"^slots 3$", r.stdout, re.M),
              f"hptune-worker rejects join.sh's config: {r.returncode} {r.stderr}")

    # Endpoint forms.
    for arg, want in [("10.1.2.3", "tcp://10.1.2.3:7600"), ("tuner:7700", "tcp://tuner:7700"),
                      ("tcp://tuner:7800", "tcp://tuner:7800"), ("[fd00::1]:7600", "tcp://[fd00::1]:7600"),
                      ("fd00::1", "tcp://[fd00::1]:7600")]:
        r = join(arg, "--dry-run", "--build-dir", build)
        check(r.returncode == 0 and f"coordinator {want}" in r.stdout, f"{arg}: want {want}: {r.stdout[:300]}")

    # Without systemd (a container): the unit's command as a background process
    # (deploy-join-netns runs it for real).
    r = join("tuner.lan", "--name", NAME, "--dry-run", "--build-dir", build, env={"JOIN_SYSTEMD": "no"})
    check(r.returncode == 0 and "systemctl restart" not in r.stdout and
          re.search(r"^\+ start-stop-daemon --start .*--pidfile /run/hptune/worker-%s\.pid "
                    r"--chuid hptune:hptune --chdir /var/lib/hptune .*--exec /usr/local/bin/hptune-worker "
                    r"-- --config /etc/hptune/worker-%s\.conf$" % (re.escape(NAME), re.escape(NAME)),
                    r.stdout, re.M),
          f"without systemd: still restarts, or not the fallback's start-stop-daemon:\n{r.stdout[-1500:]}")
    # --remove: drains (systemctl stop), then uninstalls; a dry run changes nothing.
    r = join("tuner.lan", "--name", NAME, "--dry-run", "--build-dir", build, "--remove")
    check(r.returncode == 0 and f"+ systemctl disable --now --quiet hptune-worker@{NAME}.service" in r.stdout
          and "it drains" in r.stdout and "+ meson" not in r.stdout,
          f"--remove --dry-run: {r.returncode}\n{r.stdout[-1500:]}")
    r = join("tuner.lan", "--name", NAME, "--dry-run", "--build-dir", build, "--no-start")
    check(r.returncode == 0 and "systemctl restart" not in r.stdout and "not started (--no-start)" in r.stdout,
          "--no-start still starts")

    # --- keys ------------------------------------------------------------------
    hptune = BINS["hptune"]
    if "keygen" in run([hptune, "--help"]).stdout:
        kg = run([hptune, "keygen", "-o", os.path.join(tmp, "coordinator")])
        kw = run([hptune, "keygen", "-o", os.path.join(tmp, "w")])
        check(kg.returncode == 0 and kw.returncode == 0, f"hptune keygen: {kg.stderr}{kw.stderr}")
        r = join("tuner.lan", "--name", NAME, "--dry-run", "--build-dir", build,
                 "--server-key", os.path.join(tmp, "coordinator.pub"), "--secret", os.path.join(tmp, "w.key"))
        check(r.returncode == 0, f"dry run with keys: {r.returncode} {r.stderr}")
        out = r.stdout
        srv, sec = f"/etc/hptune/coordinator-{NAME}.pub", f"/etc/hptune/worker-{NAME}.key"
        check(f"+ install -m 0644 -o root -g root {tmp}/coordinator.pub {srv}" in out, "keys: server key not installed")
        check(f"+ install -m 0600 -o hptune -g hptune {tmp}/w.key {sec}" in out,
              "keys: the secret key is not installed 0600 for hptune")
        check("secret-key" not in out, "keys: the dry run shows a secret key")
        conf = written(out, f"/etc/hptune/worker-{NAME}.conf")
        if check(conf is not None, "keys: no worker config"):
            check(f"curve_secret {sec}\n" in conf and f"server_key {srv}\n" in conf, f"keys: config\n{conf}")
            # The worker takes these keys (with the files where join.sh puts them).
            p = os.path.join(tmp, "worker-keys.conf")
            open(p, "w").write(conf.replace(srv, f"{tmp}/coordinator.pub").replace(sec, f"{tmp}/w.key"))
            r = run([BINS["hptune-worker"], "--config", p, "--dump-config"])
            check(r.returncode == 0, f"hptune-worker rejects join.sh's key lines: {r.stderr}")
        # Without --secret: a new pair from hptune keygen, mode 0600 for hptune.
        r = join("tuner.lan", "--name", NAME, "--dry-run", "--build-dir", build,
                 "--server-key", os.path.join(tmp, "coordinator.pub"))
        check(f"+ /opt/hptune/bin/hptune keygen" not in r.stdout and
              f"+ /usr/local/bin/hptune keygen -o /etc/hptune/worker-{NAME}" in r.stdout
              and f"+ chmod 0600 {sec}" in r.stdout, f"keys: no keygen step:\n{r.stdout}")
    else:
        print("note: hptune has no keygen yet; key steps not checked")

    # --- packages ----------------------------------------------------------------
    runtime = shell_list(JOIN, "RUNTIME_PKGS")
    for p in ("libzmq5", "libprotobuf-c1", "libopenblas0", "libuv1", "libsqlite3-0", "libfyaml0",
              "zlib1g", "libsodium23"):
        check(p in runtime, f"RUNTIME_PKGS lacks {p}")
    build_pkgs = shell_list(os.path.join(SRC, "deploy", "install-deps.sh"), "BUILD_PKGS")
    r = join("h", "--dry-run", "--build-dir", build)
    check("build: " + " ".join(build_pkgs) in r.stdout, "join.sh does not use install-deps.sh's BUILD_PKGS")
    unknown = apt_unknown(runtime + build_pkgs)
    if unknown is None:
        print("note: apt has no package lists; names not checked")
    else:
        check(not unknown, f"apt cannot install {unknown}")

    # Every library the binaries need comes from a runtime package (or one it
    # depends on, or an essential one).
    if have("readelf") and have("ldd") and have("dpkg-query"):
        deps = set(runtime)
        d = run(["apt-cache", "depends", *runtime], timeout=120).stdout if have("apt-cache") else ""
        deps |= set(re.findall(r"Depends: <?([\w.+-]+)", d))
        for name, b in BINS.items():
            needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run(["readelf", "-d", b]).stdout)
            paths = dict(re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", b]).stdout, re.M))
            for lib in needed:
                path = paths.get(lib)
                if not path:
                    continue
                owner = None
                for cand in {path, os.path.realpath(path), "/usr" + path, path.replace("/usr/", "/", 1)}:
                    s = run(["dpkg-query", "-S", cand])
                    if s.returncode == 0:
                        owner = s.stdout.split(":")[0].split(",")[0].strip()
                        break
                if owner is None:
                    continue
                ess = run(["dpkg-query", "-W", "-f=${Essential} ${Priority}", owner]).stdout
                check(owner in deps or ess.startswith("yes") or "required" in ess,
                      f"{name} needs {lib} from {owner}, which join.sh's RUNTIME_PKGS does not install")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
