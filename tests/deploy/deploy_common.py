"""Shared helpers of the deploy suite: paths, the binaries' long options,
checks that collect failures, skip (exit 77)."""
import os
import re
import shutil
import subprocess
import sys
import time

SRC = os.environ.get("HPT_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("HPT_BUILD") or os.path.join(SRC, "build")
BINS = {
    "hptune": os.path.join(BUILD, "coordinator", "cli", "hptune"),
    "hptune-coordinator": os.path.join(BUILD, "coordinator", "hptune-coordinator"),
    "hptune-worker": os.path.join(BUILD, "worker", "hptune-worker"),
}

_failures = []


def check(cond, what):
    """Record a failure (and go on) unless cond holds."""
    if not cond:
        _failures.append(what)
        print("FAIL: " + what, flush=True)
    return cond


def skip(why):
    """Exit 77 (skipped), unless a check already failed: then fail."""
    if _failures:
        print("cannot go on: " + why, flush=True)
        finish()
    print("SKIP: " + why, flush=True)
    sys.exit(77)


def finish():
    if _failures:
        print(f"{len(_failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("ok", flush=True)
    sys.exit(0)


def run(args, **kw):
    """subprocess.run with text output captured, never raising on status."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(args, **kw)


def have(prog):
    return shutil.which(prog) is not None


LONG_OPT = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")


DEFINED_OPT = re.compile(r"^\s+(?:-\w,\s+)?--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)", re.M)


def long_options(text, defined_only=False):
    """The --long-options of a --help text: those its option list defines
    (a line starting with the option), or every one it names."""
    return set((DEFINED_OPT if defined_only else LONG_OPT).findall(text))


def help_text(binary, *cmd):
    r = run([BINS[binary], *cmd, "--help"])
    if r.returncode != 0:
        raise RuntimeError(f"{binary} {' '.join(cmd)} --help: exit {r.returncode}: {r.stderr}")
    return r.stdout


def cli_commands():
    """The commands `hptune --help` lists under 'Commands:'."""
    out = help_text("hptune")
    cmds, inside = [], False
    for line in out.splitlines():
        if line.startswith("Commands:"):
            inside = True
            continue
        if inside:
            if not line.strip():
                break
            m = re.match(r"^  ([a-z][a-z-]*)\b", line)
            if m:
                cmds.append(m.group(1))
    return cmds


def binary_options(binary, defined_only=False):
    """The long options of a binary: its --help, and for hptune every
    command's --help too (as {None: set, 'launch': set, ...})."""
    if binary != "hptune":
        return {None: long_options(help_text(binary), defined_only)}
    opts = {None: long_options(help_text("hptune"), defined_only)}
    for c in cli_commands():
        opts[c] = long_options(help_text("hptune", c), defined_only)
    return opts


def all_options(binary):
    """Every option a binary (any hptune command) defines."""
    s = set()
    for v in binary_options(binary, defined_only=True).values():
        s |= v
    return s


def shell_list(path, var):
    """The words of VAR="..." (possibly spanning lines) in a shell script."""
    text = open(path).read()
    m = re.search(r'^%s="([^"]*)"' % re.escape(var), text, re.M)
    if not m:
        raise RuntimeError(f"{path}: no {var}=\"...\" list")
    return m.group(1).split()


def apt_unknown(pkgs):
    """The packages of pkgs that apt cannot install (no candidate), in one
    apt-cache call; None when apt has no package lists at all (apt-get update
    never ran), so nothing can be told."""
    if not have("apt-cache"):
        return None
    lists = "/var/lib/apt/lists"
    if not os.path.isdir(lists) or not any("_Packages" in f for f in os.listdir(lists)):
        return None
    r = run(["apt-cache", "policy", *sorted(set(pkgs))], timeout=120)
    known = set(re.findall(r"^(\S+?)(?::\w+)?:\n\s+Installed: .*\n\s+Candidate: (?!\(none\))", r.stdout, re.M))
    return sorted(set(pkgs) - known)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout, what, poll=0.2):
    """pred()'s first true value within timeout seconds, else RuntimeError."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(poll)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
