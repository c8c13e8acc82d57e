/*
 * coord_spec.h: sweep specifications (YAML, JSON accepted), parsed with
 * libfyaml into a coord_spec_t.
 *
 * The format follows W&B sweep configs (see docs/spec.md):
 *
 *   name: seed-grid
 *   dataset: mnist                  # mnist | fashion-mnist | idx:/dir
 *   metric: {name: accuracy, goal: maximize}
 *   method: grid                    # grid | random
 *   cv: {folds: 5, stratified: true, shuffle: true, seed: 42, repeats: 1}
 *   refit: true
 *   seed: 1                         # seeds random search and the trials' seeds
 *   priority: 0                     # higher runs first; FIFO among equals
 *   score_train: false              # also score the training folds
 *   parameters:
 *     batch_size: {values: [32, 64, 512]}
 *     optimizer:  {value: adam}
 *     learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}
 *   budget: {max_trials: 60, max_parallel: 0}
 *
 * Every error names path:line:column and the field, and lists the allowed
 * values where there is a list.  Parameters are the hyperparameters of
 * hpt_hparams_t (layers, units, units_1..units_8, activation, init_mode,
 * optimizer, learning_rate, momentum, nesterov, dropout, input_dropout,
 * weight_constraint, batch_size, epochs, seed).
 */
#ifndef COORD_SPEC_H
#define COORD_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cv.h"
#include "err.h"
#include "params.h"

#define COORD_SPEC_MAX_PARAMS 32
#define COORD_SPEC_MAX_VALUES 1024
#define COORD_SPEC_MAX_GRID 10000000L  // grid search: most combinations a spec may have

typedef enum coord_method {
    COORD_METHOD_GRID,
    COORD_METHOD_RANDOM,
    COORD_METHOD__COUNT
} coord_method_t;

/* What kind of value a hyperparameter takes. */
typedef enum coord_pkind {
    COORD_PKIND_INT,     // layers, units, units_N, batch_size, epochs, seed
    COORD_PKIND_FLOAT,   // learning_rate, momentum, dropout, input_dropout, weight_constraint
    COORD_PKIND_ENUM,    // activation, init_mode, optimizer (text values)
    COORD_PKIND_BOOL,    // nesterov
} coord_pkind_t;

typedef enum coord_pdist {
    COORD_PDIST_VALUE,               // value: x (a constant)
    COORD_PDIST_VALUES,              // values: [...] (grid axis; uniform choice for random)
    COORD_PDIST_CATEGORICAL,         // distribution: categorical, values, probabilities
    COORD_PDIST_UNIFORM,             // distribution: uniform, min, max
    COORD_PDIST_LOG_UNIFORM_VALUES,  // distribution: log_uniform_values, min > 0, max
    COORD_PDIST_INT_UNIFORM,         // distribution: int_uniform, min, max (inclusive)
    COORD_PDIST_Q_UNIFORM,           // distribution: q_uniform, min, max, q: round(U/q)*q
} coord_pdist_t;

/* One value of a parameter.  Numbers (ints included) live in num; enum
 * values in str (validated against the parameter's names); bools in num as
 * 0/1. */
typedef struct coord_pval {
    double num;
    char str[32];
} coord_pval_t;

typedef struct coord_param {
    char name[32];               // the hyperparameter, e.g. "batch_size"
    coord_pkind_t kind;
    coord_pdist_t dist;
    int n_values;                // VALUE (1), VALUES, CATEGORICAL
    coord_pval_t *values;        // owned, n_values entries
    double *probs;               // CATEGORICAL: owned, n_values entries summing to 1
    double min, max, q;          // UNIFORM, LOG_UNIFORM_VALUES, INT_UNIFORM, Q_UNIFORM
    int line, col;               // where it was declared, for messages
} coord_param_t;

typedef struct coord_spec {
    char path[512];              // file name given to the parser, for messages
    char name[128];              // name:, default "sweep"
    char dataset[1024];          // dataset:, required
    hpt_metric_t metric;         // metric.name, default accuracy
    bool maximize;               // metric.goal, default per metric
    coord_method_t method;       // method:, required
    hpt_cv_spec_t cv;            // cv:, defaults folds 5, stratified, shuffle, seed 42, repeats 1
    bool refit;                  // refit:, default true
    bool score_train;            // score_train:, default false
    int priority;                // priority:, default 0, range -1000..1000
    uint64_t seed;               // seed:, default 0
    int max_trials;              // budget.max_trials; required for random; 0 = unlimited (grid)
    int max_parallel;            // budget.max_parallel; 0 = no limit
    int n_params;
    coord_param_t params[COORD_SPEC_MAX_PARAMS];  // in spec order
    hpt_hparams_t base;          // defaults with every constant (value:) parameter applied
} coord_spec_t;

/* Parse spec text (borrowed, len bytes, need not be NUL-terminated); `path`
 * (borrowed) names it in messages.  *out returns owned.  Errors: -EINVAL with
 * err "path:line:col: field: problem (allowed: ...)", -ENOMEM. */
int coord_spec_parse(const char *text, size_t len, const char *path, coord_spec_t **out,
                     hpt_err *err);

/* Free; accepts NULL and sets *p = NULL. */
void coord_spec_destroy(coord_spec_t **p);

/* Build a trial's hyperparameters: spec->base with vals[i] (one per
 * spec->params[i], borrowed) applied in order.  Returns 0, or -EINVAL when
 * the combination is invalid (err says which field).  The caller sets seed. */
int coord_spec_apply(const coord_spec_t *spec, const coord_pval_t *vals, hpt_hparams_t *hp,
                     hpt_err *err);

/* Format value v of parameter p for display ("32", "0.001", "adam", "true")
 * into buf (size len); returns buf. */
const char *coord_pval_format(const coord_param_t *p, const coord_pval_t *v, char *buf,
                              size_t len);

/* "grid" etc.; the method names for messages. */
const char *coord_method_name(coord_method_t m);

#endif
