#!/bin/sh
# fresh_machine.sh: the slow, manual end-to-end check of deploy/join.sh and
# the systemd units (not in `meson test`: it downloads a Debian system and
# takes 5-10 minutes).  As root, with Debian's mirror reachable:
#   1. debootstrap a minimal Debian 12 into WORKDIR/root (once; kept), add
#      systemd to it, and copy this source tree to /usr/local/src/hptune;
#   2. run deploy/join.sh there as a fresh machine would (root, no terminal):
#      packages, build, install, user, config; then again, which must change
#      nothing ("up to date");
#   3. boot that system with systemd-nspawn (sharing this machine's loopback)
#      with hptune-coordinator and hptune-worker@local enabled, and a one-shot
#      unit that launches a small grid on the mnist data copied in, reloads
#      the coordinator and powers off; the sweep must finish (launch_rc=0)
#      under the hardened units;
#   4. run the Containerfile's build stage there (its COPY sources, its meson
#      RUN line) and check what the runtime stage copies was staged.
# Usage: tests/deploy/fresh_machine.sh [WORKDIR]   (default /tmp/hptune-fresh)
# Needs: debootstrap, systemd-nspawn (package systemd-container), data/mnist
# (deploy/fetch-data.sh).  Prints PASS or FAIL with the reason.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${1:-/tmp/hptune-fresh}
R=$WORK/root
PORT=${PORT:-7659}

fail() {
    echo "FAIL: $*"
    exit 1
}
[ "$(id -u)" = 0 ] || fail "run as root"
command -v debootstrap >/dev/null || fail "debootstrap missing (apt-get install debootstrap)"
command -v systemd-nspawn >/dev/null || fail "systemd-nspawn missing (apt-get install systemd-container)"
[ -d "$SRC/data/mnist" ] || fail "no $SRC/data/mnist (deploy/fetch-data.sh)"
mkdir -p "$WORK"

in_root() {
    chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root DEBIAN_FRONTEND=noninteractive "$@" </dev/null
}

# 1. The fresh system.
if [ ! -x "$R/usr/bin/apt-get" ]; then
    echo "== debootstrap bookworm into $R"
    debootstrap --variant=minbase bookworm "$R" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 ||
        fail "debootstrap (see $WORK/debootstrap.log)"
fi
cp /etc/resolv.conf "$R/etc/resolv.conf"
mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"
trap 'umount "$R/proc" 2>/dev/null || true' EXIT
rm -rf "$R/usr/local/src/hptune"
mkdir -p "$R/usr/local/src/hptune"
(cd "$SRC" && tar --exclude='./build*' --exclude=./data --exclude=./.git -cf - .) |
    tar -xf - -C "$R/usr/local/src/hptune"

# 2. join.sh, twice.
echo "== join.sh (first run: packages, build, install)"
# --no-start: in the chroot (no systemd) join.sh would start the worker as a
# background process; here the units start it, after the boot below.
in_root /usr/local/src/hptune/deploy/join.sh "127.0.0.1:$PORT" --name local --no-start >"$WORK/join1.log" 2>&1 ||
    fail "join.sh failed (see $WORK/join1.log)"
echo "== join.sh (second run: must change nothing)"
in_root /usr/local/src/hptune/deploy/join.sh "127.0.0.1:$PORT" --name local --no-start >"$WORK/join2.log" 2>&1 ||
    fail "second join.sh failed (see $WORK/join2.log)"
grep -q "packages: all present" "$WORK/join2.log" || fail "second run installed packages"
grep -q "installed files are up to date" "$WORK/join2.log" || fail "second run reinstalled the worker"
grep -q "worker-local.conf is up to date" "$WORK/join2.log" || fail "second run rewrote the config"

# 3. Boot it with the services.
echo "== boot under systemd-nspawn"
in_root sh -c 'command -v systemctl >/dev/null || apt-get install -y -qq --no-install-recommends systemd procps' \
    >"$WORK/systemd-install.log" 2>&1 || fail "installing systemd (see $WORK/systemd-install.log)"
sed -i "s|^bind .*|bind \"tcp://127.0.0.1:$PORT\"|" "$R/etc/hptune/coordinator.conf"
rm -rf "$R/var/lib/hptune/data/mnist"
cp -rL "$SRC/data/mnist" "$R/var/lib/hptune/data/"
in_root chown -R hptune:hptune /var/lib/hptune/data
cat >"$R/root/tiny.yaml" <<'EOF'
name: fresh-machine
dataset: mnist
method: grid
cv: {folds: 2}
refit: true
parameters:
  units: {values: [8, 16]}
  epochs: {value: 1}
EOF
cat >"$R/etc/systemd/system/hptune-selftest.service" <<EOF
[Unit]
Description=hptune self test
After=hptune-coordinator.service hptune-worker@local.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'n=0; until /usr/local/bin/hptune status --timeout 1 --coordinator tcp://127.0.0.1:$PORT >/dev/null 2>&1 || [ \$\$n -ge 60 ]; do n=\$\$((n + 1)); sleep 1; done; { timeout 120 /usr/local/bin/hptune launch /root/tiny.yaml --wait --coordinator tcp://127.0.0.1:$PORT; echo launch_rc=\$\$?; systemctl reload hptune-coordinator; echo reload_rc=\$\$?; systemctl status --no-pager hptune-coordinator hptune-worker@local; } >/root/selftest.out 2>&1; systemctl poweroff'
[Install]
WantedBy=multi-user.target
EOF
in_root systemctl enable hptune-coordinator hptune-worker@local hptune-selftest >/dev/null 2>&1 ||
    fail "systemctl enable"
rm -f "$R/root/selftest.out"
umount "$R/proc" 2>/dev/null || true
timeout 300 systemd-nspawn -D "$R" -b --register=no --keep-unit --quiet >"$WORK/boot.log" 2>&1 || true
in_root systemctl disable hptune-selftest >/dev/null 2>&1 || true
[ -f "$R/root/selftest.out" ] || fail "the self test did not run (see $WORK/boot.log)"
cp "$R/root/selftest.out" "$WORK/selftest.out"
grep -q "^launch_rc=0" "$WORK/selftest.out" || fail "the sweep did not finish (see $WORK/selftest.out)"
grep -q "^reload_rc=0" "$WORK/selftest.out" || fail "systemctl reload failed (see $WORK/selftest.out)"

# 4. The Containerfile's build stage, as far as a Debian 12 system without a
# container engine can run it: only the files its COPY lines name, then its
# meson RUN line; the staged tree must hold what the runtime stage copies.
echo "== the Containerfile's build stage (its COPY sources, its RUN meson ...)"
CF=$SRC/deploy/container/Containerfile
ctx=$R/tmp/container-src
rm -rf "$ctx" "$R/staging"
mkdir -p "$ctx"
# Words, not lines: a COPY line names several sources.
# shellcheck disable=SC2013
for f in $(awk '/^FROM/ { n++ } n == 1 && /^COPY / && !/--from/ { $1 = ""; $NF = ""; print }' "$CF"); do
    (cd "$SRC" && cp -r --parents "${f%/}" "$ctx/") || fail "COPY source $f"
done
cmd=$(sed -n '/^RUN meson setup/,/[^\\]$/p' "$CF" | sed 's/^RUN //; s/\\$//' | tr '\n' ' ')
[ -n "$cmd" ] || fail "no RUN meson setup line in $CF"
mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"
in_root sh -c "cd /tmp/container-src && $cmd" >"$WORK/container-build.log" 2>&1 ||
    fail "the build stage's commands failed (see $WORK/container-build.log)"
for f in usr/bin/hptune usr/bin/hptune-coordinator usr/bin/hptune-worker \
    usr/share/man/man1/hptune.1 usr/share/hptune/examples/blog-grid.yaml; do
    [ -e "$R/staging/$f" ] || fail "the build stage staged no /staging/$f"
done

echo "PASS: join.sh on a fresh Debian 12, idempotent; the hardened units ran a sweep;"
echo "      the Containerfile's build stage builds from its COPY sources ($WORK)"
