"""The CLI's per-user config file (coordinator/cli/cli_conf.h):
$XDG_CONFIG_HOME/hptune/config, else ~/.config/hptune/config, holds the
coordinator's address and the key paths; a flag beats the environment,
which beats the file, which beats the default.

Against a real CURVE coordinator:
  - with the address and both keys only in the file (relative key paths,
    found next to the file, and ~/ paths), `hptune status` gets through;
  - `hptune config` says where each setting came from;
  - HPTUNE_COORDINATOR beats the file (a dead address: exit 3, and the
    message names the address and its source), --coordinator beats both;
  - HPTUNE_SERVER_KEY (a wrong key) beats the file's; a flag beats that;
  - ~/.config is used when XDG_CONFIG_HOME is unset or relative;
  - a bad line (unknown key, timeout out of range) is exit 2 naming
    file:line; a missing file is no error."""
import os
import shutil
import subprocess
import tempfile

from harness import CLI, Cluster, check, finish, free_port, skip

tmp = tempfile.mkdtemp(prefix="hpt-userconf-")
keys = os.path.join(tmp, "keys")
os.mkdir(keys)


def keygen(name):
    prefix = os.path.join(keys, name)
    r = subprocess.run([CLI, "keygen", "-o", prefix], capture_output=True, text=True, timeout=30)
    if r.returncode != 0 and "without CURVE" in r.stderr:
        skip("libzmq without CURVE: " + r.stderr.strip())
    check(r.returncode == 0, f"hptune keygen: {r.stderr}")
    return prefix + ".key", prefix + ".pub"


coord_key, coord_pub = keygen("coordinator")
me_key, me_pub = keygen("me")
_, other_pub = keygen("other")
auth = os.path.join(keys, "authorized")
os.makedirs(os.path.join(auth, "clients"))
shutil.copy(me_pub, os.path.join(auth, "clients", "me.pub"))

c = Cluster(name="userconf")
c.start_coordinator("--curve-secret", coord_key, "--authorized-keys", auth, wait=False)

# A home of our own: XDG_CONFIG_HOME/hptune/config with relative key paths.
home = os.path.join(tmp, "home")
xdg = os.path.join(tmp, "xdg")
os.makedirs(os.path.join(xdg, "hptune"))
os.makedirs(home)
shutil.copy(me_key, os.path.join(xdg, "hptune", "me.key"))
os.chmod(os.path.join(xdg, "hptune", "me.key"), 0o600)
shutil.copy(coord_pub, os.path.join(xdg, "hptune", "coordinator.pub"))
conf = os.path.join(xdg, "hptune", "config")
with open(conf, "w") as f:
    f.write(f"# written by the test\ncoordinator {c.addr}\n"
            "curve_secret me.key\nserver_key \"coordinator.pub\"\ntimeout 20\n")
BASE = {k: v for k, v in os.environ.items()
        if k not in ("HPTUNE_COORDINATOR", "HPTUNE_CURVE_SECRET", "HPTUNE_SERVER_KEY",
                     "XDG_CONFIG_HOME", "HOME")}
BASE["HOME"] = home


def cli(*args, **env):
    e = dict(BASE)
    e.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=e, timeout=60)


# The file alone reaches the CURVE coordinator (once it is up).
c.wait_for(lambda: cli("status", "--timeout", "1", XDG_CONFIG_HOME=xdg).returncode == 0,
           timeout=30, what="hptune status with the settings from the config file")
r = cli("status", XDG_CONFIG_HOME=xdg)
check(r.returncode == 0, f"status with the config file: {r.returncode} {r.stderr}")
# Without it: no keys, and the default address (no coordinator there, or not this one).
r = cli("status", "--timeout", "1", "--coordinator", c.addr)
check(r.returncode == 3, f"status without keys got through: {r.returncode} {r.stdout}")

# hptune config: the sources.
r = cli("config", XDG_CONFIG_HOME=xdg)
out = r.stdout
print(out, flush=True)
check(r.returncode == 0, f"hptune config: {r.returncode} {r.stderr}")
check(f"coordinator {c.addr}  # from {conf}" in out, "coordinator's source")
check(f"curve_secret {os.path.join(xdg, 'hptune', 'me.key')}  # from {conf}" in out,
      "curve_secret is not resolved next to the file")
check(f"server_key {os.path.join(xdg, 'hptune', 'coordinator.pub')}  # from {conf}" in out,
      "server_key's source")
check(f"timeout 20  # from {conf}" in out, "timeout's source")
check(f"# config file: {conf} (read)" in out, "the file's path")
r = cli("config", "--path", XDG_CONFIG_HOME=xdg)
check(r.stdout.strip() == conf, f"config --path: {r.stdout!r}")

# The environment beats the file; the flag beats the environment.
dead = f"tcp://127.0.0.1:{free_port()}"
r = cli("status", "--timeout", "1", XDG_CONFIG_HOME=xdg, HPTUNE_COORDINATOR=dead)
check(r.returncode == 3 and dead in r.stderr and "HPTUNE_COORDINATOR" in r.stderr,
      f"HPTUNE_COORDINATOR did not beat the file: {r.returncode} {r.stderr}")
r = cli("status", "--coordinator", c.addr, XDG_CONFIG_HOME=xdg, HPTUNE_COORDINATOR=dead)
check(r.returncode == 0, f"--coordinator did not beat HPTUNE_COORDINATOR: {r.stderr}")
r = cli("config", "--timeout", "2.5", XDG_CONFIG_HOME=xdg, HPTUNE_COORDINATOR=dead)
check(f"coordinator {dead}  # from HPTUNE_COORDINATOR" in r.stdout and
      "timeout 2.5  # from --timeout" in r.stdout, f"config with env and flag:\n{r.stdout}")
# An empty variable counts as unset.
r = cli("config", XDG_CONFIG_HOME=xdg, HPTUNE_COORDINATOR="")
check(f"coordinator {c.addr}  # from {conf}" in r.stdout, f"empty variable:\n{r.stdout}")

# Keys: a wrong server key in the environment beats the file's right one ...
r = cli("status", "--timeout", "1", XDG_CONFIG_HOME=xdg, HPTUNE_SERVER_KEY=other_pub)
check(r.returncode == 3, f"HPTUNE_SERVER_KEY did not beat the file: {r.returncode}")
# ... and the right one as a flag beats that.
r = cli("status", "--server-key", coord_pub, XDG_CONFIG_HOME=xdg, HPTUNE_SERVER_KEY=other_pub)
check(r.returncode == 0, f"--server-key did not beat HPTUNE_SERVER_KEY: {r.stderr}")

# ~/.config when XDG_CONFIG_HOME is unset, or relative (the XDG rule), with ~/ paths.
os.makedirs(os.path.join(home, ".config", "hptune"))
os.makedirs(os.path.join(home, "keys"))
home_pub = os.path.join(home, "keys", "coordinator.pub")
shutil.copy(coord_pub, home_pub)
hconf = os.path.join(home, ".config", "hptune", "config")
with open(hconf, "w") as f:
    f.write(f"coordinator {c.addr}\ncurve_secret {me_key}\nserver_key ~/keys/coordinator.pub\n")
for x in (None, "relative/dir"):
    r = cli("status", XDG_CONFIG_HOME=x)
    check(r.returncode == 0, f"~/.config/hptune/config (XDG_CONFIG_HOME={x}): {r.stderr}")
    r = cli("config", XDG_CONFIG_HOME=x)
    check(f"# from {hconf}" in r.stdout and f"server_key {home_pub}" in r.stdout,
          f"config with XDG_CONFIG_HOME={x}:\n{r.stdout}")

# A missing file is no error: the defaults.
r = cli("config", XDG_CONFIG_HOME=os.path.join(tmp, "nowhere"))
check(r.returncode == 0 and "(not present)" in r.stdout and
      "coordinator tcp://127.0.0.1:7600  # from default" in r.stdout,
      f"missing file: {r.returncode} {r.stdout} {r.stderr}")

# Bad files: exit 2, naming file:line and the key.
bad = os.path.join(tmp, "bad")
os.makedirs(os.path.join(bad, "hptune"))
for text, line, what in (("coordinator tcp://x:1\nbogus 3\n", 2, "bogus"),
                         ("# t\n\ntimeout 0\n", 3, "timeout")):
    with open(os.path.join(bad, "hptune", "config"), "w") as f:
        f.write(text)
    for cmd in (("status",), ("config",)):
        r = cli(*cmd, XDG_CONFIG_HOME=bad)
        where = f"{os.path.join(bad, 'hptune', 'config')}:{line}"
        check(r.returncode == 2 and where in r.stderr and what in r.stderr,
              f"bad config ({what}) for {cmd}: {r.returncode} {r.stderr}")
# Only one of the two keys: a usage error naming the file.
with open(os.path.join(bad, "hptune", "config"), "w") as f:
    f.write("server_key coordinator.pub\n")
r = cli("status", XDG_CONFIG_HOME=bad)
check(r.returncode == 2 and "config" in r.stderr and "key pair" in r.stderr,
      f"one key only: {r.returncode} {r.stderr}")
finish()
