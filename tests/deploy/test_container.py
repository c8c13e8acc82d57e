"""deploy/container/Containerfile, checked without a container engine: two
stages (debian:12 build, debian:12-slim runtime), every COPY source exists
and is not excluded by the ignore file, the apt packages are install-deps.sh's
build list and join.sh's runtime list (and apt knows them), the build
commands are the README's, the runtime stage runs as a non-root user with a
volume for its state, and the image's configs and command are accepted by
this build's binaries."""
import os
import re
import shlex
import shutil
import tempfile
import fnmatch

from deploy_common import BINS, SRC, all_options, apt_unknown, check, finish, run, shell_list

CDIR = os.path.join(SRC, "deploy", "container")
CFILE = os.path.join(CDIR, "Containerfile")


def instructions(path):
    """[(INSTRUCTION, argument text)], continuation lines joined, comments out."""
    out, cur = [], ""
    for line in open(path):
        s = line.rstrip("\n")
        if not cur and (not s.strip() or s.lstrip().startswith("#")):
            continue
        if cur and s.lstrip().startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        word, _, rest = cur.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    check(not cur, f"{path}: ends inside a continued line")
    return out


ins = instructions(CFILE)
stages, cur = [], None
for word, arg in ins:
    if word == "FROM":
        m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", arg, re.I)
        cur = {"image": m.group(1), "name": m.group(2), "ins": []}
        stages.append(cur)
    elif cur is None:
        check(word == "ARG", f"{word} before the first FROM")
    else:
        cur["ins"].append((word, arg))

check(len(stages) == 2, f"want 2 stages, have {len(stages)}")
build, runtime = stages[0], stages[-1]
check(build["image"] == "debian:12" and build["name"], f"build stage: {build['image']} AS {build['name']}")
check(runtime["image"] == "debian:12-slim", f"runtime stage is {runtime['image']}, want debian:12-slim")

# --- ignore file --------------------------------------------------------------
ignore = []
ig = CFILE + ".dockerignore"
if check(os.path.isfile(ig), f"{ig}: missing (the build context is the whole tree)"):
    ignore = [l.strip().rstrip("/") for l in open(ig) if l.strip() and not l.startswith("#")]


def ignored(rel):
    parts = rel.rstrip("/").split("/")
    for pat in ignore:
        for i in range(1, len(parts) + 1):
            if fnmatch.fnmatch("/".join(parts[:i]), pat):
                return pat
    return None


# --- COPY sources ---------------------------------------------------------------
stage_names = {s["name"] for s in stages if s["name"]}
for st in stages:
    for word, arg in st["ins"]:
        if word not in ("COPY", "ADD"):
            continue
        check(word == "COPY", f"use COPY, not ADD: {arg}")
        words = shlex.split(arg)
        flags = [w for w in words if w.startswith("--")]
        paths = [w for w in words if not w.startswith("--")]
        srcs, dest = paths[:-1], paths[-1]
        frm = [f.split("=", 1)[1] for f in flags if f.startswith("--from=")]
        if frm:
            check(frm[0] in stage_names, f"COPY --from={frm[0]}: no such stage")
            for s in srcs:
                check(s.startswith("/staging/usr/"), f"COPY --from: {s} is not under the staging prefix /usr")
            continue
        for s in srcs:
            check(os.path.exists(os.path.join(SRC, s)), f"COPY source {s} does not exist in the tree")
            pat = ignored(s)
            check(pat is None, f"COPY source {s} is excluded by the ignore file ({pat})")

# --- packages -----------------------------------------------------------------


def run_text(stage):
    return " ".join(arg for w, arg in stage["ins"] if w == "RUN")


def installed_names(stage):
    text = run_text(stage)
    m = re.search(r"apt-get install\s+((?:-\S+\s+)*)(.*?)(?:&&|$)", text)
    return m.group(2).split() if m else []


bpk, rpk = installed_names(build), installed_names(runtime)
want_b = shell_list(os.path.join(SRC, "deploy", "install-deps.sh"), "BUILD_PKGS")
want_r = shell_list(os.path.join(SRC, "deploy", "join.sh"), "RUNTIME_PKGS")
check(set(bpk) == set(want_b), f"build stage packages differ from install-deps.sh BUILD_PKGS: "
      f"extra {sorted(set(bpk) - set(want_b))}, missing {sorted(set(want_b) - set(bpk))}")
check(set(rpk) == set(want_r), f"runtime stage packages differ from join.sh RUNTIME_PKGS: "
      f"extra {sorted(set(rpk) - set(want_r))}, missing {sorted(set(want_r) - set(rpk))}")
check(not any(p.endswith("-dev") for p in rpk), "runtime stage installs -dev packages")
unknown = apt_unknown(bpk + rpk)
if unknown is None:
    print("note: apt has no package lists; package names not checked")
else:
    check(not unknown, f"apt cannot install {unknown}")
for st in stages:
    t = run_text(st)
    check("--no-install-recommends" in t and "rm -rf /var/lib/apt/lists" in t,
          f"stage {st['image']}: apt without --no-install-recommends or lists left behind")

# --- the build: the README's commands -------------------------------------------
readme = open(os.path.join(SRC, "README.md")).read()
bt = run_text(build)
for cmd in ("meson setup build", "meson compile -C build"):
    check(cmd in readme, f"README no longer says '{cmd}': update the Containerfile and this test")
    check(cmd in bt, f"build stage does not run '{cmd}'")
check("meson install -C build" in bt and "--destdir /staging" in bt and "--prefix=/usr" in bt,
      "build stage does not meson install --prefix=/usr into /staging")

# --- runtime: user, volume, command ---------------------------------------------
rins = runtime["ins"]
users = [a for w, a in rins if w == "USER"]
check(users and users[-1] not in ("root", "0"), f"the image runs as {users[-1:] or ['root']}")
vols = " ".join(a for w, a in rins if w == "VOLUME")
check("/var/lib/hptune" in vols, "no VOLUME for /var/lib/hptune (journal and data)")
check(any(w == "EXPOSE" and "7600" in a for w, a in rins), "no EXPOSE 7600")
cmd = [a for w, a in rins if w == "CMD"]
if check(cmd, "no CMD"):
    import json
    argv = json.loads(cmd[-1])
    check(argv[0] in BINS, f"CMD runs {argv[0]}")
    opts = all_options(argv[0]) if argv[0] in BINS else set()
    for a in argv[1:]:
        if a.startswith("--"):
            check(a[2:].split("=")[0] in opts, f"CMD flag {a} is not an option of {argv[0]}")

# --- the image's configs: this build's binaries take them, with real key files ---
tmp = tempfile.mkdtemp(prefix="hptune-deploy-container.")
try:
    keys = os.path.join(tmp, "keys")
    os.makedirs(os.path.join(keys, "authorized_keys"))
    have_keygen = "keygen" in run([BINS["hptune"], "--help"]).stdout
    if have_keygen:
        for who in ("coordinator", "worker"):
            run([BINS["hptune"], "keygen", "-o", os.path.join(keys, who)])
        shutil.copy(os.path.join(keys, "worker.pub"), os.path.join(keys, "authorized_keys"))
    for conf, exe in (("coordinator.conf", "hptune-coordinator"), ("worker.conf", "hptune-worker")):
        p = os.path.join(CDIR, conf)
        if not check(os.path.isfile(p), f"{p}: missing"):
            continue
        check(f"deploy/container/{conf}" in open(CFILE).read(), f"{conf} is not copied into the image")
        text = open(p).read().replace("/etc/hptune/keys/", keys + "/")
        if not have_keygen:
            text = "\n".join(l for l in text.splitlines() if not re.match(r"(curve_secret|server_key|authorized_keys)\b", l))
        q = os.path.join(tmp, conf)
        open(q, "w").write(text)
        r = run([BINS[exe], "--config", q, "--dump-config"])
        check(r.returncode == 0, f"{exe} rejects the image's {conf}: {r.stderr}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
