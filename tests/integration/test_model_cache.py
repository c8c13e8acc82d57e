"""The worker's model cache and the --dry-run test objectives, through the
wire protocol.

The coordinator does send promoted trials: hyperband and asha promote them
and the worker continues the parent's cached model (end to end in
test_successive_halving.py).  But there the scheduler decides which task
goes where and when; to check the cache case by case (resumed_from, epochs
asked below the cached ones, other folds/seeds/refits, eviction order),
fake-coord (a scripted ROUTER speaking the worker protocol,
tests/integration/fake_coord.c) drives real hptune-worker processes Assign
by Assign.  The data is a small
synthetic IDX dataset written here (3000 training images of 28x28, 10
classes), so every task takes well under a second, even under ASan.

Workers: A (default cache, -v), B (--model-cache-mb 0: always from scratch),
C (a cache that holds exactly two models of 256 units), D (--dry-run).
Checks:
  - A trains key K for 2 epochs (resumed_from 0), then the same key for 5:
    resumed_from 2, Progress only for epochs 3..5 (each with epochs=5), the
    "continuing a cached model" info line, and score, accuracy, log_loss,
    f1_macro, train_score and the per-epoch val_score/train_loss bit-for-bit
    those of B's fresh 5-epoch run (and the 2-epoch ones those of B's 2).
  - An ask for fewer epochs than cached (3 < 5) retrains from scratch and
    replaces the cached model: 4 then continues from 3, equal to fresh.
  - Another fold, another seed or a refit never reuse a model; refits are not
    cached.  A cancelled task drops its model (the next ask starts over).
  - A real worker ignores test_objective.
  - C: least-recently-used eviction (resumed_from sequence over 7 tasks on
    three keys) and a model larger than the bound is not kept.
  - D: "bowl" matches its formula (noise within +-0.002, the same on one
    split for every configuration), rises with epochs, peaks at its known
    optimum; "" and "hash" give the same score; an unknown name fails the
    task with its error; dry-run results carry epochs = hparams.epochs and no
    Progress.
  - Every worker exits 0 on SIGTERM with no sanitizer report (harness).
"""
import json
import math
import os
import random
import struct
import subprocess
import time

from harness import BUILD, Cluster, check, finish, on_cleanup

FAKE = os.environ.get("HPT_FAKE_COORD",
                      os.path.join(BUILD, "tests", "integration", "fake-coord"))
N_TRAIN, N_TEST, SIDE, CLASSES = 3000, 500, 28, 10


def write_idx(dirname):
    """A learnable but not trivial 10-class problem: each class brightens
    some of its own 60 pixels a little, on noise (a 5-epoch model of 32 units
    gets about 80% right, so the scores compared below can still move)."""
    rng = random.Random(1)
    patterns = [rng.sample(range(SIDE * SIDE), 60) for _ in range(CLASSES)]

    def split(n):
        labels = bytes(rng.randrange(CLASSES) for _ in range(n))
        img = bytearray(n * SIDE * SIDE)
        for i, c in enumerate(labels):
            base = i * SIDE * SIDE
            for j in range(SIDE * SIDE):
                img[base + j] = rng.randrange(120)
            for j in patterns[c]:
                if rng.random() < 0.5:
                    img[base + j] = min(255, img[base + j] + 50)
        return bytes(img), labels

    os.makedirs(dirname, exist_ok=True)
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        img, lab = split(n)
        with open(os.path.join(dirname, f"{prefix}-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, SIDE, SIDE) + img)
        with open(os.path.join(dirname, f"{prefix}-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + lab)


class Fake:
    """fake-coord, one command at a time."""

    def __init__(self, addr, logdir):
        self.err = open(os.path.join(logdir, "fake-coord.log"), "ab")
        self.p = subprocess.Popen([FAKE, addr], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True, bufsize=1)
        on_cleanup(self.kill)
        self.results = {}      # task -> Result dict
        self.progress = {}     # task -> [Progress dicts]
        self.events = []
        ev = json.loads(self.p.stdout.readline())
        assert ev["ev"] == "listening", ev

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        while True:
            raw = self.p.stdout.readline()
            if not raw:
                raise RuntimeError(f"fake-coord died during {line!r}")
            ev = json.loads(raw)
            self.events.append(ev)
            if ev["ev"] == "result":
                self.results[ev["task"]] = ev
            elif ev["ev"] == "progress":
                self.progress.setdefault(ev["task"], []).append(ev)
            elif ev["ev"] == "ok":
                return True
            elif ev["ev"] == "error":
                raise RuntimeError(f"fake-coord: {line!r}: {ev['msg']}")

    def run(self, worker, task, timeout_ms=120000, **kv):
        """Assign task to worker and wait for its Result."""
        args = " ".join(f"{k}={v}" for k, v in kv.items())
        self.cmd(f"assign {worker} task={task} {args}")
        self.cmd(f"wait result {task} {timeout_ms}")
        return self.results[task]

    def quit(self):
        self.cmd("quit")
        self.p.wait(10)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.err.close()


SAME = ("score", "accuracy", "log_loss", "f1_macro", "train_score")


def same_bits(a, b, what):
    for k in SAME:
        check(a[f"{k}_bits"] == b[f"{k}_bits"],
              f"{what}: {k} differs: {a[k]} ({a[k + '_bits']}) vs {b[k]} ({b[k + '_bits']})")


def same_progress(pa, pb, epochs, what):
    ea = {p["epoch"]: p for p in pa}
    eb = {p["epoch"]: p for p in pb}
    for e in epochs:
        if not check(e in ea and e in eb, f"{what}: epoch {e} progress missing"):
            continue
        for k in ("val_score", "train_loss"):
            check(ea[e][f"{k}_bits"] == eb[e][f"{k}_bits"],
                  f"{what}: epoch {e} {k} {ea[e][k]} vs {eb[e][k]}")


c = Cluster(name="model-cache", hb_ms=100, liveness=100)
ds_dir = os.path.join(c.dir, "synth")
write_idx(ds_dir)
DS = "idx:" + ds_dir
fake = Fake(c.addr, c.dir)

common = ["--dataset", DS, "--slots", "2"]
c.start_worker(name="A", extra=common + ["-v"])
c.start_worker(name="B", extra=common + ["--model-cache-mb", "0"])
c.start_worker(name="D", extra=["--dry-run", "--dataset", "synth"])
for w in ("A", "B", "D"):
    fake.cmd(f"hello {w} 30000")

# K: one configuration on fold 0 of a stratified, shuffled 5-fold split.
K = dict(dataset=DS, fold=0, folds=5, cv_seed=3, stratified=1, shuffle=1, score_train=1,
         units=32, optimizer="adam", lr=0.002, dropout=0.2, batch_size=64, seed=7)


def kv(**over):
    d = dict(K)
    d.update(over)
    return d


# --- continuing a cached model is bit-for-bit a fresh run --------------------

r1 = fake.run("A", 1, **kv(epochs=2))
check(r1["ok"] and r1["resumed_from"] == 0 and r1["epochs"] == 2, f"A 2 epochs: {r1}")
check(0.25 < r1["accuracy"] < 0.9, f"the model learns, not too fast: {r1['accuracy']}")
t_resume = time.time()
r2 = fake.run("A", 2, **kv(epochs=5))
check(r2["ok"] and r2["resumed_from"] == 2 and r2["epochs"] == 5, f"A 2 -> 5 epochs: {r2}")
got = [(p["epoch"], p["epochs"]) for p in fake.progress.get(2, [])]
check(got == [(3, 5), (4, 5), (5, 5)], f"progress of the continued task: {got}")
ev = c.wait_log("A", "continuing a cached model", timeout=5, after=t_resume - 1, task=2)
check(ev is not None and ev.get("from_epoch") == "2" and ev.get("to_epoch") == "5",
      f"info line for the continuation: {ev}")

r3 = fake.run("B", 3, **kv(epochs=5))
check(r3["ok"] and r3["resumed_from"] == 0 and r3["epochs"] == 5, f"B fresh 5 epochs: {r3}")
same_bits(r2, r3, "A continued 2->5 vs B fresh 5")
same_progress(fake.progress.get(2, []), fake.progress.get(3, []), [3, 4, 5],
              "A continued vs B fresh")
r4 = fake.run("B", 4, **kv(epochs=2))
same_bits(r1, r4, "A 2 vs B fresh 2")
print(f"continued 2->5: accuracy {r2['accuracy']:.6f} log_loss {r2['log_loss_bits']} "
      f"fit {r2['fit_seconds']:.3f}s; fresh 5: accuracy {r3['accuracy']:.6f} log_loss "
      f"{r3['log_loss_bits']} fit {r3['fit_seconds']:.3f}s", flush=True)
check(r2["fit_seconds"] < r3["fit_seconds"] * 1.5 + 0.05,
      f"fit_seconds of the continuation ({r2['fit_seconds']:.3f}) covers 3 epochs, "
      f"fresh 5: {r3['fit_seconds']:.3f}")

# Fewer epochs than cached: from scratch, and the newer model replaces the old.
r5 = fake.run("A", 5, **kv(epochs=3))
check(r5["ok"] and r5["resumed_from"] == 0 and r5["epochs"] == 3, f"A 3 < cached 5: {r5}")
r6 = fake.run("A", 6, **kv(epochs=4))
check(r6["ok"] and r6["resumed_from"] == 3, f"A 3 -> 4: {r6}")
r7 = fake.run("B", 7, **kv(epochs=4))
same_bits(r6, r7, "A continued 3->4 vs B fresh 4")

# The key: another fold, another seed, a refit.
r = fake.run("A", 8, **kv(epochs=6, fold=1))
check(r["ok"] and r["resumed_from"] == 0, f"fold 1 does not reuse fold 0: {r}")
r = fake.run("A", 9, **kv(epochs=6, seed=8))
check(r["ok"] and r["resumed_from"] == 0, f"seed 8 does not reuse seed 7: {r}")
r = fake.run("A", 10, **kv(epochs=6, cv_seed=4))
check(r["ok"] and r["resumed_from"] == 0, f"cv_seed 4 does not reuse cv_seed 3: {r}")
r = fake.run("A", 11, **kv(epochs=1, refit=1))
check(r["ok"] and r["resumed_from"] == 0 and r["n_eval"] == N_TEST, f"refit 1: {r}")
r = fake.run("A", 12, **kv(epochs=2, refit=1))
check(r["ok"] and r["resumed_from"] == 0, f"refits are not cached: {r}")

# A cancelled task drops its model.
r = fake.run("A", 13, **kv(epochs=1, seed=9))
check(r["ok"] and r["resumed_from"] == 0, f"K2 1 epoch: {r}")
t_cancel = time.time()
fake.cmd("assign A task=14 " + " ".join(f"{k}={v}" for k, v in kv(epochs=100000, seed=9).items()))
fake.cmd("wait progress 14 3 60000")
check(fake.progress[14][0]["epoch"] == 2, f"the long task continued from 1: {fake.progress[14][0]}")
fake.cmd("cancel A 14 1")
ev = c.wait_log("A", "task stopped after cancel, no result sent", timeout=30, after=t_cancel,
                task=14)
check(ev is not None, "the cancelled task stopped")
r = fake.run("A", 15, **kv(epochs=2, seed=9))
check(r["ok"] and r["resumed_from"] == 0, f"after a cancel the model is gone: {r}")
check(14 not in fake.results, "no Result for the cancelled task")

# A real worker ignores test_objective.
ra = fake.run("A", 16, **kv(epochs=2, seed=11, test_objective="bowl"))
rb = fake.run("B", 17, **kv(epochs=2, seed=11))
check(ra["ok"] and ra["n_eval"] == 600 and ra["fit_seconds"] > 0, f"trained despite bowl: {ra}")
same_bits(ra, rb, "test_objective ignored by a real worker")

# --- LRU eviction and the bound ----------------------------------------------

big = dict(units=256, score_train=0)
ev = c.wait_log("A", "model cached", timeout=5, task=1)
small_bytes = int(ev["bytes"]) if ev else 0
check(small_bytes > 0, f"A logged the cached model's size: {ev}")
r = fake.run("A", 18, **kv(epochs=1, seed=20, **big))
ev = c.wait_log("A", "model cached", timeout=5, task=18)
S = int(ev["bytes"]) if ev else 0
mb = -(-2 * S // (1 << 20))          # the least MiB that hold two
check(S > 0 and 2 * S <= mb << 20 < 3 * S, f"a bound for exactly two models of {S} bytes: {mb} MiB")
c.start_worker(name="C", extra=common + ["-v", "--model-cache-mb", str(mb)])
fake.cmd("hello C 30000")
seq = []
for task, seed, epochs in ((21, 1, 1), (22, 2, 1), (23, 1, 2), (24, 3, 1), (25, 1, 3),
                           (26, 2, 2), (27, 3, 2)):
    r = fake.run("C", task, **kv(epochs=epochs, seed=seed, **big))
    check(r["ok"], f"C task {task}: {r}")
    seq.append(r["resumed_from"])
# X=1, Y=2, Z=3.  X1 Y1 | X2 (from 1; X most recent) | Z1 evicts Y | X3 (from 2) |
# Y2 from scratch (evicts Z) | Z2 from scratch.
check(seq == [0, 0, 1, 0, 2, 0, 0], f"LRU: resumed_from sequence {seq}")
print(f"model of 32 units: {small_bytes} bytes, of 256 units: {S} bytes; C's bound {mb} MiB; "
      f"resumed_from sequence {seq}", flush=True)
ev = c.wait_log("C", "model cached", timeout=5, task=24)
check(ev is not None and ev.get("evicted") == "1" and ev.get("cache_models") == "2",
      f"Z evicted one model: {ev}")
r = fake.run("C", 28, **kv(epochs=1, seed=4, units=1024, score_train=0))
ev = c.wait_log("C", "model not cached", timeout=5, task=28)
check(ev is not None and int(ev["bytes"]) > mb << 20, f"a model above the bound is not kept: {ev}")
r = fake.run("C", 29, **kv(epochs=2, seed=4, units=1024, score_train=0))
check(r["ok"] and r["resumed_from"] == 0, f"the big model was not kept: {r}")
r = fake.run("C", 30, **kv(epochs=3, seed=2, **big))
check(r["ok"] and r["resumed_from"] == 2, f"the cache still works after the big one: {r}")

# --- --dry-run objectives ------------------------------------------------------

OPT = dict(lr=10 ** -2.5, dropout=0.2, units=128, batch_size=64)


def bowl(lr, dropout, units, batch_size, epochs):
    d = (((math.log10(lr) + 2.5) / 1.5) ** 2 + ((dropout - 0.2) / 0.5) ** 2 +
         ((math.log2(units) - 7) / 3) ** 2 + ((math.log2(batch_size) - 6) / 3) ** 2)
    return 0.98 * math.exp(-d) * (1 - 0.5 ** (epochs / 3.0))


task = 100
dry = dict(dataset="synth", fold=2, folds=5, cv_seed=5, test_objective="bowl")
noise = []
configs = [dict(OPT), dict(OPT, lr=0.01), dict(OPT, dropout=0.5), dict(OPT, units=32),
           dict(OPT, batch_size=256), dict(lr=1e-4, dropout=0.0, units=1024, batch_size=8)]
for cfg in configs:
    scores = []
    for e in (1, 3, 9, 27):
        task += 1
        r = fake.run("D", task, **dry, **cfg, epochs=e)
        check(r["ok"] and r["epochs"] == e and 0 < r["score"] < 1, f"bowl {cfg} e={e}: {r}")
        check(r["accuracy_bits"] == r["score_bits"] and
              abs(r["log_loss"] - (1 - r["score"])) < 1e-15, f"bowl fields: {r}")
        want = bowl(**cfg, epochs=e)
        check(abs(r["score"] - want) <= 0.002 + 1e-12, f"bowl {cfg} e={e}: {r['score']} vs {want}")
        noise.append(r["score"] - want)
        scores.append(r["score"])
    check(all(a < b for a, b in zip(scores, scores[1:])), f"bowl rises with epochs: {cfg} {scores}")
check(max(noise) - min(noise) < 1e-9, f"one split, one noise: {min(noise)}..{max(noise)}")
print(f"bowl: {len(noise)} scores within {max(abs(n) for n in noise):.6f} of the formula; "
      f"optimum at 1/3/9/27 epochs: "
      f"{[round(fake.results[t]['score'], 6) for t in range(101, 105)]}", flush=True)
best = [fake.results[t]["score"] for t in range(101, 125, 4)]   # epochs 1 of each config
check(best[0] == max(best), f"the optimum scores highest: {best}")
check(abs(fake.results[102]["score"] - (0.49 + noise[0])) < 1e-12, "at the optimum, 3 epochs: 0.49")
# Another split moves the noise, within its bound.
r = fake.run("D", 200, **dict(dry, fold=3), **OPT, epochs=3)
check(abs(r["score"] - 0.49) <= 0.002 and r["score"] != fake.results[102]["score"],
      f"fold 3 noise: {r['score']}")

h0 = fake.run("D", 201, **dict(dry, test_objective=""), **OPT, epochs=3)
h1 = fake.run("D", 202, **dict(dry, test_objective="hash"), **OPT, epochs=3)
check(h0["ok"] and h0["score_bits"] == h1["score_bits"] and 0.5 <= h0["score"] <= 0.99,
      f"'' and 'hash' are today's hash score: {h0['score']} {h1['score']}")
r = fake.run("D", 203, **dict(dry, test_objective="nope"), **OPT, epochs=3)
check(not r["ok"] and not r["refused"] and
      r["error"] == "unknown test_objective nope (known: hash, bowl, noisy)", f"unknown objective: {r}")
check(not any(t > 100 for t in fake.progress), "dry-run tasks send no Progress")

c.stop()        # SIGTERM the workers: they exit 0 (Goodbye goes to fake-coord)
fake.quit()
finish()
