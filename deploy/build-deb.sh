#!/bin/sh
# build-deb.sh: build the Debian package hptune_VERSION_ARCH.deb from this
# source tree, with Debian's own tools:
#
#   deploy/build-deb.sh [OUTDIR]      # default OUTDIR: build-deb/
#   apt install ./build-deb/hptune_*.deb
#
# The packaging lives in deploy/debian/ (the top level of the tree stays as
# it is); this script copies the tree, without build directories, data/ and
# .git, to a temporary directory, puts deploy/debian/ there as debian/, runs
# `dpkg-buildpackage -b -us -uc` (debhelper with meson) and copies the .deb,
# .buildinfo and .changes into OUTDIR.  Needs the packages of
# deploy/install-deps.sh (build-essential, debhelper, meson and the -dev
# libraries; dpkg-buildpackage checks them).  JOBS (default 2) compiles in
# parallel.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$SRC/build-deb}
for tool in dpkg-buildpackage dh; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build-deb: $tool not found (apt-get install dpkg-dev debhelper)" >&2
        exit 1
    }
done

# The package version is the project's: meson.build and the changelog agree.
version=$(sed -n "s/^  version: '\([^']*\)',.*/\1/p" "$SRC/meson.build" | head -n 1)
changelog=$(sed -n '1s/^hptune (\([^)]*\)).*/\1/p' "$SRC/deploy/debian/changelog")
if [ -z "$version" ] || [ "$version" != "$changelog" ]; then
    echo "build-deb: meson.build says version '$version', deploy/debian/changelog '$changelog'" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hptune-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/hptune-$version"
tar -C "$SRC" --exclude=./.git --exclude='./build*' --exclude=./data --exclude=./debian \
    -cf - . | tar -C "$work/hptune-$version" -xf -
cp -R "$SRC/deploy/debian" "$work/hptune-$version/debian"
(cd "$work/hptune-$version" && dpkg-buildpackage -b -us -uc -j"${JOBS:-2}")
mkdir -p "$OUT"
for f in "$work"/*.deb "$work"/*.ddeb "$work"/*.buildinfo "$work"/*.changes; do
    [ -e "$f" ] && cp "$f" "$OUT/"
done
ls -l "$OUT"/hptune_"$version"_*.deb
