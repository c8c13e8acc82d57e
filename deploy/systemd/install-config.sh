#!/bin/sh
# install-config.sh: meson install script that puts the sample service configs
# into SYSCONFDIR/hptune without overwriting what is there (an edited config
# survives a reinstall; deploy/join.sh re-runs meson install).
#
# Usage (from meson.add_install_script): install-config.sh DIR FILE...
# Honours DESTDIR, as meson sets it for `meson install --destdir`.
set -eu
dir=$1
shift
dest=${DESTDIR:-}$dir
mkdir -p "$dest"
for f in "$@"; do
    name=$(basename "$f")
    if [ -e "$dest/$name" ]; then
        echo "Keeping existing $dest/$name"
    else
        echo "Installing $f to $dest/$name"
        cp "$f" "$dest/$name.tmp.$$"
        chmod 0644 "$dest/$name.tmp.$$"
        mv "$dest/$name.tmp.$$" "$dest/$name"
    fi
done
