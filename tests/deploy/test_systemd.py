"""The systemd units as meson configured them: the hardening the deployment
promises is there, `systemd-analyze verify` accepts them (with ExecStart
pointed at this build's binaries and MANPATH at docs/man, so the
Documentation= man pages are checked too), `systemd-analyze security` rates
them OK, and the binaries accept the ExecStart command lines with the
installed configs."""
import configparser
import os
import re
import shlex
import shutil
import tempfile

from deploy_common import BINS, BUILD, SRC, check, finish, have, run, skip

unit_dir = os.path.join(BUILD, "deploy", "systemd")
UNITS = {
    "hptune-coordinator.service": "hptune-coordinator",
    "hptune-worker@.service": "hptune-worker",
}
for u in UNITS:
    if not os.path.isfile(os.path.join(unit_dir, u)):
        skip(f"{unit_dir}/{u} not configured (reconfigure the build)")


def parse(path):
    """The unit as {section: {key: [values]}} (keys may repeat)."""
    out, sec = {}, None
    for line in open(path):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            sec = line.strip("[]")
            out.setdefault(sec, {})
            continue
        k, _, v = line.partition("=")
        out[sec].setdefault(k.strip(), []).append(v.strip())
    return out


def seconds(v):
    """A systemd time span ("2s", "10min", "1h 30s", a bare number of
    seconds) in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "ms": 0.001}
    total = 0.0
    for num, unit in re.findall(r"([0-9.]+)\s*([a-z]*)", v):
        total += float(num) * units[unit]
    return total


REQUIRED = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "Restart": "on-failure", "StateDirectory": "hptune",
}

for u, exe in UNITS.items():
    path = os.path.join(unit_dir, u)
    unit = parse(path)
    svc = unit.get("Service", {})
    for k, v in REQUIRED.items():
        check(svc.get(k) == [v], f"{u}: {k}={v} missing (have {svc.get(k)})")
    check(svc.get("User") == ["hptune"] or svc.get("DynamicUser") == ["yes"],
          f"{u}: runs as root (no User=hptune or DynamicUser=yes)")
    fams = " ".join(svc.get("RestrictAddressFamilies", [])).split()
    check({"AF_INET", "AF_INET6", "AF_UNIX"} <= set(fams) and len(fams) <= 4,
          f"{u}: RestrictAddressFamilies is {fams}")
    check("@system-service" in svc.get("SystemCallFilter", []), f"{u}: no SystemCallFilter=@system-service")
    check(svc.get("CapabilityBoundingSet") == [""], f"{u}: capabilities not dropped")
    check(unit.get("Install", {}).get("WantedBy") == ["multi-user.target"], f"{u}: no WantedBy=multi-user.target")
    # Restarts never hit the start limit (systemd's default of 5 starts in
    # 10 s stops a unit for good after a burst of crashes): the limit admits
    # more starts per interval than RestartSec spacing can produce.
    ul = unit.get("Unit", {})
    interval = seconds(ul.get("StartLimitIntervalSec", ["10s"])[0])
    burst = int(ul.get("StartLimitBurst", ["5"])[0])
    restart = seconds(svc.get("RestartSec", ["0.1s"])[0])
    check(interval == 0 or burst > interval / restart,
          f"{u}: StartLimitBurst={burst} in StartLimitIntervalSec={interval:g}s is reached by "
          f"restarts {restart:g}s apart")

    # ExecStart: the installed binary with --config under SYSCONFDIR/hptune; the
    # binary accepts it with the configured sample config in its place.
    start = shlex.split(svc["ExecStart"][0])
    check(os.path.basename(start[0]) == exe and os.path.isabs(start[0]), f"{u}: ExecStart runs {start[0]}")
    check(start[1:2] == ["--config"] and re.search(r"/hptune/(coordinator|worker-%i)\.conf$", start[2]),
          f"{u}: ExecStart has no --config SYSCONFDIR/hptune/...: {start}")
    sample = os.path.join(unit_dir, os.path.basename(start[2]).replace("%i", "local"))
    r = run([BINS[exe], "--config", sample, *start[3:], "--dump-config"])
    check(r.returncode == 0, f"{u}: {exe} rejects its ExecStart with {sample}: {r.stderr}")

if not have("systemd-analyze"):
    skip("systemd-analyze not found (the directive checks passed)")

tmp = tempfile.mkdtemp(prefix="hptune-deploy-systemd.")
try:
    # A probe: can systemd-analyze verify anything here (a container may lack
    # the units it loads first)?
    probe = os.path.join(tmp, "hptune-probe.service")
    with open(probe, "w") as f:
        f.write("[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n")
    r = run(["systemd-analyze", "verify", "--man=no", probe])
    if r.returncode != 0:
        skip("systemd-analyze verify cannot run here: " + (r.stderr or r.stdout).strip()[:300])

    # Copies with this build's binaries, and the man pages where man finds them.
    units = os.path.join(tmp, "units")
    os.makedirs(units)
    man1 = os.path.join(tmp, "man", "man1")
    os.makedirs(man1)
    for f in os.listdir(os.path.join(SRC, "docs", "man")):
        if f.endswith(".1"):
            shutil.copy(os.path.join(SRC, "docs", "man", f), man1)
    for u, exe in UNITS.items():
        text = open(os.path.join(unit_dir, u)).read()
        text = re.sub(r"^(ExecStart=)\S+", lambda m: m.group(1) + BINS[exe], text, flags=re.M)
        with open(os.path.join(units, u), "w") as f:
            f.write(text)
    env = dict(os.environ, MANPATH=os.path.join(tmp, "man"))
    targets = [os.path.join(units, "hptune-coordinator.service"),
               os.path.join(units, "hptune-worker@test.service")]
    r = run(["systemd-analyze", "verify", *targets], env=env)
    out = (r.stdout + r.stderr).strip()
    check(r.returncode == 0 and not out, f"systemd-analyze verify: exit {r.returncode}:\n{out}")

    # Exposure: 'OK' is below 2.0 on systemd's scale (threshold in tenths).
    r = run(["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager",
             targets[0]], env=env)
    if "--offline" in r.stderr and r.returncode != 0 and "unrecognized" in r.stderr:
        print("note: systemd-analyze security --offline unsupported; exposure not rated")
    else:
        for t in targets:
            r = run(["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager", t],
                    env=env)
            level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
            check(r.returncode == 0 and level,
                  f"systemd-analyze security {os.path.basename(t)}: exposure "
                  f"{level.group(1) if level else '?'} is above 2.0 (exit {r.returncode})")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
