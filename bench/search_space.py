"""search_space.py: the search space of bench/search.sh, in one place.

Six hyperparameters of the blog post's one-hidden-layer MLP on `mnist-10k`
(8,000 training digits), scored by 3-fold stratified shuffled CV (seed 42):

  parameter       grid / coordinate (values)   random / bayes / asha / Optuna
  optimizer       adam, sgd, rmsprop           the same three (categorical)
  learning_rate   1e-3, 1e-2, 1e-1             log-uniform [1e-3, 1e-1]
  batch_size      32, 128                      q-uniform [32, 128], q = 16
  units           32, 128                      integer uniform [32, 128]
  dropout         0.0, 0.2                     uniform [0, 0.2]
  activation      relu, tanh                   the same two (categorical)

The continuous ranges are the grid's hull, so every method searches the same
region; the grid is 3 x 3 x 2 x 2 x 2 x 2 = 144 configurations.  epochs is
fixed (6 unless --epochs) for every method but asha, whose rungs are its
budget (max_epochs = the others' epochs).

Imported by search_hptune.py (spec files) and search_optuna.py (the same
space as Optuna suggest_* calls).
"""
import os

FOLDS = 3
CV_SEED = 42
# bench/search.sh --dataset sets it (bench/search_tpe.sh measures its table
# on the full mnist).
DATASET = os.environ.get("HPT_SEARCH_DATASET") or "mnist-10k"

# name -> (grid values, continuous form for hptune, Optuna suggestion)
PARAMS = [
    ("optimizer", ["adam", "sgd", "rmsprop"],
     {"values": ["adam", "sgd", "rmsprop"]},
     ("categorical", ["adam", "sgd", "rmsprop"])),
    ("learning_rate", [0.001, 0.01, 0.1],
     {"distribution": "log_uniform_values", "min": 0.001, "max": 0.1},
     ("float_log", 0.001, 0.1)),
    ("batch_size", [32, 128],
     {"distribution": "q_uniform", "min": 32, "max": 128, "q": 16},
     ("int_step", 32, 128, 16)),
    ("units", [32, 128],
     {"distribution": "int_uniform", "min": 32, "max": 128},
     ("int", 32, 128)),
    ("dropout", [0.0, 0.2],
     {"distribution": "uniform", "min": 0.0, "max": 0.2},
     ("float", 0.0, 0.2)),
    ("activation", ["relu", "tanh"],
     {"values": ["relu", "tanh"]},
     ("categorical", ["relu", "tanh"])),
]


def grid_size():
    n = 1
    for _, values, _, _ in PARAMS:
        n *= len(values)
    return n


def _yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _yaml_form(form):
    parts = []
    for k, v in form.items():
        if isinstance(v, list):
            parts.append("%s: [%s]" % (k, ", ".join(_yaml_value(x) for x in v)))
        else:
            parts.append("%s: %s" % (k, _yaml_value(v)))
    return "{" + ", ".join(parts) + "}"


def spec_text(method, seed, epochs, max_trials=None, asha=None, name=None):
    """The sweep spec (YAML) of `method` for this space.  grid and coordinate
    get the values lists; the others the continuous forms.  asha gets no
    epochs parameter: asha = (min_epochs, max_epochs, eta).  "bayes-seq" is
    method bayes with budget.max_parallel 1: one trial at a time (its folds
    still run in parallel), so every suggestion sees every earlier score, as
    in a sequential Optuna study."""
    sequential = method == "bayes-seq"
    if sequential:
        method = "bayes"
    lines = [
        "name: %s" % (name or "search-%s%s-s%d" % (method, "-seq" if sequential else "", seed)),
        "dataset: %s" % DATASET,
        "metric: {name: accuracy, goal: maximize}",
        "method: %s" % method,
        "seed: %d" % seed,
        "cv: {folds: %d, stratified: true, shuffle: true, seed: %d}" % (FOLDS, CV_SEED),
        "refit: false",
    ]
    if method == "coordinate":
        # Later rounds re-use every configuration already scored, so they
        # only cost what is new; max_trials caps the whole search.
        lines.append("coordinate: {rounds: 5}")
    if method == "asha":
        lines.append("asha: {min_epochs: %d, max_epochs: %d, eta: %d}" % asha)
    if max_trials is not None:
        lines.append("budget: {max_trials: %d%s}"
                     % (max_trials, ", max_parallel: 1" if sequential else ""))
    lines.append("parameters:")
    enumerate_ = method in ("grid", "coordinate")
    for name_, values, form, _ in PARAMS:
        f = {"values": values} if enumerate_ else form
        lines.append("  %s: %s" % (name_, _yaml_form(f)))
    if method != "asha":
        lines.append("  epochs: {value: %d}" % epochs)
    return "\n".join(lines) + "\n"


def optuna_suggest(trial):
    """The same space as Optuna suggest_* calls, in the same order."""
    p = {}
    for name, _, _, s in PARAMS:
        kind = s[0]
        if kind == "categorical":
            p[name] = trial.suggest_categorical(name, s[1])
        elif kind == "float_log":
            p[name] = trial.suggest_float(name, s[1], s[2], log=True)
        elif kind == "float":
            p[name] = trial.suggest_float(name, s[1], s[2])
        elif kind == "int_step":
            p[name] = trial.suggest_int(name, s[1], s[2], step=s[3])
        elif kind == "int":
            p[name] = trial.suggest_int(name, s[1], s[2])
        else:
            raise ValueError(kind)
    return p


def train_flags(p):
    """`hptune train` flags for a parameter dict (sweep or Optuna names)."""
    flag = {"optimizer": "--optimizer", "learning_rate": "--learning-rate",
            "batch_size": "--batch-size", "units": "--units", "dropout": "--dropout",
            "activation": "--activation", "epochs": "--epochs"}
    out = []
    for k, v in p.items():
        out += [flag[k], repr(v) if isinstance(v, float) else str(v)]
    return out
