"""A W&B sweep config, written as W&B users write it, runs end to end on real
digits (issue 12): launch accepts it as written and prints its warnings,
the aliases reach the workers (momentum trains SGD with momentum, wd is the
weight decay), the results name the parameters as hptune does (param_units,
param_weight_decay), and a train_* metric ranks trials by the training
score while the test columns keep the held-out one."""
import os

from harness import Cluster, check, finish, need_data

need_data("mnist-10k")
SPEC = """
program: train.py
project: mnist-mlp
method: grid
metric:
  name: train_loss
  goal: minimize
dataset: mnist-10k
cv: {folds: 2, seed: 3}
refit: false
parameters:
  optimizer:
    values: [momentum, adamw]
  wd:
    values: [0, 0.01]
  hidden_size:
    value: 16
  lr:
    value: 0.01
  num_epochs:
    value: 1
"""

c = Cluster(name="wandb")
c.start_coordinator()
c.start_worker(slots=2)
path = os.path.join(c.dir, "wandb.yaml")
with open(path, "w") as f:
    f.write(SPEC)
r = c.cli("launch", path)
sweep = int(r.stdout.split()[0])
check("submitted: 4 trials, 8 tasks" in r.stderr, "launch line: " + r.stderr)
check("warning: program, project: W&B's run settings are kept" in r.stderr,
      "launch does not print the plumbing warning: " + r.stderr)
state = c.wait_sweep(sweep, timeout=240)
check(state == "done", f"sweep state {state}")

res = c.results(sweep)
cv = res["cv_results"]
check(len(cv["mean_test_score"]) == 4, f"{len(cv['mean_test_score'])} trials, want 4")
check(sorted(cv["param_optimizer"]) == ["adamw", "adamw", "momentum", "momentum"],
      f"param_optimizer {cv['param_optimizer']}")
check(sorted(cv["param_weight_decay"]) == [0, 0, 0.01, 0.01],
      f"param_weight_decay {cv['param_weight_decay']}")
check(cv["param_units"] == [16] * 4, f"param_units {cv['param_units']}")
# Ranked by the training score (log loss, lower is better).
train = cv["mean_train_score"]
check(all(t is not None and t > 0 for t in train), f"mean_train_score {train}")
for i in range(4):
    want = 1 + sum(1 for j in range(4) if train[j] < train[i])
    check(cv["rank_test_score"][i] == want,
          f"trial {i}: rank {cv['rank_test_score'][i]}, want {want} by training loss {train}")
    splits = [cv[f"split{k}_test_score"][i] for k in range(2)]
    check(abs(cv["mean_test_score"][i] - sum(splits) / 2) < 1e-12,
          f"trial {i}: mean_test_score {cv['mean_test_score'][i]} is not the held-out mean "
          f"of {splits}")
# Weight decay changed the training: with it, each optimizer's held-out loss
# differs from its run without (same seeds, same data: common random numbers).
by = {(cv["param_optimizer"][i], cv["param_weight_decay"][i]): cv["mean_test_score"][i]
      for i in range(4)}
for opt in ("momentum", "adamw"):
    check(by[(opt, 0)] != by[(opt, 0.01)], f"{opt}: weight_decay changed nothing: {by}")
finish()
