"""The man pages agree with the binaries: every long option that a binary's
--help prints (for hptune also every command's --help, and every command
name) appears in its page; each page has the sections a manual needs and
the binary's version; groff (and man, when present) render them without a
warning."""
import os
import re

from deploy_common import BINS, SRC, binary_options, check, finish, have, run

MAN = os.path.join(SRC, "docs", "man")
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "SIGNALS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]


def plain(roff):
    """The page's text with roff escapes for '-' and fonts removed."""
    t = roff.replace("\\-", "-").replace("\\(em", "-")
    t = re.sub(r"\\f[BIRP]", "", t)
    t = re.sub(r"\\f\(..", "", t)
    t = t.replace("\\&", "").replace("\\e", "\\")
    return t


def section(roff, head):
    """The roff from the line matching head to the next .SS or .SH ("" if none)."""
    m = re.search(r"^%s.*$" % head, roff, re.M)
    if not m:
        return ""
    rest = roff[m.end():]
    n = re.search(r"^\.S[SH] ", rest, re.M)
    return m.group(0) + (rest[:n.start()] if n else rest)


for binary in BINS:
    page = os.path.join(MAN, binary + ".1")
    if not check(os.path.isfile(page), f"{page}: missing"):
        continue
    roff = open(page).read()
    text = plain(roff)

    # Sections.
    heads = re.findall(r'^\.SH\s+"?([^"\n]+?)"?\s*$', roff, re.M)
    for s in SECTIONS:
        check(s in heads, f"{binary}.1: no {s} section")
    check(any(h in heads for h in ("OPTIONS", "GLOBAL OPTIONS")), f"{binary}.1: no OPTIONS section")

    # Version in .TH.
    v = run([BINS[binary], "--version"]).stdout.split()
    th = re.search(r"^\.TH .*$", roff, re.M)
    check(th and v and v[-1] in th.group(0), f"{binary}.1: .TH does not name version {v[-1:]}")

    # Every option --help names appears in the page; those its option list
    # defines for a command, in that command's section (.SS "hptune CMD ...")
    # or in GLOBAL OPTIONS.
    for cmd, opts in binary_options(binary).items():
        where = f"{binary} {cmd} --help" if cmd else f"{binary} --help"
        for o in sorted(opts):
            check(re.search(r"(?<![\w-])--%s(?![\w-])" % re.escape(o), text),
                  f"{binary}.1: --{o} (in `{where}`) is not documented")
    for cmd, opts in binary_options(binary, defined_only=True).items():
        where = f"{binary} {cmd} --help" if cmd else f"{binary} --help"
        scope = text
        if cmd:
            sec = section(roff, r'\.SS "?hptune %s\b' % re.escape(cmd))
            if not check(sec, f"{binary}.1: no section .SS \"hptune {cmd} ...\""):
                continue
            scope = plain(sec + section(roff, r"\.SH GLOBAL OPTIONS"))
        for o in sorted(opts):
            check(re.search(r"(?<![\w-])--%s(?![\w-])" % re.escape(o), scope),
                  f"{binary}.1: --{o} (in `{where}`) is not documented"
                  + (f" in the section of '{cmd}'" if cmd else ""))

    # Rendering.
    if have("groff"):
        r = run(["groff", "-man", "-Tutf8", "-ww", "-z", page])
        check(r.returncode == 0 and not r.stderr.strip(), f"groff warns on {binary}.1: {r.stderr}")
    if have("man"):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        r = run(["man", "--warnings", "-l", page], env=env)
        check(r.returncode == 0 and not r.stderr.strip(), f"man -l {binary}.1: {r.returncode} {r.stderr}")
        check(binary in r.stdout, f"man -l {binary}.1 rendered nothing useful")
finish()
