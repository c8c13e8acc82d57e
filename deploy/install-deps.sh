#!/bin/sh
# install-deps.sh: install the Debian packages hptune needs to build, test,
# fetch its data and run its benchmarks.  Idempotent: when every package is
# already present it returns at once without touching apt.  Works as root with
# no terminal (CI); as a normal user it uses sudo when available.
#
# Usage: deploy/install-deps.sh [--no-bench]
#   --no-bench   skip the benchmark peers (python3-torch, -sklearn, -optuna)
set -eu

BUILD_PKGS="build-essential pkg-config meson ninja-build
 libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libopenblas-dev libuv1-dev
 libsqlite3-dev libfyaml-dev zlib1g-dev libsodium-dev libmicrohttpd-dev"
DATA_PKGS="nodejs npm dataset-fashion-mnist ca-certificates"
# bash-completion: the completion test also runs under it; prometheus: the
# scrape test starts its binary (not the service); debhelper and lintian: the
# Debian package test builds and checks hptune_*.deb; slurmctld, slurmd,
# slurm-client and munge: the Slurm test runs a one-node cluster (the
# daemons started by the test, not as services).
TEST_PKGS="python3 valgrind clang libclang-rt-14-dev iproute2 python3-yaml shellcheck groff-base
 python3-zmq python3-protobuf protobuf-compiler
 chromium bash-completion prometheus debhelper lintian
 slurmctld slurmd slurm-client munge"
BENCH_PKGS="python3 python3-numpy python3-torch python3-sklearn python3-optuna"

want="$BUILD_PKGS $DATA_PKGS $TEST_PKGS"
if [ "${1:-}" != "--no-bench" ]; then
    want="$want $BENCH_PKGS"
fi

missing=""
for p in $want; do
    # Ask dpkg whether the package is installed; "install ok installed" is the
    # only status that counts.
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        # node/npm may come from elsewhere (nodesource, nvm): accept the commands.
        case "$p" in
            nodejs) command -v node >/dev/null 2>&1 && continue ;;
            npm) command -v npm >/dev/null 2>&1 && continue ;;
        esac
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing </dev/null
echo "install-deps: done"
