"""Bash completion of hptune (deploy/completion/hptune), run by a real bash
the way bash-completion runs it (COMP_WORDS, COMP_CWORD, then the function
`complete -p hptune` names), with a real coordinator for sweep ids:
  - the commands, from `hptune --help`;
  - a command's flags, from its --help (the connection flags included);
  - a flag's values when its help lists them (results --format);
  - sweep ids from the coordinator for status/results/report/cancel and
    logs --sweep, also when the coordinator is named by --coordinator on
    the line rather than by the environment;
  - spec files for launch.
Each case runs twice: in a bare bash, and with bash-completion loaded (its
_init_completion path) when /usr/share/bash-completion/bash_completion is
installed."""
import os
import shlex
import subprocess
import tempfile

from harness import CLI, SRC, Cluster, check, finish

COMPLETION = os.path.join(os.path.abspath(SRC), "deploy", "completion", "hptune")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

c = Cluster(name="completion")
c.start_coordinator()
SPEC = """
name: c{n}
dataset: mnist-10k
test_objective: hash
method: grid
cv: {{folds: 2}}
refit: false
parameters:
  units: {{values: [8, 16]}}
  epochs: {{value: 1}}
"""
sweeps = [c.launch(SPEC.format(n=n)) for n in range(3)]   # queued: no worker needed
print("sweeps:", sweeps, flush=True)

work = tempfile.mkdtemp(prefix="hpt-compl-")
for f in ("grid.yaml", "b.yml", "notes.txt"):
    open(os.path.join(work, f), "w").close()
os.mkdir(os.path.join(work, "specs"))


def complete(line, env_addr=True, full=False):
    """The words bash would offer for `line` (the cursor at its end)."""
    words = shlex.split(line)
    if line.endswith(" "):
        words.append("")
    arr = " ".join(shlex.quote(w) for w in words)
    script = "\n".join([
        f"source {shlex.quote(BASH_COMPLETION)}" if full else "",
        f"source {shlex.quote(COMPLETION)}",
        f"COMP_WORDS=({arr})",
        f"COMP_CWORD={len(words) - 1}",
        f"COMP_LINE={shlex.quote(line)}",
        f"COMP_POINT={len(line)}",
        # The function `complete -p hptune` registers, as bash-completion calls it.
        "fn=$(complete -p hptune | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')",
        '"$fn" hptune "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
        'printf "%s\\n" "${COMPREPLY[@]}"',
    ])
    env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(CLI)) + ":" + os.environ["PATH"])
    env.pop("HPTUNE_COORDINATOR", None)
    if env_addr:
        env["HPTUNE_COORDINATOR"] = c.addr
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                       text=True, env=env, cwd=work, timeout=60)
    check(r.returncode == 0, f"bash for {line!r}: {r.returncode} {r.stderr}")
    return sorted(w for w in r.stdout.splitlines() if w)


modes = [False] + ([True] if os.path.isfile(BASH_COMPLETION) else [])
if len(modes) == 1:
    print("bash-completion not installed: only the bare-bash mode", flush=True)
ids = sorted(str(s) for s in sweeps)
for full in modes:
    tag = "with bash-completion" if full else "bare bash"
    got = complete("hptune ", full=full)
    for cmd in ("launch", "check", "status", "workers", "results", "report", "logs", "cancel",
                "train", "keygen", "config"):
        check(cmd in got, f"{tag}: command {cmd} not offered: {got}")
    check(complete("hptune re", full=full) == ["report", "results"],
          f"{tag}: 'hptune re': {complete('hptune re', full=full)}")
    got = complete("hptune launch --", full=full)
    for flag in ("--wait", "--coordinator", "--curve-secret", "--server-key", "--timeout",
                 "--help"):
        check(flag in got, f"{tag}: launch flag {flag} not offered: {got}")
    check(complete("hptune results 1 --format ", full=full) == ["csv", "json", "table"],
          f"{tag}: results --format values: {complete('hptune results 1 --format ', full=full)}")
    for cmd in ("status", "results", "report", "cancel"):
        got = complete(f"hptune {cmd} ", full=full)
        check(got == ids, f"{tag}: sweep ids for {cmd}: {got}, want {ids}")
    got = complete("hptune logs --sweep ", full=full)
    check(got == ids, f"{tag}: logs --sweep: {got}")
    # The coordinator named on the line, not in the environment.
    got = complete(f"hptune --coordinator {c.addr} results ", env_addr=False, full=full)
    check(got == ids, f"{tag}: sweep ids with --coordinator on the line: {got}")
    got = complete(f"hptune results --coordinator {c.addr} ", env_addr=False, full=full)
    check(got == ids, f"{tag}: sweep ids with --coordinator after the command: {got}")
    # No coordinator: nothing offered, quickly, and no error.
    got = complete("hptune results --coordinator tcp://127.0.0.1:9 ", env_addr=False, full=full)
    check(got == [], f"{tag}: ids from a dead coordinator: {got}")
    got = complete("hptune launch ", full=full)
    check(got == ["b.yml", "grid.yaml", "specs"], f"{tag}: spec files: {got}")
finish()
