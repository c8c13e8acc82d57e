/*
 * test_spec.c: the sweep spec parser (coordinator/coord_spec.c).
 *
 * Valid specs must produce the right structure; invalid ones must fail with
 * the exact message, position included, since that message is the whole
 * user interface of a mistake.  The shipped examples in deploy/examples are
 * parsed too (SPEC_EXAMPLES_DIR, set by tests/spec/meson.build).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_spec.h"
#include "hpt_test.h"
#include "proto_io.h"

static coord_spec_t *parse_ok_at(const char *text, const char *file, int line)
{
    coord_spec_t *spec = NULL;
    hpt_err err = {0};
    int rc = coord_spec_parse(text, strlen(text), "sweep.yaml", &spec, &err);
    if (rc != 0 || !spec) {
        fprintf(stderr, "FAIL %s:%d: parse failed (%d): %s\n", file, line, rc, err.msg);
        exit(1);
    }
    return spec;
}
#define PARSE_OK(text) parse_ok_at((text), __FILE__, __LINE__)

/* The spec must be refused with exactly the errors in want: every error the
 * parser reports, one per line, in file order. */
static void expect_err_at(const char *text, const char *want, const char *file, int line)
{
    coord_spec_t *spec = NULL;
    coord_diags_t d;
    int rc = coord_spec_parse_all(text, strlen(text), "sweep.yaml", &spec, &d);
    char *got = coord_diags_text(&d, COORD_DIAG_ERROR);
    if (getenv("HPT_SPEC_DUMP"))
        fprintf(stderr, "DUMP %s:%d\n%s\nEND\n", file, line, got ? got : "(null)");
    if (rc != -EINVAL || spec || !got || strcmp(got, want) != 0) {
        fprintf(stderr, "FAIL %s:%d: rc %d\n  want: %s\n  got:  %s\n", file, line, rc, want,
                got ? got : "(null)");
        exit(1);
    }
    free(got);
    coord_diags_free(&d);
}
#define EXPECT_ERR(text, want) expect_err_at((text), (want), __FILE__, __LINE__)

static int n_invalid;

/* Invalid specs, one per line of the table: text and the exact message. */
typedef struct {
    const char *text, *msg;
} bad_t;

#define MINI "dataset: mnist\nmethod: grid\nparameters:\n  epochs: {value: 2}\n"

static const bad_t bad[] = {
    // YAML and the top level
    {"dataset: mnist\n" "method: [grid\n",
     "sweep.yaml:3:1: yaml: flow sequence without a closing bracket"},
    {"dataset: mnist\n" "method: @grid\n",
     "sweep.yaml:2:9: yaml: plain scalar cannot start with '@'"},
    {"- dataset\n" "- mnist\n",
     "sweep.yaml:1:1: top level: expected a mapping, got a sequence"},
    {"",
     "sweep.yaml:1:1: top level: expected a mapping, got an empty document"},
    {MINI "---\n" "name: two\n",
     "sweep.yaml:5:1: yaml: only one document is allowed"},
    {MINI "colour: red\n",
     "sweep.yaml:5:1: colour: unknown key (allowed: name, dataset, metric, method, cv, refit, "
     "score_train, priority, seed, model_seed, budget, parameters, tpe, coordinate, hyperband, "
     "asha, alpha, test_objective, enqueue, select, run_cap, early_terminate, description, program, "
     "command, project, entity, job, image_uri, controller, apiVersion, kind, scheduler, "
     "metrics)"},
    {"dataset: cifar10\n" "method: grid\n" "parameters:\n" "  epochs: {value: 2}\n",
     "sweep.yaml:1:10: dataset: unknown dataset 'cifar10' (allowed: mnist, mnist-10k, "
     "fashion-mnist, idx:/path/to/dir)"},
    {"dataset: 'idx:'\n" "method: grid\n" "parameters:\n" "  epochs: {value: 2}\n",
     "sweep.yaml:1:10: dataset: idx: needs a directory, e.g. idx:/data/mnist"},
    {"dataset: mnist\n" "parameters:\n" "  epochs: {value: 2}\n",
     "sweep.yaml:1:1: method: required key is missing"},
    {"dataset: mnist\n" "method: grd\n" "parameters:\n" "  epochs: {value: 2}\n",
     "sweep.yaml:2:9: method: unknown method 'grd'; did you mean grid? (allowed: grid, random, "
     "bayes, coordinate, hyperband, asha)"},
    {"dataset: mnist\n" "method: [asha]\n" "parameters:\n" "  epochs: {value: 2}\n",
     "sweep.yaml:2:9: method: expected a method name, got a sequence (allowed: grid, random, "
     "bayes, coordinate, hyperband, asha)"},
    // metric, cv and the other scalar keys
    {"dataset: mnist\n" "metric: {name: auc}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:16: metric.name: unknown metric 'auc' (allowed: accuracy, log_loss, "
     "f1_macro, or acc, loss, f1 and the other names of hptune spec aliases; in any case; "
     "alone or after val_ for the held-out fold's score, after train_ for the training score)"},
    {"dataset: mnist\n" "metric: {name: log_loss, goal: maximize}\n" "method: grid\n"
     "parameters:\n" "  epochs: {value: 2}\n",
     "sweep.yaml:2:32: metric.goal: log_loss is minimized, not maximized (allowed: "
     "minimize)"},
    {"dataset: mnist\n" "metric: {goal: minimize}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:16: metric.goal: accuracy is maximized, not minimized (allowed: "
     "maximize)"},
    {"dataset: mnist\n" "metric: {name: accuracy, goal: up}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:32: metric.goal: unknown goal 'up' (allowed: maximize, minimize)"},
    {"dataset: mnist\n" "metric: accuracy\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:9: metric: expected a mapping, got 'accuracy'"},
    {"dataset: mnist\n" "cv: {folds: 1}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:13: cv.folds: 1 is out of range (2..100)"},
    {"dataset: mnist\n" "cv: {folds: 101}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:13: cv.folds: 101 is out of range (2..100)"},
    {"dataset: mnist\n" "cv: {folds: five}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:13: cv.folds: expected an integer, got 'five'"},
    // One wording for a bad value, quoted or not; a quoted number is a number.
    {"dataset: mnist\n" "cv: {folds: \"five\"}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: \"2\"}\n",
     "sweep.yaml:2:13: cv.folds: expected an integer, got 'five'"},
    {"dataset: mnist\n" "cv: {stratified: yes}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:18: cv.stratified: expected true or false, got 'yes'"},
    {"dataset: mnist\n" "cv: {repeats: 0}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:15: cv.repeats: 0 is out of range (1..100)"},
    {"dataset: mnist\n" "cv: {seed: -1}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:12: cv.seed: -1 is out of range (0..18446744073709551615)"},
    {"dataset: mnist\n" "cv: {k: 5}\n" "method: grid\n" "parameters:\n" "  epochs: {value: 2}\n",
     "sweep.yaml:2:6: cv.k: unknown key (allowed: folds, stratified, shuffle, seed, "
     "repeats, seeds)"},
    {"dataset: mnist\n" "cv: [5]\n" "method: grid\n" "parameters:\n" "  epochs: {value: 2}\n",
     "sweep.yaml:2:5: cv: expected a mapping, got a sequence"},
    {"dataset: mnist\n" "refit: 1\n" "method: grid\n" "parameters:\n" "  epochs: {value: 2}\n",
     "sweep.yaml:2:8: refit: expected true or false, got '1'"},
    {"dataset: mnist\n" "priority: 1001\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:11: priority: 1001 is out of range (-1000..1000)"},
    {"dataset: mnist\n" "name: ''\n" "method: grid\n" "parameters:\n" "  epochs: {value: 2}\n",
     "sweep.yaml:2:7: name: must not be empty"},
    {"dataset: mnist\n" "budget: {max_trials: 0}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:22: budget.max_trials: 0 is out of range (1..1000000)"},
    {"dataset: mnist\n" "method: grid\n" "method: random\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:3:1: method: duplicate key (first given at 2:1)"},
    // random search needs a budget
    // parameters: names and forms
    {"dataset: mnist\n" "method: grid\n" "parameters: {}\n",
     "sweep.yaml:3:13: parameters: must name at least one parameter"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  epochs: {value: 2}\n"
     "  colour: {value: red}\n",
     "sweep.yaml:5:3: parameters.colour: unknown parameter (allowed: layers, units, "
     "units_1..units_8, hidden_sizes, activation, init_mode, optimizer, learning_rate, "
     "momentum, nesterov, dropout, input_dropout, weight_constraint, weight_decay, batch_size, "
     "epochs, seed; aliases such as lr, hidden_size, num_layers, weight_init: hptune spec "
     "aliases)"},
    {"dataset: mnist\n" "parameters:\n" "  epochs: {value: 2}\n" "  epochs: {value: 3}\n"
     "method: grid\n",
     "sweep.yaml:4:3: parameters.epochs: epochs is given twice (first at 3:3)"},
    {"dataset: mnist\n" "parameters:\n" "  epochs: 2\n" "method: grid\n",
     "sweep.yaml:3:11: parameters.epochs: expected a mapping (value, values or "
     "distribution), got '2'"},
    {"dataset: mnist\n" "parameters:\n" "  epochs: {value: 2, values: [2, 3]}\n" "method: grid\n",
     "sweep.yaml:3:22: parameters.epochs: give exactly one of value, values or "
     "distribution (got value and values)"},
    {"dataset: mnist\n" "parameters:\n" "  epochs: {}\n" "method: grid\n",
     "sweep.yaml:3:11: parameters.epochs: needs value, values, distribution, or min and max"},
    // parameter values
    {"dataset: mnist\n" "parameters:\n" "  epochs: {values: []}\n" "method: grid\n",
     "sweep.yaml:3:20: parameters.epochs.values: must not be empty"},
    {"dataset: mnist\n" "parameters:\n" "  batch_size: {values: [32, 64, 32]}\n" "method: grid\n",
     "sweep.yaml:3:33: parameters.batch_size.values[2]: duplicate value 32 (also "
     "values[0])"},
    {"dataset: mnist\n" "parameters:\n" "  batch_size: {values: [32, 64, big]}\n" "method: grid\n",
     "sweep.yaml:3:33: parameters.batch_size.values[2]: expected an integer, got 'big'"},
    {"dataset: mnist\n" "parameters:\n" "  batch_size: {values: [32, 2.5]}\n" "method: grid\n",
     "sweep.yaml:3:29: parameters.batch_size.values[1]: expected an integer, got '2.5'"},
    {"dataset: mnist\n" "parameters:\n" "  batch_size: {value: 0}\n" "method: grid\n",
     "sweep.yaml:3:23: parameters.batch_size.value: 0 is out of range (1..65536)"},
    {"dataset: mnist\n" "parameters:\n" "  dropout: {value: 1.0}\n" "method: grid\n",
     "sweep.yaml:3:20: parameters.dropout.value: 1.0 is out of range [0, 1)"},
    {"dataset: mnist\n" "parameters:\n" "  learning_rate: {values: [0.1, 0]}\n" "method: grid\n",
     "sweep.yaml:3:33: parameters.learning_rate.values[1]: 0 is out of range (0, 10]"},
    {"dataset: mnist\n" "parameters:\n" "  layers: {value: 9}\n" "method: grid\n",
     "sweep.yaml:3:19: parameters.layers.value: 9 is out of range (1..8)"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  optimizer: {values: [adam, adamx]}\n",
     "sweep.yaml:4:30: parameters.optimizer.values[1]: unknown optimizer 'adamx'; did you mean "
     "adam? (allowed: sgd, nesterov, rmsprop, adagrad, adadelta, adam, adamax, nadam, adamw; "
     "also momentum, sgdm, sgd_momentum, nag, sgd_nesterov, rms, adam_w)"},
    {"dataset: mnist\n" "parameters:\n" "  activation: {values: [relu, swish]}\n" "method: grid\n",
     "sweep.yaml:3:31: parameters.activation.values[1]: unknown activation 'swish' (allowed: "
     "relu, tanh, sigmoid, hard_sigmoid, elu, selu, softplus, softsign, linear, softmax; also "
     "identity, none, logistic, hardsigmoid)"},
    {"dataset: mnist\n" "parameters:\n" "  init_mode: {values: [zero, zeros]}\n" "method: grid\n",
     "sweep.yaml:3:30: parameters.init_mode.values[1]: duplicate value zeros (also "
     "values[0])"},
    {"dataset: mnist\n" "parameters:\n" "  nesterov: {value: maybe}\n" "method: grid\n",
     "sweep.yaml:3:21: parameters.nesterov.value: expected true or false, got 'maybe'"},
    // categorical probabilities
    {"dataset: mnist\n" "parameters:\n" "  optimizer:\n" "    distribution: categorical\n"
     "    values: [adam, sgd]\n" "    probabilities: [0.5, 0.4]\n" "method: grid\n",
     "sweep.yaml:6:20: parameters.optimizer.probabilities: sum to 0.9, not 1 (within 1e-6)"},
    {"dataset: mnist\n" "parameters:\n" "  optimizer:\n" "    distribution: categorical\n"
     "    values: [adam, sgd, nadam]\n" "    probabilities: [0.5, 0.5]\n" "method: grid\n",
     "sweep.yaml:6:20: parameters.optimizer.probabilities: 2 probabilities for 3 values"},
    {"dataset: mnist\n" "parameters:\n" "  optimizer:\n" "    distribution: categorical\n"
     "    values: [adam, sgd]\n" "    probabilities: [1.5, -0.5]\n" "method: random\n"
     "budget: {max_trials: 3}\n",
     "sweep.yaml:6:21: parameters.optimizer.probabilities[0]: 1.5 is out of range [0, 1]\n"
     "sweep.yaml:6:26: parameters.optimizer.probabilities[1]: -0.5 is out of range [0, 1]"},
    // numeric distributions
    {"dataset: mnist\n" "parameters:\n"
     "  dropout: {distribution: uniform, min: 0.5, max: 0.2}\n" "method: grid\n",
     "sweep.yaml:3:51: parameters.dropout.max: must be greater than min (0.5), got 0.2"},
    {"dataset: mnist\n" "parameters:\n"
     "  units: {distribution: int_uniform, min: 64, max: 64}\n" "method: grid\n",
     "sweep.yaml:3:52: parameters.units.max: must be greater than min (64), got 64"},
    {"dataset: mnist\n" "parameters:\n"
     "  momentum: {distribution: log_uniform_values, min: 0, max: 0.9}\n" "method: grid\n",
     "sweep.yaml:3:53: parameters.momentum.min: must be greater than 0 for "
     "log_uniform_values, got 0"},
    {"dataset: mnist\nmethod: random\nbudget: {max_trials: 2}\nparameters:\n  dropout: "
     "{distribution: uniform, min: 0.5, max: 1.2}\n",
     "sweep.yaml:5:51: parameters.dropout.max: 1.2 is out of range [0, 1)"},
    {"dataset: mnist\nmethod: random\nbudget: {max_trials: 2}\nparameters:\n  dropout: "
     "{distribution: poisson, min: 0, max: 1}\n",
     "sweep.yaml:5:27: parameters.dropout.distribution: unknown distribution 'poisson' "
     "(allowed: categorical, uniform, log_uniform_values, int_uniform, q_uniform, "
     "q_log_uniform_values, normal, q_normal, log_normal, q_log_normal, "
     "inv_log_uniform_values, log_uniform, q_log_uniform, inv_log_uniform, "
     "categorical_w_probabilities, constant)"},
    {"dataset: mnist\n" "parameters:\n" "  dropout: {distribution: uniform, min: 0}\n"
     "method: grid\n",
     "sweep.yaml:3:12: parameters.dropout: distribution uniform needs max"},
    {"dataset: mnist\n" "parameters:\n"
     "  dropout: {distribution: uniform, min: 0, max: 0.5, q: 0.1}\n" "method: grid\n",
     "sweep.yaml:3:54: parameters.dropout.q: not allowed with distribution uniform "
     "(allowed: distribution, min, max, start, when)"},
    {"dataset: mnist\nmethod: random\nbudget: {max_trials: 2}\nparameters:\n  learning_rate: "
     "{distribution: int_uniform, min: 1, max: 3}\n",
     "sweep.yaml:5:33: parameters.learning_rate.distribution: int_uniform needs an integer "
     "parameter; learning_rate takes floats (use uniform or q_uniform)"},
    {"dataset: mnist\n" "parameters:\n"
     "  dropout: {distribution: int_uniform, min: 0, max: 1}\n" "method: grid\n",
     "sweep.yaml:3:27: parameters.dropout.distribution: int_uniform needs an integer "
     "parameter; dropout takes floats (use uniform or q_uniform)"},
    {"dataset: mnist\n" "parameters:\n"
     "  optimizer: {distribution: uniform, min: 0, max: 1}\n" "method: grid\n",
     "sweep.yaml:3:29: parameters.optimizer.distribution: uniform needs a numeric parameter; "
     "optimizer takes names or booleans (use values or categorical)"},
    {"dataset: mnist\n" "parameters:\n"
     "  dropout: {distribution: q_uniform, min: 0.1, max: 0.2, q: 0.3}\n" "method: grid\n",
     "sweep.yaml:3:61: parameters.dropout.q: no multiple of 0.3 lies in [0.1, 0.2]"},
    {"dataset: mnist\n" "parameters:\n" "  dropout: {values: [0.1], probabilities: [1]}\n"
     "method: grid\n",
     "sweep.yaml:3:28: parameters.dropout.probabilities: not allowed with values "
     "(allowed: values, start, when)"},
    // grid search
    {"dataset: mnist\n" "method: grid\n" "parameters:\n"
     "  learning_rate: {distribution: uniform, min: 0.001, max: 0.1}\n",
     "sweep.yaml:4:3: parameters.learning_rate: distribution uniform cannot be enumerated "
     "by grid search; use values"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n"
     "  units: {distribution: int_uniform, min: 8, max: 64}\n",
     "sweep.yaml:4:3: parameters.units: distribution int_uniform cannot be enumerated by "
     "grid search; use values"},
    // tpe, coordinate, cv.seeds (issue 5)
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n" "tpe: {n_startup: -1}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:18: tpe.n_startup: -1 is out of range (0..1000000)"},
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n" "tpe: {n_candidates: 0}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:21: tpe.n_candidates: 0 is out of range (1..10000)"},
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n" "tpe: {gamma: 0}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:14: tpe.gamma: 0 is out of range (0, 1]"},
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n" "tpe: {gamma: 1.5}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:14: tpe.gamma: 1.5 is out of range (0, 1]"},
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n" "tpe: {prior_weight: 0}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:21: tpe.prior_weight: 0 is out of range (0, 1e6]"},
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n" "tpe: {constant_liar: 1}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:22: tpe.constant_liar: expected true or false, got '1'"},
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n" "tpe: {n_start: 3}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:7: tpe.n_start: unknown key; did you mean n_startup? (allowed: n_startup, "
     "n_candidates, gamma, prior_weight, constant_liar, multivariate, startup, equal_heights)"},
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n" "tpe: {startup: latin}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:16: tpe.startup: unknown startup design 'latin' (allowed: random, "
     "stratified)"},
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n"
     "tpe: {multivariate: yes}\n" "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:21: tpe.multivariate: expected true or false, got 'yes'"},
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n" "tpe: 10\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:6: tpe: expected a mapping, got '10'"},
    {"dataset: mnist\n" "method: grid\n" "tpe: {n_startup: 3}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:3:1: tpe: only used by method bayes (method is grid)"},
    {"dataset: mnist\n" "method: coordinate\n" "coordinate: {rounds: 0}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:3:22: coordinate.rounds: 0 is out of range (1..1000)"},
    {"dataset: mnist\n" "method: coordinate\n" "coordinate: {cycles: 2}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:3:14: coordinate.cycles: unknown key (allowed: rounds)"},
    {"dataset: mnist\n" "method: random\n" "budget: {max_trials: 3}\n" "coordinate: {rounds: 2}\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:4:1: coordinate: only used by method coordinate (method is random)"},
    // asha and hyperband: the blocks, the epochs budget, max_trials
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 9}\n" "asha: {eta: 1}\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:13: asha.eta: 1 is out of range (2..100)"},
    {"dataset: mnist\n" "method: hyperband\n" "hyperband: {eta: 101}\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:18: hyperband.eta: 101 is out of range (2..100)"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 9}\n" "asha: {eta: three}\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:13: asha.eta: expected an integer, got 'three'"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 9}\n" "asha: {min_epochs: 0}\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:20: asha.min_epochs: 0 is out of range (1..10000)"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 9}\n"
     "asha: {max_epochs: 4, min_epochs: 5}\n" "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:20: asha.max_epochs: 4 is out of range (5..10000)"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 9}\n"
     "asha: {max_epochs: 10001}\n" "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:20: asha.max_epochs: 10001 is out of range (1..10000)"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 9}\n"
     "asha: {min_epochs: 5, max_epochs: 12}\n" "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:35: asha.max_epochs: must be at least min_epochs * eta = 5 * 3 = 15 for 2 "
     "rungs (got 12)"},
    {"dataset: mnist\n" "method: hyperband\n" "hyperband: {min_epochs: 10}\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:12: hyperband.max_epochs: must be at least min_epochs * eta = 10 * 3 = 30 "
     "for 2 rungs (got the default 27)"},
    {"dataset: mnist\n" "method: hyperband\n" "hyperband: {iterations: 0}\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:25: hyperband.iterations: 0 is out of range (1..100)"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 9}\n" "asha: {iterations: 2}\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:8: asha.iterations: unknown key (allowed: min_epochs, max_epochs, eta)"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 9}\n" "asha: 3\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:7: asha: expected a mapping, got '3'"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 9}\n" "parameters:\n"
     "  units: {values: [8, 16]}\n" "  epochs: {values: [1, 3, 9]}\n",
     "sweep.yaml:6:3: parameters.epochs: epochs is the budget of method asha: set "
     "asha.min_epochs and asha.max_epochs"},
    {"dataset: mnist\n" "method: hyperband\n" "parameters:\n" "  epochs: {value: 5}\n",
     "sweep.yaml:4:3: parameters.epochs: epochs is the budget of method hyperband: set "
     "hyperband.min_epochs and hyperband.max_epochs"},
    {"dataset: mnist\n" "method: bayes\n" "budget: {max_trials: 5}\n"
     "asha: {max_epochs: 9}\n" "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:1: asha: only used by method asha (method is bayes)"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 5}\n"
     "hyperband: {max_epochs: 9}\n" "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:1: hyperband: only used by method hyperband (method is asha)"},
    {"dataset: mnist\n" "method: grid\n" "asha: {min_epochs: 30}\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:1: asha: only used by method asha (method is grid)"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 5}\n"
     "enqueue: [{units: 8, epochs: 3}]\n" "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:22: enqueue[0].epochs: epochs is the budget of method asha: enqueued "
     "trials start at the first rung (1 epoch)"},
    {"dataset: mnist\n" "method: asha\n" "budget: {max_trials: 5}\n"
     "enqueue: [{units: 8, layers: 2}]\n" "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:22: enqueue[0].layers: not a parameter of this spec (parameters: units)"},
    {"dataset: mnist\n" "method: hyperband\n" "hyperband: {max_epochs: 3}\n"
     "enqueue: [{units: 8}, {units: 16}, {units: 8}, {units: 16}]\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:10: enqueue: 4 trials, more than hyperband's first bracket (3 "
     "configurations)"},
    // alpha and test_objective (any method)
    {MINI "alpha: 0\n", "sweep.yaml:5:8: alpha: 0 is out of range (0, 0.5]"},
    {MINI "alpha: 0.6\n", "sweep.yaml:5:8: alpha: 0.6 is out of range (0, 0.5]"},
    {MINI "alpha: high\n", "sweep.yaml:5:8: alpha: expected a number, got 'high'"},
    {MINI "test_objective: cone\n",
     "sweep.yaml:5:17: test_objective: unknown test objective 'cone' (allowed: hash, bowl, "
     "noisy)"},
    // select: racing the leaders (any method)
    {MINI "select: {race: maybe}\n",
     "sweep.yaml:5:16: select.race: expected true or false, got 'maybe'"},
    {MINI "select: {race: true, top: 1}\n",
     "sweep.yaml:5:27: select.top: 1 is out of range (2..32)"},
    {MINI "select: {race: true, max_repeats: 0}\n",
     "sweep.yaml:5:35: select.max_repeats: 0 is out of range (1..100)"},
    {MINI "select: {budget_tasks: -1}\n",
     "sweep.yaml:5:24: select.budget_tasks: -1 is out of range (0..100000000)"},
    {MINI "select: {tie_break: fastest}\n",
     "sweep.yaml:5:21: select.tie_break: unknown tie-break 'fastest' (allowed: cheapest, "
     "best_mean)"},
    {MINI "select: {race: true, rounds: 3}\n",
     "sweep.yaml:5:22: select.rounds: unknown key (allowed: race, top, max_repeats, budget_tasks, "
     "tie_break)"},
    {MINI "select: true\n", "sweep.yaml:5:9: select: expected a mapping, got 'true'"},
    {MINI "test_objective: [hash]\n",
     "sweep.yaml:5:17: test_objective: expected a string, got a sequence"},
    // coordinate search enumerates, like grid
    {"dataset: mnist\n" "method: coordinate\n" "parameters:\n"
     "  dropout: {distribution: uniform, min: 0, max: 0.5}\n",
     "sweep.yaml:4:3: parameters.dropout: distribution uniform cannot be enumerated by "
     "coordinate search; use values"},
    // cv.seeds
    {"dataset: mnist\n" "cv: {seeds: 0}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:13: cv.seeds: 0 is out of range (1..100)"},
    {"dataset: mnist\n" "cv: {seeds: 101}\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:2:13: cv.seeds: 101 is out of range (1..100)"},
    // start
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  units: {values: [8, 16], start: 32}\n",
     "sweep.yaml:4:35: parameters.units.start: 32 is not one of parameters.units.values"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  units: {value: 8, start: 8}\n",
     "sweep.yaml:4:21: parameters.units.start: not allowed with value (allowed: value, "
     "distribution, when)"},
    {"dataset: mnist\n" "method: random\n" "budget: {max_trials: 3}\n" "parameters:\n"
     "  dropout: {distribution: uniform, min: 0, max: 0.5, start: 0.7}\n",
     "sweep.yaml:5:61: parameters.dropout.start: 0.7 is outside the distribution's range "
     "[0, 0.5]"},
    {"dataset: mnist\n" "method: random\n" "budget: {max_trials: 3}\n" "parameters:\n"
     "  units: {distribution: q_uniform, min: 8, max: 64, q: 8, start: 12}\n",
     "sweep.yaml:5:66: parameters.units.start: 12 is not a multiple of q (8)"},
    {"dataset: mnist\n" "method: random\n" "budget: {max_trials: 3}\n" "parameters:\n"
     "  units: {distribution: int_uniform, min: 8, max: 64, start: 9.5}\n",
     "sweep.yaml:5:62: parameters.units.start: expected an integer, got '9.5'"},
    // when
    {"dataset: mnist\n" "method: grid\n" "parameters:\n"
     "  units_2: {values: [8], when: {layers: [2]}}\n" "  layers: {values: [1, 2]}\n",
     "sweep.yaml:4:33: parameters.units_2.when.layers: layers must be listed before "
     "units_2 in parameters (a condition reads an earlier parameter)"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n"
     "  units_2: {values: [8], when: {layers: [2]}}\n",
     "sweep.yaml:4:33: parameters.units_2.when.layers: layers is not in parameters"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n"
     "  units_2: {values: [8], when: {units_2: [8]}}\n",
     "sweep.yaml:4:33: parameters.units_2.when.units_2: a parameter cannot depend on "
     "itself"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: {layers: [3]}}\n",
     "sweep.yaml:5:42: parameters.units_2.when.layers[0]: 3 is not one of "
     "parameters.layers.values"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: {layers: {min: 3}}}\n",
     "sweep.yaml:5:41: parameters.units_2.when.layers: never holds: layers takes no value "
     "in [3, inf]"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: {layers: {}}}\n",
     "sweep.yaml:5:41: parameters.units_2.when.layers: a range needs min, max or both"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: {layers: {min: 2, max: 1}}}\n",
     "sweep.yaml:5:55: parameters.units_2.when.layers.max: must not be less than min"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: {layers: {above: 1}}}\n",
     "sweep.yaml:5:42: parameters.units_2.when.layers.above: unknown key (allowed: min, "
     "max)"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  optimizer: {values: [sgd, adam]}\n"
     "  momentum: {values: [0.9], when: {optimizer: {min: 1}}}\n",
     "sweep.yaml:5:47: parameters.momentum.when.optimizer: a range needs a numeric "
     "parameter; optimizer takes names (use a list of values)"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  optimizer: {values: [sgd, adam]}\n"
     "  momentum: {values: [0.9], when: {optimizer: [sgd, adamx]}}\n",
     "sweep.yaml:5:53: parameters.momentum.when.optimizer[1]: unknown optimizer 'adamx'; did "
     "you mean adam? (allowed: sgd, nesterov, rmsprop, adagrad, adadelta, adam, adamax, nadam, "
     "adamw; also momentum, sgdm, sgd_momentum, nag, sgd_nesterov, rms, adam_w)"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: {layers: []}}\n",
     "sweep.yaml:5:41: parameters.units_2.when.layers: must not be empty"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: {layers: 2}}\n",
     "sweep.yaml:5:41: parameters.units_2.when.layers: expected a list of values or {min, "
     "max}, got '2'"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: [layers]}\n",
     "sweep.yaml:5:32: parameters.units_2.when: expected a mapping of conditions "
     "(parameter: [values] or parameter: {min, max}), got a sequence"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: {}}\n",
     "sweep.yaml:5:32: parameters.units_2.when: must name at least one parameter"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: {layers: [2], layers: [1]}}\n",
     "sweep.yaml:5:46: parameters.units_2.when.layers: duplicate key (first given at 5:33)"},
    // enqueue
    {"dataset: mnist\n" "method: grid\n" "enqueue: {units: 8}\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:10: enqueue: expected a sequence of trials (mappings of parameter: "
     "value), got a mapping"},
    {"dataset: mnist\n" "method: grid\n" "enqueue: []\n" "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:10: enqueue: must list at least one trial"},
    {"dataset: mnist\n" "method: grid\n" "enqueue: [8]\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:11: enqueue[0]: expected a mapping of parameter: value, got '8'"},
    {"dataset: mnist\n" "method: grid\n" "enqueue: [{units: 32}]\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:19: enqueue[0].units: 32 is not one of parameters.units.values"},
    {"dataset: mnist\n" "method: grid\n" "enqueue: [{units: 8, epochs: 3}]\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:22: enqueue[0].epochs: not a parameter of this spec (parameters: units)"},
    {"dataset: mnist\n" "method: grid\n" "enqueue: [{units: 8, units: 16}]\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:22: enqueue[0].units: duplicate key (first given at 3:12)"},
    {"dataset: mnist\n" "method: grid\n" "enqueue: [{units: big}]\n"
     "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:3:19: enqueue[0].units: expected an integer, got 'big'"},
    {"dataset: mnist\n" "method: random\n" "budget: {max_trials: 2}\n" "enqueue:\n"
     "  - {units: 8}\n" "parameters:\n" "  units: {values: [8, 16]}\n"
     "  dropout: {distribution: uniform, min: 0, max: 0.5}\n",
     "sweep.yaml:5:5: enqueue[0]: missing parameter dropout (a distribution without "
     "start: has no default)"},
    {"dataset: mnist\n" "method: random\n" "budget: {max_trials: 2}\n" "enqueue:\n"
     "  - {dropout: 0.6}\n" "parameters:\n"
     "  dropout: {distribution: uniform, min: 0, max: 0.5}\n",
     "sweep.yaml:5:15: enqueue[0].dropout: 0.6 is outside the distribution's range [0, "
     "0.5]"},
    {"dataset: mnist\n" "method: random\n" "budget: {max_trials: 2}\n" "enqueue:\n"
     "  - {units: 20}\n" "parameters:\n"
     "  units: {distribution: q_uniform, min: 8, max: 64, q: 8}\n",
     "sweep.yaml:5:13: enqueue[0].units: 20 is not a multiple of q (8)"},
    {"dataset: mnist\n" "method: grid\n" "enqueue:\n" "  - {layers: 1, units_2: 8}\n"
     "parameters:\n" "  layers: {values: [1, 2]}\n"
     "  units_2: {values: [8], when: {layers: [2]}}\n",
     "sweep.yaml:4:17: enqueue[0].units_2: does not apply to this trial (its when: does "
     "not hold)"},
    {"dataset: mnist\n" "method: random\n" "budget: {max_trials: 1}\n"
     "enqueue: [{units: 8}, {units: 16}]\n" "parameters: {units: {values: [8, 16]}}\n",
     "sweep.yaml:4:10: enqueue: 2 trials, more than budget.max_trials (1)"},
    {"dataset: mnist\n" "method: grid\n" "enqueue: [{epochs: 3}]\n"
     "parameters: {epochs: {value: 2}}\n",
     "sweep.yaml:3:20: enqueue[0].epochs: 3 is not one of parameters.epochs.value"},
    // control characters that YAML escapes would put into names shown in logs
    // and terminals (issue 11, finding 8)
    {MINI "name: \"a\\e[2J\"\n",
     "sweep.yaml:5:7: name: control character U+001B at byte 1 (control characters are not "
     "allowed)"},
    {"dataset: \"mnist\\nlevel=error\"\n" "method: grid\n" "parameters:\n"
     "  epochs: {value: 2}\n",
     "sweep.yaml:1:10: dataset: control character U+000A at byte 5 (control characters are "
     "not allowed)"},
    {MINI "name: \"x\\u009b\"\n",
     "sweep.yaml:5:7: name: control character U+009B at byte 1 (control characters are not "
     "allowed)"},
    // aliases and complex keys
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  epochs: {value: *a}\n",
     "sweep.yaml:4:20: parameters.epochs.value: expected an integer, got an alias "
     "(aliases are not supported)"},
    {"dataset: mnist\n" "method: grid\n" "parameters:\n" "  ? [epochs]\n" "  : {value: 2}\n",
     "sweep.yaml:4:5: parameters: keys must be names, got a sequence"},
};

HPT_TEST(invalid_specs)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fprintf(stderr, "  [%zu] %s\n", i, bad[i].msg);
        if (getenv("HPT_SPEC_DUMP"))
            fprintf(stderr, "ENTRY %zu\n", i);
        if (getenv("HPT_SPEC_DUMP_ALL")) {
            coord_spec_t *spec = NULL;
            coord_diags_t d;
            coord_spec_parse_all(bad[i].text, strlen(bad[i].text), "sweep.yaml", &spec, &d);
            char *got = coord_diags_text(&d, COORD_DIAG_ERROR);
            fprintf(stderr, "DUMP %zu\n%s\nEND\n", i, got);
            free(got);
            coord_diags_free(&d);
            coord_spec_destroy(&spec);
            continue;
        }
        expect_err_at(bad[i].text, bad[i].msg, __FILE__, __LINE__);
        n_invalid++;
    }
    fprintf(stderr, "  %d invalid specs rejected with the exact message\n", n_invalid);
    ASSERT(n_invalid >= 20);
}

// ---------------------------------------------------------------------------
// Valid specs

static const coord_param_t *param(const coord_spec_t *spec, const char *name)
{
    for (int i = 0; i < spec->n_params; i++)
        if (strcmp(spec->params[i].name, name) == 0)
            return &spec->params[i];
    return NULL;
}

static const char BLOG_GRID[] =
    "# the blog post's grid\n"
    "name: blog-grid\n"
    "dataset: mnist\n"
    "metric: {name: accuracy, goal: maximize}\n"
    "method: grid\n"
    "cv: {folds: 5, stratified: true, shuffle: true, seed: 42, repeats: 1}\n"
    "refit: true\n"
    "parameters:\n"
    "  batch_size: {values: [32, 64, 512]}\n"
    "  epochs:     {values: [2, 4, 6]}\n"
    "  units:      {values: [8, 16, 32]}\n"
    "  optimizer:  {value: adam}\n";

HPT_TEST(blog_grid)
{
    coord_spec_t *spec = PARSE_OK(BLOG_GRID);
    ASSERT(strcmp(spec->path, "sweep.yaml") == 0);
    ASSERT(strcmp(spec->name, "blog-grid") == 0);
    ASSERT(strcmp(spec->dataset, "mnist") == 0);
    ASSERT_EQ(spec->metric, HPT_METRIC_ACCURACY);
    ASSERT(spec->maximize);
    ASSERT_EQ(spec->method, COORD_METHOD_GRID);
    ASSERT_EQ(spec->cv.folds, 5);
    ASSERT(spec->cv.stratified && spec->cv.shuffle);
    ASSERT_EQ(spec->cv.seed, 42);
    ASSERT_EQ(spec->cv.repeats, 1);
    ASSERT(spec->refit && !spec->score_train);
    ASSERT_EQ(spec->priority, 0);
    ASSERT_EQ(spec->seed, 0);
    ASSERT_EQ(spec->max_trials, 0);
    ASSERT_EQ(spec->max_parallel, 0);
    ASSERT_EQ(spec->n_params, 4);
    static const char *const names[] = {"batch_size", "epochs", "units", "optimizer"};
    static const double nums[3][3] = {{32, 64, 512}, {2, 4, 6}, {8, 16, 32}};
    for (int i = 0; i < 3; i++) {
        const coord_param_t *p = &spec->params[i];
        ASSERT(strcmp(p->name, names[i]) == 0);
        ASSERT_EQ(p->kind, COORD_PKIND_INT);
        ASSERT_EQ(p->dist, COORD_PDIST_VALUES);
        ASSERT_EQ(p->n_values, 3);
        for (int j = 0; j < 3; j++)
            ASSERT(p->values[j].num == nums[i][j]);
        ASSERT_EQ(p->line, 9 + i);
        ASSERT_EQ(p->col, 3);
    }
    const coord_param_t *opt = &spec->params[3];
    ASSERT(strcmp(opt->name, "optimizer") == 0);
    ASSERT_EQ(opt->kind, COORD_PKIND_ENUM);
    ASSERT_EQ(opt->dist, COORD_PDIST_VALUE);
    ASSERT_EQ(opt->n_values, 1);
    ASSERT(strcmp(opt->values[0].str, "adam") == 0);
    // base: Keras defaults with the constants applied and the spec's metric.
    ASSERT_EQ(spec->base.optimizer, HPT_OPT_ADAM);
    ASSERT_EQ(spec->base.metric, HPT_METRIC_ACCURACY);
    ASSERT(spec->base.learning_rate < 0);  // the optimizer's Keras default
    ASSERT_EQ(spec->base.layers, 1);
    coord_spec_destroy(&spec);
    ASSERT(spec == NULL);
    coord_spec_destroy(&spec);  // NULL is fine
    coord_spec_destroy(NULL);
}

HPT_TEST(json_form)
{
    const char *json =
        "{\"name\": \"j\", \"dataset\": \"idx:/data/mnist\", \"method\": \"random\",\n"
        " \"metric\": {\"name\": \"log_loss\"}, \"seed\": 18446744073709551615,\n"
        " \"priority\": -1000, \"score_train\": true, \"refit\": false,\n"
        " \"cv\": {\"folds\": 3, \"stratified\": false, \"shuffle\": false, \"seed\": 7,"
        " \"repeats\": 2},\n"
        " \"budget\": {\"max_trials\": 12, \"max_parallel\": 4},\n"
        " \"parameters\": {\"batch_size\": {\"values\": [32, 64]},\n"
        "                \"nesterov\": {\"values\": [true, false]},\n"
        "                \"learning_rate\": {\"distribution\": \"uniform\", \"min\": 0.001,"
        " \"max\": 0.01}}}\n";
    coord_spec_t *spec = PARSE_OK(json);
    ASSERT(strcmp(spec->name, "j") == 0);
    ASSERT(strcmp(spec->dataset, "idx:/data/mnist") == 0);
    ASSERT_EQ(spec->method, COORD_METHOD_RANDOM);
    ASSERT_EQ(spec->metric, HPT_METRIC_LOG_LOSS);
    ASSERT(!spec->maximize);  // log_loss defaults to minimize
    ASSERT(spec->seed == UINT64_MAX);
    ASSERT_EQ(spec->priority, -1000);
    ASSERT(spec->score_train && !spec->refit);
    ASSERT_EQ(spec->cv.folds, 3);
    ASSERT(!spec->cv.stratified && !spec->cv.shuffle);
    ASSERT_EQ(spec->cv.seed, 7);
    ASSERT_EQ(spec->cv.repeats, 2);
    ASSERT_EQ(spec->max_trials, 12);
    ASSERT_EQ(spec->max_parallel, 4);
    ASSERT_EQ(spec->n_params, 3);
    const coord_param_t *n = param(spec, "nesterov");
    ASSERT(n && n->kind == COORD_PKIND_BOOL && n->n_values == 2);
    ASSERT(n->values[0].num == 1 && n->values[1].num == 0);
    const coord_param_t *lr = param(spec, "learning_rate");
    ASSERT(lr && lr->kind == COORD_PKIND_FLOAT && lr->dist == COORD_PDIST_UNIFORM);
    ASSERT(lr->min == 0.001 && lr->max == 0.01);
    ASSERT_EQ(spec->base.metric, HPT_METRIC_LOG_LOSS);
    coord_spec_destroy(&spec);
}

HPT_TEST(defaults)
{
    coord_spec_t *spec = PARSE_OK("dataset: fashion-mnist\nmethod: grid\n"
                                  "parameters: {epochs: {value: 3}}\n");
    ASSERT(strcmp(spec->name, "sweep") == 0);
    ASSERT_EQ(spec->metric, HPT_METRIC_ACCURACY);
    ASSERT(spec->maximize);
    ASSERT_EQ(spec->cv.folds, 5);
    ASSERT(spec->cv.stratified && spec->cv.shuffle);
    ASSERT_EQ(spec->cv.seed, 42);
    ASSERT_EQ(spec->cv.repeats, 1);
    ASSERT(spec->refit && !spec->score_train);
    ASSERT_EQ(spec->priority, 0);
    ASSERT_EQ(spec->seed, 0);
    ASSERT_EQ(spec->max_trials, 0);
    ASSERT_EQ(spec->max_parallel, 0);
    ASSERT_EQ(spec->base.epochs, 3);
    ASSERT_EQ(spec->base.batch_size, HPT_HPARAMS_DEFAULT.batch_size);
    // The issue-5 keys: one seed per split, Optuna's TPE defaults, one
    // coordinate round, nothing enqueued, no conditions.
    ASSERT_EQ(spec->seeds, 1);
    ASSERT_EQ(spec->tpe.n_startup, 10);
    ASSERT_EQ(spec->tpe.n_candidates, 96);
    ASSERT_NEAR(spec->tpe.gamma, 0.1, 0);
    ASSERT_NEAR(spec->tpe.prior_weight, 1.0, 0);
    ASSERT(spec->tpe.constant_liar);
    ASSERT(spec->tpe.multivariate && spec->tpe.stratified && !spec->tpe.equal_heights);
    ASSERT_EQ(spec->rounds, 1);
    ASSERT_EQ(spec->n_enqueue, 0);
    ASSERT(spec->enqueue == NULL);
    ASSERT_EQ(spec->params[0].n_when, 0);
    ASSERT(!spec->params[0].has_start);
    // Successive halving is off; alpha and test_objective at their defaults.
    ASSERT_EQ(spec->resource_param, -1);
    ASSERT_EQ(spec->n_params, 1);
    ASSERT_EQ(spec->sh.n_rungs, 0);
    ASSERT_NEAR(spec->alpha, 0.05, 0);
    ASSERT(strcmp(spec->test_objective, "") == 0);
    coord_spec_destroy(&spec);

    spec = PARSE_OK("dataset: mnist\nmethod: grid\nmetric: {name: f1_macro}\n"
                    "parameters: {epochs: {value: 3}}\n");
    ASSERT_EQ(spec->metric, HPT_METRIC_F1_MACRO);
    ASSERT(spec->maximize);
    coord_spec_destroy(&spec);
    spec = PARSE_OK("dataset: mnist\nmethod: grid\nmetric: {name: log_loss, goal: minimize}\n"
                    "parameters: {epochs: {value: 3}}\n");
    ASSERT(!spec->maximize);
    coord_spec_destroy(&spec);
}

HPT_TEST(issue5_keys)
{
    coord_spec_t *spec = PARSE_OK(
        "dataset: mnist\n"
        "method: coordinate\n"
        "cv: {folds: 3, repeats: 2, seeds: 4}\n"
        "coordinate: {rounds: 3}\n"
        "enqueue:\n"
        "  - {layers: 2, units_2: 64, optimizer: sgd, momentum: 0.9}\n"
        "  - {layers: 1}\n"
        "parameters:\n"
        "  layers: {values: [1, 2, 3], start: 2}\n"
        "  units_2: {values: [16, 64], when: {layers: {min: 2}}}\n"
        "  optimizer: {values: [adam, sgd]}\n"
        "  momentum: {values: [0.5, 0.9], start: 0.9,\n"
        "             when: {optimizer: [sgd], layers: {max: 2}}}\n"
        "  epochs: {value: 2, when: {layers: [3]}}\n");
    ASSERT_EQ(spec->method, COORD_METHOD_COORDINATE);
    ASSERT(strcmp(coord_method_name(spec->method), "coordinate") == 0);
    ASSERT_EQ(spec->seeds, 4);
    ASSERT_EQ(spec->cv.repeats, 2);
    ASSERT_EQ(spec->rounds, 3);
    const coord_param_t *layers = param(spec, "layers"), *u2 = param(spec, "units_2");
    const coord_param_t *mom = param(spec, "momentum"), *ep = param(spec, "epochs");
    ASSERT(layers->has_start && layers->start.num == 2 && layers->start_index == 1);
    ASSERT_EQ(u2->n_when, 1);
    ASSERT_EQ(u2->when[0].param, 0);
    ASSERT(u2->when[0].is_range && u2->when[0].min == 2 && isinf(u2->when[0].max));
    ASSERT_EQ(u2->when[0].line, 10);
    ASSERT_EQ(u2->when[0].col, 38);
    ASSERT_EQ(mom->n_when, 2);
    ASSERT(!mom->when[0].is_range && mom->when[0].n_values == 1);
    ASSERT(strcmp(mom->when[0].values[0].str, "sgd") == 0);
    ASSERT(mom->when[1].is_range && isinf(mom->when[1].min) && mom->when[1].max == 2);
    ASSERT(mom->has_start && mom->start_index == 1);
    // A conditional constant stays out of the base.
    ASSERT_EQ(ep->n_when, 1);
    ASSERT_EQ(spec->base.epochs, HPT_HPARAMS_DEFAULT.epochs);
    // enqueue rows: given values, defaults (start:, else the first value), absent.
    ASSERT_EQ(spec->n_enqueue, 2);
    const coord_pval_t *r0 = spec->enqueue, *r1 = spec->enqueue + spec->n_params;
    ASSERT(r0[0].num == 2 && r0[1].num == 64 && strcmp(r0[2].str, "sgd") == 0);
    ASSERT(r0[3].num == 0.9 && r0[4].absent);
    ASSERT(r1[0].num == 1 && r1[1].absent && strcmp(r1[2].str, "adam") == 0);
    ASSERT(r1[3].absent && r1[4].absent);
    // coord_spec_active reads only earlier parameters.
    coord_pval_t v[5] = {{.num = 3}, {.num = 16}, {.str = "sgd"}, {.num = 0.5}, {.num = 2}};
    ASSERT(coord_spec_active(spec, 1, v));
    ASSERT(!coord_spec_active(spec, 3, v));  // layers 3 > max 2
    ASSERT(coord_spec_active(spec, 4, v));
    v[0].num = 2;
    ASSERT(coord_spec_active(spec, 3, v));
    v[2] = (coord_pval_t){.absent = true};
    ASSERT(!coord_spec_active(spec, 3, v));  // a condition on an absent parameter fails
    // Applying: absent values are skipped, present ones applied.
    hpt_hparams_t hp;
    coord_pval_t t[5] = {{.num = 2}, {.num = 64}, {.str = "sgd"}, {.num = 0.9},
                         {.absent = true}};
    ASSERT_OK(coord_spec_apply(spec, t, &hp, NULL));
    ASSERT(hp.layers == 2 && hp.units[1] == 64 && hp.momentum == 0.9);
    ASSERT_EQ(hp.epochs, HPT_HPARAMS_DEFAULT.epochs);
    char buf[16];
    ASSERT(strcmp(coord_pval_format(ep, &t[4], buf, sizeof buf), "") == 0);
    coord_spec_destroy(&spec);

    spec = PARSE_OK("dataset: mnist\nmethod: bayes\nbudget: {max_trials: 50}\n"
                    "tpe: {n_startup: 0, n_candidates: 64, gamma: 0.25, prior_weight: 0.5,"
                    " constant_liar: false, multivariate: false, startup: random,"
                    " equal_heights: true}\n"
                    "parameters: {dropout: {distribution: uniform, min: 0, max: 0.5}}\n");
    ASSERT_EQ(spec->method, COORD_METHOD_BAYES);
    ASSERT_EQ(spec->tpe.n_startup, 0);
    ASSERT_EQ(spec->tpe.n_candidates, 64);
    ASSERT_NEAR(spec->tpe.gamma, 0.25, 0);
    ASSERT_NEAR(spec->tpe.prior_weight, 0.5, 0);
    ASSERT(!spec->tpe.constant_liar);
    ASSERT(!spec->tpe.multivariate && !spec->tpe.stratified && spec->tpe.equal_heights);
    coord_spec_destroy(&spec);
}

// ---------------------------------------------------------------------------
// asha and hyperband: the rungs and the epochs parameter

static void expect_rungs(const coord_spec_t *spec, const int *want, int n)
{
    ASSERT_EQ(spec->sh.n_rungs, n);
    for (int r = 0; r < n; r++)
        if (spec->sh.rung_epochs[r] != want[r])
            HPT__FAIL("rung %d: want %d epochs, got %d", r, want[r], spec->sh.rung_epochs[r]);
    // The appended parameter lists the same epochs, starting at rung 0.
    ASSERT(spec->resource_param == spec->n_params - 1);
    const coord_param_t *p = &spec->params[spec->resource_param];
    ASSERT(strcmp(p->name, "epochs") == 0);
    ASSERT_EQ(p->kind, COORD_PKIND_INT);
    ASSERT_EQ(p->dist, COORD_PDIST_VALUES);
    ASSERT_EQ(p->n_values, n);
    for (int r = 0; r < n; r++)
        ASSERT(p->values[r].num == want[r]);
    ASSERT(!p->has_start && p->start_index == 0 && p->n_when == 0);
}

HPT_TEST(successive_halving)
{
    // asha with the defaults: 1..27 epochs, eta 3.
    coord_spec_t *spec = PARSE_OK("dataset: mnist\n"
                                  "method: asha\n"
                                  "budget: {max_trials: 20}\n"
                                  "parameters:\n"
                                  "  units: {values: [8, 16]}\n"
                                  "  dropout: {distribution: uniform, min: 0, max: 0.5}\n");
    ASSERT_EQ(spec->method, COORD_METHOD_ASHA);
    ASSERT(strcmp(coord_method_name(spec->method), "asha") == 0);
    ASSERT_EQ(spec->sh.min_epochs, 1);
    ASSERT_EQ(spec->sh.max_epochs, 27);
    ASSERT_EQ(spec->sh.eta, 3);
    ASSERT_EQ(spec->sh.iterations, 1);
    ASSERT_EQ(spec->n_params, 3);
    static const int r27[] = {1, 3, 9, 27};
    expect_rungs(spec, r27, 4);
    // Declared where the method is (the method key).
    ASSERT_EQ(spec->params[2].line, 2);
    ASSERT_EQ(spec->params[2].col, 1);
    ASSERT_EQ(spec->max_trials, 20);
    ASSERT_EQ(spec->base.epochs, HPT_HPARAMS_DEFAULT.epochs);  // set per trial
    hpt_hparams_t hp;
    coord_pval_t v[3] = {{.num = 16}, {.num = 0.25}, {.num = 9}};
    ASSERT_OK(coord_spec_apply(spec, v, &hp, NULL));
    ASSERT_EQ(hp.epochs, 9);
    coord_spec_destroy(&spec);

    // A maximum that is not min * eta^K: the rungs are max / eta^(K - k),
    // rounded, so the top is max_epochs.  20 / 9 = 2.2, 20 / 3 = 6.7.
    spec = PARSE_OK("dataset: mnist\nmethod: hyperband\n"
                    "hyperband: {min_epochs: 1, max_epochs: 20, eta: 3}\n"
                    "parameters: {units: {values: [8, 16]}}\n");
    ASSERT_EQ(spec->method, COORD_METHOD_HYPERBAND);
    ASSERT(strcmp(coord_method_name(spec->method), "hyperband") == 0);
    static const int r20[] = {2, 7, 20};
    expect_rungs(spec, r20, 3);
    ASSERT_EQ(spec->max_trials, 0);  // optional for hyperband
    ASSERT_EQ(spec->sh.iterations, 1);
    coord_spec_destroy(&spec);

    // The paper's example (Li et al. 2018, Table 1): R = 81, eta = 3.
    spec = PARSE_OK("dataset: mnist\nmethod: hyperband\n"
                    "hyperband: {max_epochs: 81, iterations: 3}\n"
                    "budget: {max_trials: 500}\n"
                    "parameters: {units: {values: [8, 16]}}\n");
    static const int r81[] = {1, 3, 9, 27, 81};
    expect_rungs(spec, r81, 5);
    ASSERT_EQ(spec->sh.iterations, 3);
    ASSERT_EQ(spec->max_trials, 500);
    coord_spec_destroy(&spec);

    // Halves from 2 to 10000: 13 rungs, 2.44 -> 2, 4.88 -> 5, 312.5 -> 313.
    spec = PARSE_OK("dataset: mnist\nmethod: asha\nbudget: {max_trials: 5}\n"
                    "asha: {min_epochs: 2, max_epochs: 10000, eta: 2}\n"
                    "parameters: {units: {values: [8, 16]}}\n");
    static const int r10k[] = {2, 5, 10, 20, 39, 78, 156, 313, 625, 1250, 2500, 5000, 10000};
    expect_rungs(spec, r10k, 13);
    coord_spec_destroy(&spec);
    // The most rungs the limits allow: 1 * 2^13 <= 10000.
    spec = PARSE_OK("dataset: mnist\nmethod: asha\nbudget: {max_trials: 5}\n"
                    "asha: {max_epochs: 10000, eta: 2}\n"
                    "parameters: {units: {values: [8, 16]}}\n");
    ASSERT_EQ(spec->sh.n_rungs, 14);
    ASSERT_EQ(spec->sh.rung_epochs[0], 1);
    ASSERT_EQ(spec->sh.rung_epochs[13], 10000);
    coord_spec_destroy(&spec);
    // Exactly two rungs, and a large eta.
    spec = PARSE_OK("dataset: mnist\nmethod: asha\nbudget: {max_trials: 5}\n"
                    "asha: {min_epochs: 5, max_epochs: 15}\n"
                    "parameters: {units: {values: [8, 16]}}\n");
    static const int r15[] = {5, 15};
    expect_rungs(spec, r15, 2);
    coord_spec_destroy(&spec);
    spec = PARSE_OK("dataset: mnist\nmethod: asha\nbudget: {max_trials: 5}\n"
                    "asha: {min_epochs: 1, max_epochs: 10000, eta: 100}\n"
                    "parameters: {units: {values: [8, 16]}}\n");
    static const int r100[] = {1, 100, 10000};
    expect_rungs(spec, r100, 3);
    coord_spec_destroy(&spec);

    // Enqueued trials start at rung 0: the filler gives epochs its first
    // value.  alpha and test_objective go with any method.
    spec = PARSE_OK("dataset: mnist\nmethod: asha\nbudget: {max_trials: 5}\n"
                    "asha: {min_epochs: 2, max_epochs: 18}\n"
                    "alpha: 0.5\n"
                    "test_objective: bowl\n"
                    "enqueue: [{units: 16}, {}]\n"
                    "parameters: {units: {values: [8, 16]}}\n");
    static const int r18[] = {2, 6, 18};
    expect_rungs(spec, r18, 3);
    ASSERT_EQ(spec->n_enqueue, 2);
    ASSERT(spec->enqueue[0].num == 16 && spec->enqueue[1].num == 2);
    ASSERT(spec->enqueue[2].num == 8 && spec->enqueue[3].num == 2);
    ASSERT_NEAR(spec->alpha, 0.5, 0);
    ASSERT(strcmp(spec->test_objective, "bowl") == 0);
    coord_spec_destroy(&spec);
    spec = PARSE_OK("dataset: mnist\nmethod: grid\nalpha: 1.0e-3\ntest_objective: \"hash\"\n"
                    "parameters: {epochs: {values: [1, 2]}}\n");
    ASSERT_NEAR(spec->alpha, 0.001, 0);
    ASSERT(strcmp(spec->test_objective, "hash") == 0);
    ASSERT_EQ(spec->resource_param, -1);
    // select: off by default, with its defaults
    ASSERT(!spec->race.on);
    ASSERT_EQ(spec->race.top, 5);
    ASSERT_EQ(spec->race.max_repeats, 5);
    ASSERT_EQ(spec->race.budget_tasks, 0);
    ASSERT(!spec->race.tie_best_mean);
    coord_spec_destroy(&spec);
    spec = PARSE_OK("dataset: mnist\nmethod: grid\ntest_objective: noisy\n"
                    "select: {race: true, top: 3, max_repeats: 7, budget_tasks: 40, "
                    "tie_break: best_mean}\n"
                    "parameters: {epochs: {values: [1, 2]}}\n");
    ASSERT(spec->race.on);
    ASSERT_EQ(spec->race.top, 3);
    ASSERT_EQ(spec->race.max_repeats, 7);
    ASSERT_EQ(spec->race.budget_tasks, 40);
    ASSERT(spec->race.tie_best_mean);
    ASSERT(strcmp(spec->test_objective, "noisy") == 0);
    coord_spec_destroy(&spec);
}

HPT_TEST(distributions)
{
    coord_spec_t *spec = PARSE_OK(
        "dataset: mnist\n"
        "method: random\n"
        "seed: 3\n"
        "budget: {max_trials: 10}\n"
        "parameters:\n"
        "  optimizer:\n"
        "    distribution: categorical\n"
        "    values: [adam, sgd, nadam]\n"
        "    probabilities: [0.5, 0.25, 0.25]\n"
        "  activation: {distribution: categorical, values: [relu, tanh]}\n"
        "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}\n"
        "  dropout: {distribution: uniform, min: 0, max: 0.5}\n"
        "  units: {distribution: int_uniform, min: 8, max: 64}\n"
        "  batch_size: {distribution: q_uniform, min: 16, max: 256, q: 16}\n"
        "  momentum: {distribution: q_uniform, min: 0.1, max: 0.9, q: 0.2}\n"
        "  init_mode: {value: zeros}\n"
        "  seed: {distribution: int_uniform, min: 0, max: 9007199254740991}\n");
    ASSERT_EQ(spec->seed, 3);
    const coord_param_t *p = param(spec, "optimizer");
    ASSERT(p && p->dist == COORD_PDIST_CATEGORICAL && p->n_values == 3 && p->probs);
    ASSERT(strcmp(p->values[2].str, "nadam") == 0);
    ASSERT(p->probs[0] == 0.5 && p->probs[1] == 0.25 && p->probs[2] == 0.25);
    p = param(spec, "activation");  // no probabilities: equally likely
    ASSERT(p && p->dist == COORD_PDIST_CATEGORICAL && p->probs);
    ASSERT(p->probs[0] == 0.5 && p->probs[1] == 0.5);
    p = param(spec, "learning_rate");
    ASSERT(p && p->dist == COORD_PDIST_LOG_UNIFORM_VALUES && p->min == 1e-4 && p->max == 0.1);
    p = param(spec, "dropout");
    ASSERT(p && p->dist == COORD_PDIST_UNIFORM && p->min == 0 && p->max == 0.5);
    p = param(spec, "units");
    ASSERT(p && p->dist == COORD_PDIST_INT_UNIFORM && p->min == 8 && p->max == 64);
    p = param(spec, "batch_size");
    ASSERT(p && p->dist == COORD_PDIST_Q_UNIFORM && p->min == 16 && p->max == 256 && p->q == 16);
    p = param(spec, "momentum");
    ASSERT(p && p->dist == COORD_PDIST_Q_UNIFORM && p->q == 0.2);
    p = param(spec, "init_mode");  // Keras' "zeros" is our "zero"
    ASSERT(p && p->dist == COORD_PDIST_VALUE && strcmp(p->values[0].str, "zero") == 0);
    ASSERT_EQ(spec->base.init_mode, HPT_INIT_ZERO);
    p = param(spec, "seed");
    ASSERT(p && p->kind == COORD_PKIND_INT && p->max == 9007199254740991.0);
    coord_spec_destroy(&spec);
}

// ---------------------------------------------------------------------------
// coord_spec_apply and coord_pval_format

static coord_pval_t num(double v) { return (coord_pval_t){.num = v}; }

HPT_TEST(apply_units_layers)
{
    // units_2 is declared before units and still overrides it.
    coord_spec_t *spec = PARSE_OK("dataset: mnist\nmethod: grid\nparameters:\n"
                                  "  layers: {values: [1, 3]}\n"
                                  "  units_2: {value: 64}\n"
                                  "  units: {values: [8, 16]}\n"
                                  "  units_3: {values: [4, 5]}\n"
                                  "  dropout: {value: 0.25}\n");
    ASSERT_EQ(spec->base.units[1], 64);  // the constant is in base already
    ASSERT(spec->base.dropout == 0.25);
    hpt_hparams_t hp;
    hpt_err err = {0};
    coord_pval_t v[5] = {num(3), num(64), num(16), num(5), num(0.25)};
    ASSERT_OK(coord_spec_apply(spec, v, &hp, &err));
    ASSERT_EQ(hp.layers, 3);
    ASSERT_EQ(hp.units[0], 16);
    ASSERT_EQ(hp.units[1], 64);
    ASSERT_EQ(hp.units[2], 5);
    for (int i = 3; i < HPT_MAX_LAYERS; i++)
        ASSERT_EQ(hp.units[i], 16);
    ASSERT(hp.dropout == 0.25);
    ASSERT(hp.learning_rate < 0);  // not given: the optimizer's default
    ASSERT_EQ(hp.batch_size, HPT_HPARAMS_DEFAULT.batch_size);

    // One layer: the per-layer overrides of deeper layers are simply unused.
    coord_pval_t w[5] = {num(1), num(64), num(8), num(4), num(0.25)};
    ASSERT_OK(coord_spec_apply(spec, w, &hp, &err));
    ASSERT_EQ(hp.layers, 1);
    ASSERT_EQ(hp.units[0], 8);

    // Invalid combinations (as from a corrupt journal) name the field.
    coord_pval_t bad_layers[5] = {num(9), num(64), num(8), num(4), num(0.25)};
    ASSERT_EQ(coord_spec_apply(spec, bad_layers, &hp, &err), -EINVAL);
    ASSERT(strcmp(err.msg, "layers: 9 is out of range (1..8)") == 0);
    coord_pval_t bad_units[5] = {num(2), num(64), num(0), num(4), num(0.25)};
    ASSERT_EQ(coord_spec_apply(spec, bad_units, &hp, &err), -EINVAL);
    ASSERT(strcmp(err.msg, "units: 0 is out of range (1..65536)") == 0);
    coord_pval_t frac[5] = {num(2), num(64), num(8.5), num(4), num(0.25)};
    ASSERT_EQ(coord_spec_apply(spec, frac, &hp, &err), -EINVAL);
    ASSERT(strcmp(err.msg, "units: 8.5 is not an integer") == 0);
    coord_pval_t drop[5] = {num(2), num(64), num(8), num(4), num(1.0)};
    ASSERT_EQ(coord_spec_apply(spec, drop, &hp, &err), -EINVAL);
    ASSERT(strcmp(err.msg, "dropout: 1 is out of range [0, 1)") == 0);
    coord_spec_destroy(&spec);
}

HPT_TEST(apply_enums_and_format)
{
    coord_spec_t *spec = PARSE_OK("dataset: mnist\nmethod: grid\nparameters:\n"
                                  "  optimizer: {values: [sgd, adam]}\n"
                                  "  nesterov: {values: [true, false]}\n"
                                  "  learning_rate: {values: [0.001, 0.5]}\n"
                                  "  batch_size: {values: [32, 512]}\n"
                                  "  seed: {value: 9007199254740991}\n");
    coord_pval_t v[5] = {spec->params[0].values[0], spec->params[1].values[0],
                         spec->params[2].values[0], spec->params[3].values[1],
                         spec->params[4].values[0]};
    hpt_hparams_t hp;
    hpt_err err = {0};
    ASSERT_OK(coord_spec_apply(spec, v, &hp, &err));
    ASSERT_EQ(hp.optimizer, HPT_OPT_SGD);
    ASSERT(hp.nesterov);
    ASSERT(hp.learning_rate == 0.001);
    ASSERT_EQ(hp.batch_size, 512);
    ASSERT(hp.seed == 9007199254740991ULL);

    char buf[64];
    ASSERT(strcmp(coord_pval_format(&spec->params[0], &v[0], buf, sizeof buf), "sgd") == 0);
    ASSERT(strcmp(coord_pval_format(&spec->params[1], &v[1], buf, sizeof buf), "true") == 0);
    ASSERT(strcmp(coord_pval_format(&spec->params[1], &spec->params[1].values[1], buf,
                                    sizeof buf), "false") == 0);
    ASSERT(strcmp(coord_pval_format(&spec->params[2], &v[2], buf, sizeof buf), "0.001") == 0);
    ASSERT(strcmp(coord_pval_format(&spec->params[3], &v[3], buf, sizeof buf), "512") == 0);
    ASSERT(strcmp(coord_pval_format(&spec->params[4], &v[4], buf, sizeof buf),
                  "9007199254740991") == 0);
    coord_pval_t third = {.num = 1.0 / 3};
    ASSERT(strcmp(coord_pval_format(&spec->params[2], &third, buf, sizeof buf), "0.333333") == 0);

    // An enum value that is not a name of the parameter.
    coord_pval_t unknown = {.num = 0};
    snprintf(unknown.str, sizeof unknown.str, "adamx");
    v[0] = unknown;
    ASSERT_EQ(coord_spec_apply(spec, v, &hp, &err), -EINVAL);
    ASSERT(strcmp(err.msg, "optimizer: unknown optimizer 'adamx' (allowed: sgd, nesterov, "
                           "rmsprop, adagrad, adadelta, adam, adamax, nadam, adamw; also "
                           "momentum, sgdm, sgd_momentum, nag, sgd_nesterov, rms, adam_w)") == 0);
    ASSERT(strcmp(coord_method_name(COORD_METHOD_GRID), "grid") == 0);
    ASSERT(strcmp(coord_method_name(COORD_METHOD_RANDOM), "random") == 0);
    ASSERT(strcmp(coord_method_name(COORD_METHOD__COUNT), "?") == 0);
    coord_spec_destroy(&spec);
}

/* softmax is a hidden-layer activation like the others: listed, applied and
 * formatted by name. */
HPT_TEST(activation_softmax)
{
    coord_spec_t *spec = PARSE_OK("dataset: mnist\nmethod: grid\nparameters:\n"
                                  "  activation: {values: [relu, softmax]}\n");
    ASSERT_EQ(spec->n_params, 1);
    const coord_param_t *p = param(spec, "activation");
    ASSERT(p == &spec->params[0]);
    ASSERT_EQ(p->n_values, 2);
    hpt_hparams_t hp;
    hpt_err err = {0};
    ASSERT_OK(coord_spec_apply(spec, &p->values[1], &hp, &err));
    ASSERT_EQ(hp.activation, HPT_ACT_SOFTMAX);
    ASSERT_OK(hpt_hparams_validate(&hp, &err));
    char buf[64];
    ASSERT(strcmp(coord_pval_format(p, &p->values[1], buf, sizeof buf), "softmax") == 0);
    // The worker receives it by name and maps it back.
    Hpt__HParams w;
    uint32_t units[HPT_MAX_LAYERS];
    hpt_proto_hparams_to_wire(&hp, &w, units);
    ASSERT(strcmp(w.activation, "softmax") == 0);
    hpt_hparams_t back;
    ASSERT_OK(hpt_proto_hparams_from_wire(&w, &back, &err));
    ASSERT_EQ(back.activation, HPT_ACT_SOFTMAX);
    ASSERT_OK(coord_spec_apply(spec, &p->values[0], &hp, &err));
    ASSERT_EQ(hp.activation, HPT_ACT_RELU);
    coord_spec_destroy(&spec);
}

/* weight_decay is a float hyperparameter like the others: applied, range
 * checked, sent to the worker in HParams and bounded again on receipt;
 * adamw is an optimizer name. */
HPT_TEST(weight_decay_and_adamw)
{
    coord_spec_t *spec = PARSE_OK("dataset: mnist\nmethod: grid\nparameters:\n"
                                  "  optimizer: {values: [sgd, adamw]}\n"
                                  "  weight_decay: {values: [0, 0.0005, 0.5]}\n");
    ASSERT_EQ(coord_spec_grid_size(spec, 100), 6);
    coord_pval_t v[2] = {spec->params[0].values[1], spec->params[1].values[1]};
    hpt_hparams_t hp;
    hpt_err err = {0};
    ASSERT_OK(coord_spec_apply(spec, v, &hp, &err));
    ASSERT_EQ(hp.optimizer, HPT_OPT_ADAMW);
    ASSERT(hp.weight_decay == 0.0005);
    Hpt__HParams w;
    uint32_t units[HPT_MAX_LAYERS];
    hpt_proto_hparams_to_wire(&hp, &w, units);
    ASSERT(w.weight_decay == 0.0005);
    ASSERT(strcmp(w.optimizer, "adamw") == 0);
    hpt_hparams_t back;
    ASSERT_OK(hpt_proto_hparams_from_wire(&w, &back, &err));
    ASSERT(back.weight_decay == 0.0005);
    ASSERT_EQ(back.optimizer, HPT_OPT_ADAMW);
    // Bounded on receipt like every other field.
    w.weight_decay = 11;
    ASSERT_EQ(hpt_proto_hparams_from_wire(&w, &back, &err), -EINVAL);
    ASSERT(strcmp(err.msg, "weight_decay: 11 is out of range [0, 10] (0 = off)") == 0);
    w.weight_decay = -0.1;
    ASSERT_EQ(hpt_proto_hparams_from_wire(&w, &back, &err), -EINVAL);
    w.weight_decay = NAN;
    ASSERT_EQ(hpt_proto_hparams_from_wire(&w, &back, &err), -EINVAL);
    char buf[64];
    ASSERT(strcmp(coord_pval_format(&spec->params[1], &v[1], buf, sizeof buf), "0.0005") == 0);
    coord_spec_destroy(&spec);
    EXPECT_ERR("dataset: mnist\nmethod: grid\nparameters:\n  weight_decay: {value: 10.5}\n",
               "sweep.yaml:4:25: parameters.weight_decay.value: 10.5 is out of range [0, 10]");
}

// ---------------------------------------------------------------------------
// Every error at once

/* One run reports every problem, in file order, each with its position,
 * field, problem and the allowed values, and a hint for near misses. */
HPT_TEST(every_error_at_once)
{
    EXPECT_ERR("name: demo\n"
               "method: grd\n"
               "cv: {folds: 1, shufle: true}\n"
               "parameters:\n"
               "  lerning_rate: {values: [0.1]}\n"
               "  batch_size: {values: [32, big, 64, 32]}\n"
               "  optimizer: {values: [adam, adan]}\n"
               "  dropout: {distribution: uniform, min: 0.5, max: 1.5}\n"
               "refit: maybe\n",
               "sweep.yaml:2:9: method: unknown method 'grd'; did you mean grid? (allowed: grid, "
               "random, bayes, coordinate, hyperband, asha)\n"
               "sweep.yaml:3:13: cv.folds: 1 is out of range (2..100)\n"
               "sweep.yaml:3:16: cv.shufle: unknown key; did you mean shuffle? (allowed: folds, "
               "stratified, shuffle, seed, repeats, seeds)\n"
               "sweep.yaml:5:3: parameters.lerning_rate: unknown parameter; did you mean "
               "learning_rate? (allowed: layers, units, units_1..units_8, hidden_sizes, "
               "activation, init_mode, optimizer, learning_rate, momentum, nesterov, dropout, "
               "input_dropout, weight_constraint, weight_decay, batch_size, epochs, seed; "
               "aliases such as lr, hidden_size, num_layers, weight_init: hptune spec aliases)\n"
               "sweep.yaml:6:29: parameters.batch_size.values[1]: expected an integer, got 'big'\n"
               "sweep.yaml:6:38: parameters.batch_size.values[3]: duplicate value 32 (also "
               "values[0])\n"
               "sweep.yaml:7:30: parameters.optimizer.values[1]: unknown optimizer 'adan'; did you "
               "mean adam? (allowed: sgd, nesterov, rmsprop, adagrad, adadelta, adam, adamax, "
               "nadam, adamw; also momentum, sgdm, sgd_momentum, nag, sgd_nesterov, rms, "
               "adam_w)\n"
               "sweep.yaml:8:51: parameters.dropout.max: 1.5 is out of range [0, 1)\n"
               "sweep.yaml:9:8: refit: expected true or false, got 'maybe'");
    // A failed parameter is not echoed by the conditions and enqueued trials
    // that read it.
    EXPECT_ERR("dataset: mnist\nmethod: grid\nparameters:\n"
               "  layers: {values: [1, 9]}\n"
               "  units_2: {values: [16], when: {layers: [2]}}\n"
               "enqueue: [{layers: 2}]\n",
               "sweep.yaml:4:24: parameters.layers.values[1]: 9 is out of range (1..8)");
}

/* At most COORD_SPEC_KEEP_ERRORS errors are kept, the rest counted. */
HPT_TEST(error_cap)
{
    char *text = malloc(64 * 1024);
    size_t off = (size_t)sprintf(text, "dataset: mnist\nmethod: grid\nparameters:\n"
                                       "  batch_size: {values: [");
    for (int i = 0; i < 80; i++)
        off += (size_t)sprintf(text + off, "%sx%d", i ? ", " : "", i);
    sprintf(text + off, "]}\n");
    coord_spec_t *spec = NULL;
    coord_diags_t d;
    ASSERT_EQ(coord_spec_parse_all(text, strlen(text), "s.yaml", &spec, &d), -EINVAL);
    ASSERT_EQ(d.n_errors, 80);
    ASSERT_EQ(d.n, COORD_SPEC_KEEP_ERRORS);
    char *all = coord_diags_text(&d, COORD_DIAG_ERROR);
    const char *tail = strrchr(all, '\n');
    ASSERT(tail && strcmp(tail + 1, "(and 30 more errors not shown)") == 0);
    ASSERT(strncmp(all, "s.yaml:4:25: parameters.batch_size.values[0]: expected an integer, "
                        "got 'x0'\n", 70) == 0);
    free(all);
    coord_diags_free(&d);
    free(text);
}

/* Messages are never cut, whatever the path's length: the allowed list
 * ends whole. */
HPT_TEST(long_messages)
{
    char path[3000];
    memset(path, 'p', sizeof path - 6);
    strcpy(path + sizeof path - 6, ".yaml");
    const char text[] = "dataset: mnist\nmethod: grid\nparameters:\n  colour: {value: 1}\n";
    coord_spec_t *spec = NULL;
    coord_diags_t d;
    ASSERT_EQ(coord_spec_parse_all(text, strlen(text), path, &spec, &d), -EINVAL);
    ASSERT_EQ(d.n, 1);
    size_t n = strlen(d.v[0].text);
    ASSERT(n > sizeof path + 200);
    ASSERT(strncmp(d.v[0].text, path, sizeof path - 1) == 0);
    const char *end = "weight_init: hptune spec aliases)";
    ASSERT(strcmp(d.v[0].text + n - strlen(end), end) == 0);
    coord_diags_free(&d);
}

// ---------------------------------------------------------------------------
// W&B sweep configs (issue 12); the corpus in tests/spec/wandb covers the
// whole forms, these the values they turn into.

static coord_spec_t *parse_diags(const char *text, coord_diags_t *d)
{
    coord_spec_t *spec = NULL;
    if (coord_spec_parse_all(text, strlen(text), "w.yaml", &spec, d) != 0 || !spec) {
        char *e = coord_diags_text(d, COORD_DIAG_ERROR);
        HPT__FAIL("parse failed: %s", e ? e : "?");
    }
    return spec;
}

static hpt_hparams_t applied(const coord_spec_t *spec, const coord_pval_t *v)
{
    hpt_hparams_t hp;
    hpt_err err = {0};
    if (coord_spec_apply(spec, v, &hp, &err) != 0)
        HPT__FAIL("apply: %s", err.msg);
    return hp;
}

/* momentum and nag are SGD with momentum 0.9 unless the trial sets it; they
 * stay values of their own (a grid runs sgd and momentum both). */
HPT_TEST(wandb_optimizer_aliases)
{
    coord_diags_t d;
    coord_spec_t *spec = parse_diags("method: grid\nparameters:\n"
                                     "  optimizer: {values: [SGD, momentum, nag, RMS]}\n", &d);
    const coord_param_t *p = &spec->params[0];
    ASSERT_EQ(p->n_values, 4);
    ASSERT_EQ(coord_spec_grid_size(spec, 100), 4);
    static const hpt_opt_t opt[4] = {HPT_OPT_SGD, HPT_OPT_SGD, HPT_OPT_NESTEROV,
                                     HPT_OPT_RMSPROP};
    static const double mom[4] = {0, 0.9, 0.9, 0};
    for (int i = 0; i < 4; i++) {
        hpt_hparams_t hp = applied(spec, &p->values[i]);
        ASSERT_EQ(hp.optimizer, opt[i]);
        ASSERT(hp.momentum == mom[i]);
    }
    char buf[64];
    ASSERT(strcmp(coord_pval_format(p, &p->values[1], buf, sizeof buf), "momentum") == 0);
    ASSERT(strcmp(coord_pval_format(p, &p->values[3], buf, sizeof buf), "rmsprop") == 0);
    coord_spec_destroy(&spec);
    coord_diags_free(&d);
    // A momentum the trial sets wins over the implied one.
    spec = parse_diags("method: grid\nparameters:\n  optimizer: {value: nag}\n"
                       "  momentum: {values: [0.5, 0.99]}\n", &d);
    coord_pval_t v[2] = {spec->params[0].values[0], spec->params[1].values[1]};
    hpt_hparams_t hp = applied(spec, v);
    ASSERT(hp.momentum == 0.99 && hp.optimizer == HPT_OPT_NESTEROV);
    coord_spec_destroy(&spec);
    coord_diags_free(&d);
}

/* Architectures as lists, null values, quoted numbers, nested parameters,
 * aliases in when: and enqueue:. */
HPT_TEST(wandb_values)
{
    coord_diags_t d;
    coord_spec_t *spec = parse_diags(
        "method: grid\nparameters:\n"
        "  hidden_sizes: {values: [[128, 64], [32], null]}\n"
        "  dropout: {values: [null, \"0.25\"]}\n"
        "  opt:\n    parameters:\n      type: {values: [adam, sgd]}\n"
        "      lr: {values: [0.1], when: {opt: [sgd]}}\n"
        "enqueue: [{hidden_sizes: [32], dropout: 0.25, optimizer: sgd, lr: 0.1}]\n", &d);
    ASSERT_EQ(spec->n_params, 4);
    ASSERT(strcmp(spec->params[2].name, "optimizer") == 0);
    ASSERT(strcmp(spec->params[2].written, "opt.type") == 0);
    ASSERT(strcmp(spec->params[3].name, "learning_rate") == 0);
    const coord_param_t *a = &spec->params[0];
    ASSERT_EQ(a->kind, COORD_PKIND_ARCH);
    coord_pval_t v[4] = {a->values[0], spec->params[1].values[1], spec->params[2].values[1],
                         spec->params[3].values[0]};
    hpt_hparams_t hp = applied(spec, v);
    ASSERT_EQ(hp.layers, 2);
    ASSERT(hp.units[0] == 128 && hp.units[1] == 64 && hp.units[2] == 64);
    ASSERT(hp.dropout == 0.25 && hp.learning_rate == 0.1);
    // null: the default (1 layer of 32, no dropout).
    v[0] = a->values[2];
    v[1] = spec->params[1].values[0];
    hp = applied(spec, v);
    ASSERT(hp.layers == 1 && hp.units[0] == 32 && hp.dropout == 0);
    char buf[64];
    ASSERT(strcmp(coord_pval_format(a, &a->values[0], buf, sizeof buf), "[128,64]") == 0);
    ASSERT(strcmp(coord_pval_format(a, &a->values[2], buf, sizeof buf), "null") == 0);
    ASSERT(coord_pval_is_null(&a->values[2]) && !coord_pval_is_null(&a->values[1]));
    // 3 architectures x 2 dropouts x (adam, or sgd with lr) = 12.
    ASSERT_EQ(coord_spec_grid_size(spec, 100), 12);
    ASSERT_EQ(spec->n_enqueue, 1);
    ASSERT(spec->enqueue[0].num == 1);   // [32] is values[1]
    coord_spec_destroy(&spec);
    coord_diags_free(&d);
}

/* run_cap, the default budget, the dataset default, the metric names,
 * target, and what early_terminate turns into. */
HPT_TEST(wandb_top_level)
{
    coord_diags_t d;
    coord_spec_t *spec = parse_diags("program: t.py\nmethod: random\nrun_cap: 7\n"
                                     "metric: {name: Train_Acc, target: 0.9}\n"
                                     "parameters: {lr: {min: 0.001, max: 0.01}}\n", &d);
    ASSERT_EQ(spec->max_trials, 7);
    ASSERT(strcmp(spec->dataset, "mnist") == 0);
    ASSERT_EQ(spec->metric, HPT_METRIC_ACCURACY);
    ASSERT(spec->maximize && spec->objective_train && spec->score_train);
    ASSERT(spec->has_target && spec->target == 0.9);
    ASSERT_EQ(spec->params[0].dist, COORD_PDIST_UNIFORM);
    ASSERT_EQ(d.n_errors, 0);
    ASSERT_EQ(d.n_warnings, 3);   // program, dataset, goal left to W&B's minimize
    coord_spec_destroy(&spec);
    coord_diags_free(&d);

    spec = parse_diags("method: bayes\nparameters: {epochs: {min: 1, max: 4}}\n", &d);
    ASSERT_EQ(spec->max_trials, COORD_SPEC_DEFAULT_TRIALS);
    ASSERT_EQ(spec->params[0].dist, COORD_PDIST_INT_UNIFORM);
    coord_spec_destroy(&spec);
    coord_diags_free(&d);

    spec = parse_diags("method: grid\nearly_terminate: {type: hyperband, min_iter: 1, eta: 3}\n"
                       "parameters:\n  units: {values: [8, 16, 32]}\n  epochs: {value: 20}\n",
                       &d);
    ASSERT_EQ(spec->method, COORD_METHOD_ASHA);
    ASSERT_EQ(spec->sh.n_rungs, 4);
    ASSERT(spec->sh.rung_epochs[0] == 1 && spec->sh.rung_epochs[1] == 3 &&
           spec->sh.rung_epochs[2] == 9 && spec->sh.rung_epochs[3] == 20);
    ASSERT_EQ(spec->n_enqueue, 3);
    ASSERT_EQ(spec->max_trials, 3);
    ASSERT_EQ(spec->resource_param, 1);
    ASSERT(spec->enqueue[2 * 2 + 0].num == 32 && spec->enqueue[2 * 2 + 1].num == 1);
    coord_spec_destroy(&spec);
    coord_diags_free(&d);
}

// ---------------------------------------------------------------------------
// Limits and odd inputs

static char *big_grid(int a, int b, int c)
{
    size_t cap = 64 + (size_t)(a + b + c) * 8;
    char *s = malloc(cap);
    size_t off = (size_t)snprintf(s, cap, "dataset: mnist\nmethod: grid\nparameters:\n");
    const char *names[3] = {"batch_size", "epochs", "units"};
    int counts[3] = {a, b, c};
    for (int k = 0; k < 3; k++) {
        off += (size_t)snprintf(s + off, cap - off, "  %s: {values: [", names[k]);
        for (int i = 1; i <= counts[k]; i++)
            off += (size_t)snprintf(s + off, cap - off, "%d%s", i, i < counts[k] ? "," : "");
        off += (size_t)snprintf(s + off, cap - off, "]}\n");
    }
    return s;
}

HPT_TEST(limits)
{
    // 1000 x 1000 x 10 = 10,000,000 combinations: exactly the limit.
    char *s = big_grid(1000, 1000, 10);
    coord_spec_t *spec = PARSE_OK(s);
    coord_spec_destroy(&spec);
    free(s);
    s = big_grid(1000, 1000, 11);
    EXPECT_ERR(s, "sweep.yaml:3:1: parameters: the grid has more than 10000000 combinations; "
                  "use fewer values or method: random");
    free(s);
    s = big_grid(1025, 1, 1);
    EXPECT_ERR(s, "sweep.yaml:4:24: parameters.batch_size.values: has 1025 values (at most 1024)");
    free(s);

    char name[200];
    snprintf(name, sizeof name, "dataset: mnist\nname: %0128d\nmethod: grid\n"
                                "parameters: {epochs: {value: 1}}\n", 0);
    EXPECT_ERR(name, "sweep.yaml:2:7: name: longer than 127 characters");
    snprintf(name, sizeof name, "dataset: mnist\nmethod: grid\nname: %0127d\n"
                                "parameters: {epochs: {value: 1}}\n", 0);
    spec = PARSE_OK(name);
    ASSERT_EQ(strlen(spec->name), 127);
    coord_spec_destroy(&spec);
}

HPT_TEST(odd_inputs)
{
    hpt_err err = {0};
    coord_spec_t *spec = NULL;
    // Not NUL-terminated: only len bytes are read.
    const char text[] = "dataset: mnist\nmethod: grid\nparameters: {epochs: {value: 1}}\nXXXX";
    ASSERT_OK(coord_spec_parse(text, sizeof text - 5, NULL, &spec, &err));
    ASSERT(strcmp(spec->path, "<spec>") == 0);
    coord_spec_destroy(&spec);
    // A NUL inside a string, from an escape.
    EXPECT_ERR("dataset: \"mn\\0ist\"\nmethod: grid\nparameters: {epochs: {value: 1}}\n",
               "sweep.yaml:1:10: dataset: must not contain a NUL character");
    // Control characters in a key are not echoed.
    EXPECT_ERR("\"a\\nb\": 1\nmethod: grid\ndataset: mnist\nparameters: {epochs: {value: 1}}\n",
               "sweep.yaml:1:1: a?b: unknown key (allowed: name, dataset, metric, method, cv, "
               "refit, score_train, priority, seed, model_seed, budget, parameters, tpe, "
               "coordinate, hyperband, asha, alpha, test_objective, enqueue, select, run_cap, "
               "early_terminate, "
               "description, program, command, project, entity, job, image_uri, controller, "
               "apiVersion, kind, scheduler, metrics)");
    // Malformed UTF-8 and control characters never reach libfyaml (0.7.12
    // loops forever on "%a:\xff", a directive holding a bad byte).
    EXPECT_ERR("%a:\xff\n", "sweep.yaml:1:4: yaml: invalid UTF-8 (byte 0xff)");
    EXPECT_ERR("dataset: mn\xc3\xa9\xc1st\n", "sweep.yaml:1:13: yaml: invalid UTF-8 (byte 0xc1)");
    EXPECT_ERR("dataset: \xe2\x82\n", "sweep.yaml:1:10: yaml: invalid UTF-8 (byte 0x0a)");
    EXPECT_ERR("dataset: \xed\xa0\x80\n", "sweep.yaml:1:10: yaml: character U+D800 is not "
                                             "allowed in YAML");
    EXPECT_ERR("a: 1\nb: \x01\n", "sweep.yaml:2:4: yaml: character U+0001 is not allowed in YAML");
    EXPECT_ERR("a: 1\nb: \xe2\x82", "sweep.yaml:2:4: yaml: invalid UTF-8 (truncated character)");
    {
        const char nul[] = "dataset: mnist\0\n";
        ASSERT_EQ(coord_spec_parse(nul, sizeof nul - 1, "n.yaml", &spec, &err), -EINVAL);
        ASSERT(strcmp(err.msg, "n.yaml:1:15: yaml: character U+0000 is not allowed in YAML") == 0);
    }
    // A BOM and non-ASCII text are fine.
    spec = PARSE_OK("\xef\xbb\xbf" "name: caf\xc3\xa9 \xf0\x9f\x9a\x80\ndataset: mnist\n"
                    "method: grid\nparameters: {epochs: {value: 1}}\n");
    ASSERT(strcmp(spec->name, "caf\xc3\xa9 \xf0\x9f\x9a\x80") == 0);
    coord_spec_destroy(&spec);
    // Deep nesting is refused by libfyaml's depth limit, not a stack overflow.
    {
        size_t depth = 100000;
        char *deep = malloc(2 * depth + 16);
        size_t off = 0;
        memcpy(deep, "a: ", 3);
        off = 3;
        for (size_t i = 0; i < depth; i++)
            deep[off++] = '[';
        for (size_t i = 0; i < depth; i++)
            deep[off++] = ']';
        ASSERT_EQ(coord_spec_parse(deep, off, "d.yaml", &spec, &err), -EINVAL);
        ASSERT(strncmp(err.msg, "d.yaml:", 7) == 0);
        free(deep);
    }
    // NULL text with len 0 is an empty document.
    ASSERT_EQ(coord_spec_parse(NULL, 0, "x.yaml", &spec, &err), -EINVAL);
    ASSERT(strcmp(err.msg, "x.yaml:1:1: top level: expected a mapping, got an empty document") ==
           0);
    ASSERT(spec == NULL);
    // err may be NULL.
    ASSERT_EQ(coord_spec_parse("x: 1", 4, "x.yaml", &spec, NULL), -EINVAL);
    // A null value where a mapping is required.
    EXPECT_ERR("dataset: mnist\ncv:\nmethod: grid\nparameters: {epochs: {value: 1}}\n",
               "sweep.yaml:2:1: cv: expected a mapping, got null");
}

// ---------------------------------------------------------------------------
// The shipped examples

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    return buf;
}

static coord_spec_t *parse_example(const char *name)
{
    const char *dir = getenv("SPEC_EXAMPLES_DIR");
    if (!dir)
        HPT_TEST_SKIP("SPEC_EXAMPLES_DIR is not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text)
        HPT__FAIL("cannot read %s", path);
    coord_spec_t *spec = NULL;
    hpt_err err = {0};
    int rc = coord_spec_parse(text, len, name, &spec, &err);
    free(text);
    if (rc != 0)
        HPT__FAIL("%s: %s", path, err.msg);
    return spec;
}

HPT_TEST(examples)
{
    coord_spec_t *spec = parse_example("blog-grid.yaml");
    ASSERT_EQ(spec->method, COORD_METHOD_GRID);
    ASSERT(strcmp(spec->dataset, "mnist") == 0);
    ASSERT_EQ(spec->cv.folds, 5);
    ASSERT(spec->cv.stratified && spec->refit);
    ASSERT_EQ(spec->cv.seed, 42);
    ASSERT(strcmp(param(spec, "batch_size")->name, "batch_size") == 0);
    // The blog post's grid as published.
    ASSERT_EQ(param(spec, "epochs")->n_values, 3);
    ASSERT_EQ(param(spec, "epochs")->values[0].num, 10);
    ASSERT_EQ(param(spec, "epochs")->values[2].num, 30);
    ASSERT_EQ(param(spec, "units")->n_values, 3);
    ASSERT_EQ(spec->base.optimizer, HPT_OPT_ADAM);
    coord_spec_destroy(&spec);

    // The quickstart's short version of it, on the same full dataset.
    spec = parse_example("quickstart-grid.yaml");
    ASSERT_EQ(spec->method, COORD_METHOD_GRID);
    ASSERT(strcmp(spec->dataset, "mnist") == 0);
    ASSERT_EQ(spec->cv.folds, 5);
    ASSERT(spec->cv.stratified && spec->refit);
    ASSERT_EQ(param(spec, "epochs")->n_values, 3);
    ASSERT_EQ(param(spec, "epochs")->values[2].num, 3);
    coord_spec_destroy(&spec);

    spec = parse_example("random-search.yaml");
    ASSERT_EQ(spec->method, COORD_METHOD_RANDOM);
    ASSERT_EQ(spec->max_trials, 20);
    ASSERT_EQ(param(spec, "learning_rate")->dist, COORD_PDIST_LOG_UNIFORM_VALUES);
    ASSERT(param(spec, "optimizer") && param(spec, "batch_size") && param(spec, "units") &&
           param(spec, "dropout") && param(spec, "activation"));
    coord_spec_destroy(&spec);

    spec = parse_example("fashion-mnist.yaml");
    ASSERT_EQ(spec->method, COORD_METHOD_GRID);
    ASSERT(strcmp(spec->dataset, "fashion-mnist") == 0);
    coord_spec_destroy(&spec);

    spec = parse_example("asha.yaml");
    ASSERT_EQ(spec->method, COORD_METHOD_ASHA);
    ASSERT(strcmp(spec->dataset, "mnist") == 0);
    ASSERT(spec->max_trials > 0);
    ASSERT(spec->sh.n_rungs >= 2 && spec->resource_param == spec->n_params - 1);
    coord_spec_destroy(&spec);

    spec = parse_example("bayes.yaml");
    ASSERT_EQ(spec->method, COORD_METHOD_BAYES);
    ASSERT(strcmp(spec->dataset, "mnist") == 0);
    coord_spec_destroy(&spec);

    spec = parse_example("coordinate.yaml");
    ASSERT_EQ(spec->method, COORD_METHOD_COORDINATE);
    ASSERT(strcmp(spec->dataset, "mnist") == 0);
    coord_spec_destroy(&spec);
}

HPT_TEST(every_example)
{
    // Whatever else deploy/examples holds must parse too.
    const char *dir = getenv("SPEC_EXAMPLES_DIR");
    if (!dir)
        HPT_TEST_SKIP("SPEC_EXAMPLES_DIR is not set");
    DIR *d = opendir(dir);
    if (!d)
        HPT__FAIL("cannot open %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        coord_spec_t *spec = parse_example(e->d_name);
        fprintf(stderr, "  %s: method %s\n", e->d_name, coord_method_name(spec->method));
        coord_spec_destroy(&spec);
        n++;
    }
    closedir(d);
    ASSERT(n >= 6);
}

HPT_TEST_MAIN()
