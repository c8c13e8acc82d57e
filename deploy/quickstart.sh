#!/bin/sh
# quickstart.sh: the README's main-job command.  Installs what is missing,
# builds, fetches the datasets, then trains the blog post's model (784-32-10,
# relu, adam, batch 32) on the real MNIST digits with live progress and prints
# its test accuracy.  Idempotent.
#
# When the distributed sweep lands (issue 3) this starts a coordinator and two
# workers and runs the blog's grid instead.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

deploy/install-deps.sh
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    meson setup "$BUILD_DIR"
fi
meson compile -C "$BUILD_DIR"
deploy/fetch-data.sh data

echo
echo "== hptune train: 784-32-10 relu MLP, adam, batch 32, 5 epochs, on mnist =="
"$BUILD_DIR/coordinator/cli/hptune" train --dataset mnist --data-dir data --test \
    --layers 1 --units 32 --activation relu --optimizer adam --learning-rate 0.001 \
    --batch-size 32 --epochs 5 --seed 42
