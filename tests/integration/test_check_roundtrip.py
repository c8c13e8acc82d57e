"""`hptune check` agrees with the coordinator (issue 12): for every spec in
deploy/examples/ and in the W&B corpus (tests/spec/wandb/), `check` says
valid exactly when a real coordinator accepts `launch`, with the same trial
and task counts (or asha's configurations) and the same warnings; and says
invalid exactly when the coordinator refuses it, with the same errors, line
for line.  No worker runs: every accepted sweep is cancelled at once."""
import glob
import os
import re
import subprocess

from harness import CLI, SRC, Cluster, check, finish

c = Cluster(name="roundtrip")
# One launch per spec, one after another from one address: over the default
# submit rate limit and active-sweep quotas (integration-quotas tests those),
# so they are raised here.
c.start_coordinator("--submit-burst", "1000", "--submit-per-min", "100000",
                    "--max-active-sweeps-per-key", "1000", "--max-active-sweeps", "1000")

specs = sorted(glob.glob(os.path.join(SRC, "deploy", "examples", "*.yaml")))
specs += sorted(glob.glob(os.path.join(SRC, "tests", "spec", "wandb", "*.yaml")))
check(len(specs) >= 30, f"only {len(specs)} specs found")


def errors(text):
    """The error lines of a report: PATH:L:C: lines that are not warnings or
    notes (check adds a summary line; launch prints nothing else)."""
    out = []
    for ln in text.splitlines():
        if re.match(r"^[^:]+:\d+:\d+: ", ln) and ": warning: " not in ln and ": note: " not in ln:
            out.append(ln)
    return out


def warnings(text):
    return [ln.strip() for ln in text.splitlines() if ": warning: " in ln]


n_ok = n_bad = 0
for path in specs:
    d, name = os.path.split(path)
    chk = subprocess.run([*c.cli_wrap, CLI, "check", name], cwd=d, env=c.env,
                         capture_output=True, text=True, timeout=60)
    lau = subprocess.run([*c.cli_wrap, CLI, "launch", name, "--coordinator", c.addr], cwd=d,
                         env=c.env, capture_output=True, text=True, timeout=60)
    if not check(chk.returncode in (0, 2) and chk.returncode == lau.returncode,
                 f"{name}: check exited {chk.returncode}, launch {lau.returncode}: "
                 f"{lau.stderr[-400:]}"):
        continue
    if chk.returncode == 2:
        n_bad += 1
        check(errors(chk.stderr) == errors(lau.stderr),
              f"{name}: errors differ\n  check:  {errors(chk.stderr)}\n  launch: "
              f"{errors(lau.stderr)}")
        continue
    n_ok += 1
    sweep = lau.stdout.split()[0]
    line = [ln for ln in lau.stderr.splitlines() if " submitted: " in ln]
    check(len(line) == 1, f"{name}: no submitted line: {lau.stderr}")
    line = line[0] if line else ""
    m = re.search(r"submitted: (\d+) trials, (\d+) tasks", line)
    t = re.search(r"^  trials   (\d+)(?: \(|$)", chk.stdout, re.M)
    k = re.search(r"^  tasks    (\d+) \(", chk.stdout, re.M)
    if m:
        check(t and k and (t.group(1), k.group(1)) == m.groups(),
              f"{name}: launch says {m.groups()}, check {t and t.group(1)} trials, "
              f"{k and k.group(1)} tasks")
    else:
        a = re.search(r"asha, (\d+) new configurations", line)
        ca = re.search(r"^  trials   (\d+) new configurations", chk.stdout, re.M)
        if a or ca:
            check(a and ca and a.group(1) == ca.group(1),
                  f"{name}: asha configurations differ: {line!r} / {ca and ca.group(0)}")
        else:
            check("coordinate search" in line and "not known up front" in chk.stdout,
                  f"{name}: submitted line {line!r} vs check {chk.stdout[:300]!r}")
    check(warnings(chk.stdout) == warnings(lau.stderr),
          f"{name}: warnings differ\n  check:  {warnings(chk.stdout)}\n  launch: "
          f"{warnings(lau.stderr)}")
    c.cli("cancel", sweep, check_rc=False)

print(f"{len(specs)} specs: {n_ok} accepted by both, {n_bad} refused by both")
check(n_ok >= 25 and n_bad >= 4, f"accepted {n_ok}, refused {n_bad}")
finish()
