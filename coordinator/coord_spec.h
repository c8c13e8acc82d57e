/*
 * coord_spec.h: sweep specifications (YAML, JSON accepted), parsed with
 * libfyaml into a coord_spec_t.
 *
 * The format follows W&B sweep configs (see docs/spec.md):
 *
 *   name: seed-grid
 *   dataset: mnist                  # mnist | fashion-mnist | idx:/dir
 *   metric: {name: accuracy, goal: maximize}
 *   method: grid                    # grid | random | bayes | coordinate | hyperband | asha
 *   cv: {folds: 5, stratified: true, shuffle: true, seed: 42, repeats: 1, seeds: 1}
 *   refit: true
 *   seed: 1                         # seeds random search and the trials' seeds
 *   priority: 0                     # higher runs first; FIFO among equals
 *   score_train: false              # also score the training folds
 *   parameters:
 *     batch_size: {values: [32, 64, 512]}
 *     optimizer:  {value: adam}
 *     learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}
 *     units_2: {values: [16, 32], when: {layers: {min: 2}}}   # conditional
 *   budget: {max_trials: 60, max_parallel: 0}
 *   tpe: {n_startup: 10, n_candidates: 96, gamma: 0.1,       # method: bayes
 *         multivariate: true, startup: stratified, equal_heights: false}
 *   coordinate: {rounds: 1}                                   # method: coordinate
 *   asha: {min_epochs: 1, max_epochs: 27, eta: 3}             # method: asha
 *   hyperband: {min_epochs: 1, max_epochs: 27, eta: 3, iterations: 1}  # method: hyperband
 *   alpha: 0.05                     # significance level of the comparisons with the best
 *   test_objective: bowl            # test only: what --dry-run workers score (worker/)
 *   enqueue: [{batch_size: 64, optimizer: adam}]             # tried first, in order
 *
 * W&B sweep configs are read as written (docs/spec.md, "W&B sweep configs"):
 * run_cap, early_terminate, metric names such as val_acc, the run plumbing,
 * parameter and value aliases (coord_aliases.h), W&B's distributions.
 *
 * Every problem is reported at once (coord_spec_parse_all), each naming
 * path:line:column and the field, and listing the allowed values where there
 * is a list.  Parameters are the hyperparameters of
 * hpt_hparams_t (layers, units, units_1..units_8, activation, init_mode,
 * optimizer, learning_rate, momentum, nesterov, dropout, input_dropout,
 * weight_constraint, weight_decay, batch_size, epochs, seed).
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
#define COORD_SPEC_MAX_DEPTH 32         // mappings and sequences nested in a spec
#define COORD_SPEC_MAX_WHEN 4           // conditions (ANDed) in one parameter's when:
#define COORD_SPEC_MAX_ENQUEUE 10000    // entries in enqueue:
/* The most memory one task's model may need (coord_spec_check_model): no
 * worker is allowed to train a larger one.  8 layers of 4096 units at batch
 * 512 need 2 GiB; 8 of 16384, 30 GiB; 2 of 65536, 69 GiB. */
#define COORD_SPEC_MAX_MODEL_BYTES (64ull << 30)
#define COORD_SPEC_DEFAULT_TRIALS 100   // budget of random, bayes and asha when neither
                                        // budget.max_trials nor W&B's run_cap is given

typedef enum coord_method {
    COORD_METHOD_GRID,
    COORD_METHOD_RANDOM,
    COORD_METHOD_BAYES,        // TPE (search/tpe.c)
    COORD_METHOD_COORDINATE,   // one parameter at a time (search/coordinate.c)
    COORD_METHOD_HYPERBAND,    // Li et al. 2018 (search/hyperband.c)
    COORD_METHOD_ASHA,         // asynchronous successive halving (search/asha.c)
    COORD_METHOD__COUNT
} coord_method_t;

/* What kind of value a hyperparameter takes. */
typedef enum coord_pkind {
    COORD_PKIND_INT,     // layers, units, units_N, batch_size, epochs, seed
    COORD_PKIND_FLOAT,   // learning_rate, momentum, dropout, input_dropout, weight_constraint,
                         // weight_decay
    COORD_PKIND_ENUM,    // activation, init_mode, optimizer (text values)
    COORD_PKIND_BOOL,    // nesterov
    COORD_PKIND_ARCH,    // hidden_sizes: a list of 1..8 layer widths; a value's num is its
                         // index in the parameter's values (coord_param_t.arch)
} coord_pkind_t;

typedef enum coord_pdist {
    COORD_PDIST_VALUE,               // value: x (a constant)
    COORD_PDIST_VALUES,              // values: [...] (grid axis; uniform choice for random)
    COORD_PDIST_CATEGORICAL,         // distribution: categorical, values, probabilities
    COORD_PDIST_UNIFORM,             // distribution: uniform, min, max
    COORD_PDIST_LOG_UNIFORM_VALUES,  // distribution: log_uniform_values, min > 0, max
    COORD_PDIST_INT_UNIFORM,         // distribution: int_uniform, min, max (inclusive)
    COORD_PDIST_Q_UNIFORM,           // distribution: q_uniform, min, max, q: round(U/q)*q
    COORD_PDIST_Q_LOG_UNIFORM_VALUES,  // q_log_uniform_values: round(exp(U(ln min, ln max))/q)*q
    COORD_PDIST_NORMAL,              // normal (q_normal when q > 0): N(mu, sigma), kept in
                                     // [min, max], the parameter's range
    COORD_PDIST_LOG_NORMAL,          // log_normal (q_log_normal when q > 0): exp(N(mu, sigma)),
                                     // kept in [min, max]
} coord_pdist_t;

/* One value of a parameter.  Numbers (ints included) live in num; enum
 * values in str (validated against the parameter's names; an alias that
 * implies more, such as optimizer momentum, keeps its own name there, and
 * num holds the enum it stands for); bools in num as 0/1; an architecture's
 * num is its index in the parameter's values.  absent marks a conditional
 * parameter whose when: does not hold for this trial: it takes no value
 * (coord_spec_apply skips it, so the hyperparameter keeps spec->base's
 * value, and coord_pval_format prints ""); num and str are then zero.  A
 * `null` written in values is str "null" (num 0): applied, it leaves the
 * hyperparameter at its default (coord_pval_is_null). */
typedef struct coord_pval {
    double num;
    char str[32];
    bool absent;
} coord_pval_t;

/* One condition of a parameter's when: the parameter applies only when
 * parameter `param` (an index into spec->params, always smaller than the
 * conditional parameter's own index) is present and its value is in values
 * (a list) or within [min, max] (a range; numeric parameters only). */
typedef struct coord_when {
    int param;                   // index of the parameter the condition reads
    bool is_range;               // range form {min: X, max: Y} rather than a list
    int n_values;                // list form: entries in values
    coord_pval_t *values;        // list form: owned
    double min, max;             // range form: inclusive; -inf / +inf when not given
    int line, col;               // where it was written, for messages
} coord_when_t;

typedef struct coord_param {
    char name[32];               // the hyperparameter, e.g. "batch_size"
    char written[48];            // the name as the spec wrote it when an alias ("lr"), else ""
    char form[32];               // the distribution as written when it was translated
                                 // ("log_uniform", "inv_log_uniform_values"; "" otherwise)
    coord_pkind_t kind;
    coord_pdist_t dist;
    int n_values;                // VALUE (1), VALUES, CATEGORICAL
    coord_pval_t *values;        // owned, n_values entries
    double *probs;               // CATEGORICAL: owned, n_values entries summing to 1
    int *arch;                   // ARCH: owned, n_values rows of 1 + HPT_MAX_LAYERS ints: the
                                 // layer count, then each layer's units
    double min, max, q;          // the numeric distributions: [min, max] holds every draw
                                 // (for NORMAL and LOG_NORMAL the parameter's range); q > 0
                                 // rounds draws to multiples of q (integer parameters: 1 at
                                 // least, so every draw is an integer)
    double mu, sigma;            // NORMAL, LOG_NORMAL (of the logarithm)
    int line, col;               // where it was declared, for messages
    bool has_start;              // start: given
    coord_pval_t start;          // start: where coordinate search and enqueue defaults begin
    int start_index;             // VALUES, CATEGORICAL: index of the start value (0 by default)
    int n_when;                  // 0 = unconditional; else all conditions must hold
    coord_when_t when[COORD_SPEC_MAX_WHEN];
} coord_param_t;

/* TPE settings (tpe:, method bayes); defaults are Optuna 3.1's. */
typedef struct coord_tpe_cfg {
    int n_startup;               // random trials before TPE, default 10
    int n_candidates;            // candidates drawn from l(x) (per parameter when modelled
                                 // alone), default 96
    double gamma;                // fraction of trials in l(x): min(ceil(gamma n), 25), 0.1
    double prior_weight;         // weight of the prior kernel, default 1.0
    bool constant_liar;          // pending trials count as the worst score, default true
    bool multivariate;           // model the unconditional parameters jointly (Optuna's
                                 // multivariate=True), default true
    bool stratified;             // startup: stratified (a Latin hypercube over the start-up
                                 // trials), default; false = random (independent draws)
    bool equal_heights;          // kernels of continuous parameters peak at the same height
                                 // (Optuna 3.1's log_pdf); default false: normalized
                                 // densities
} coord_tpe_cfg_t;

/* Optuna 3.1's TPESampler defaults (n_startup_trials 10, gamma(n) =
 * min(ceil(0.1 n), 25), prior_weight 1.0), with the constant liar on
 * because hptune always runs trials in parallel, and departures that
 * measured better on bench/search_tpe.sh (bench/README.md): the
 * multivariate model with 96 candidates instead of 24, normalized kernel
 * densities (Optuna 3.1's log_pdf gives every kernel the same height), and
 * a stratified start (neutral there; it covers every stratum). */
#define COORD_TPE_CFG_DEFAULT                                                    \
    ((coord_tpe_cfg_t){.n_startup = 10, .n_candidates = 96, .gamma = 0.1,        \
                       .prior_weight = 1.0, .constant_liar = true,               \
                       .multivariate = true, .stratified = true,                 \
                       .equal_heights = false})

#define COORD_SH_MAX_RUNGS 16

/* Successive-halving settings (asha:, hyperband:): epochs are the budget.
 * The parser derives the rungs: K = the largest k with min_epochs * eta^k <=
 * max_epochs, and rung k (0..K) trains round(max_epochs / eta^(K - k))
 * epochs, so the top rung is max_epochs.  E.g. 1, 27, 3 -> 1, 3, 9, 27. */
typedef struct coord_sh_cfg {
    int min_epochs;              // default 1, 1..10000
    int max_epochs;              // default 27, min_epochs..10000
    int eta;                     // reduction factor, default 3, 2..100
    int iterations;              // hyperband: runs of the whole set of brackets, default 1
    int n_rungs;                 // derived: K + 1, 1..COORD_SH_MAX_RUNGS
    int rung_epochs[COORD_SH_MAX_RUNGS];  // derived, strictly increasing
} coord_sh_cfg_t;

/* Racing the leaders after the search (select:, docs/spec.md "select"): the
 * top trials that cannot be told apart from the best get new CV repeats,
 * round by round, until one is significantly better than every other, the
 * budget is spent or max_repeats rounds have run (coordinator/core/race.c). */
typedef struct coord_race_cfg {
    bool on;                     // select.race, default false
    int top;                     // select.top: leaders at most, default 5, 2..COORD_RACE_MAX_TOP
    int max_repeats;             // select.max_repeats: rounds at most, default 5, 1..100
    long budget_tasks;           // select.budget_tasks: extra tasks at most, 0 (the default)
                                 // = 30 % of the search's tasks
    bool tie_best_mean;          // select.tie_break: best_mean (default cheapest: fewest
                                 // parameters x epochs)
} coord_race_cfg_t;

#define COORD_RACE_MAX_TOP 32

#define COORD_RACE_CFG_DEFAULT ((coord_race_cfg_t){.top = 5, .max_repeats = 5})

typedef struct coord_spec {
    char path[512];              // file name given to the parser, for messages
    char name[128];              // name:, default "sweep"
    char dataset[1024];          // dataset:, default "mnist"
    int dataset_line, dataset_col;   // where its value is (1-based), for the shell's messages
    hpt_metric_t metric;         // metric.name, default accuracy
    bool maximize;               // metric.goal, default per metric
    bool objective_train;        // metric.name train_*: trials are ranked by their training
                                 // score (score_train is then on), not the held-out fold's
    bool has_target;             // metric.target given: no new trial starts once a trial's
    double target;               // score reaches target (W&B's meaning)
    coord_method_t method;       // method:, required
    hpt_cv_spec_t cv;            // cv:, defaults folds 5, stratified, shuffle, seed 42, repeats 1
    int seeds;                   // cv.seeds, default 1, 1..100: each split is trained `seeds`
                                 // times with different seeds; its score is their mean
    bool refit;                  // refit:, default true
    bool score_train;            // score_train:, default false
    int priority;                // priority:, default 0, range -1000..1000
    uint64_t seed;               // seed:, default 0
    bool seed_per_trial;         // model_seed: per_trial (default shared: split i of every
                                 // trial trains from the same model seed, so trials that
                                 // differ only in epochs continue one another's models)
    int max_trials;              // budget.max_trials; required for random; 0 = unlimited (grid)
    int max_parallel;            // budget.max_parallel; 0 = no limit
    int n_params;
    coord_param_t params[COORD_SPEC_MAX_PARAMS];  // in spec order
    hpt_hparams_t base;          // defaults with every unconditional constant applied
    coord_tpe_cfg_t tpe;         // tpe:, method bayes only
    int rounds;                  // coordinate.rounds, default 1, method coordinate only
    coord_sh_cfg_t sh;           // asha: / hyperband:, those methods only
    int resource_param;          // hyperband, asha: index of the `epochs` parameter the parser
                                 // appends (values = the rung epochs; the strategy sets it per
                                 // trial); -1 for the other methods
    double alpha;                // alpha:, default 0.05, in (0, 0.5]
    char test_objective[32];     // test_objective:, "" = none (what --dry-run workers score)
    coord_race_cfg_t race;       // select:
    int n_enqueue;               // entries in enqueue:
    coord_pval_t *enqueue;       // owned, n_enqueue rows of n_params values (row-major),
                                 // defaults filled in and inactive parameters absent
} coord_spec_t;

// ----------------------------------------------------------------------------
// Diagnostics

#define COORD_SPEC_KEEP_ERRORS 50      // errors kept per parse; the others are only counted

typedef enum coord_diag_level {
    COORD_DIAG_ERROR,            // the spec is invalid
    COORD_DIAG_WARNING,          // valid, but something may not be what was meant
    COORD_DIAG_NOTE,             // how a name or form was read (lr as learning_rate): shown by
                                 // `hptune check`, not by launch
} coord_diag_level_t;

/* One problem (error) or remark (warning) about a spec. */
typedef struct coord_diag {
    coord_diag_level_t level;
    int line, col;               // 1-based position the text names
    char *text;                  // owned, one line, never truncated: errors read
                                 // "path:line:col: field: problem (allowed: ...)", warnings
                                 // "path:line:col: warning: field: remark", notes
                                 // "path:line:col: note: field: remark"
} coord_diag_t;

/* Everything a parse found, in file order (line, then column). */
typedef struct coord_diags {
    int n, cap;
    coord_diag_t *v;             // owned, n entries
    int n_errors;                // errors found; more than those kept in v when above
                                 // COORD_SPEC_KEEP_ERRORS
    int n_warnings;
    int n_notes;
    bool oom;                    // the parse ran out of memory (rc -ENOMEM)
} coord_diags_t;

/* Parse spec text (borrowed, len bytes, need not be NUL-terminated); `path`
 * (borrowed) names it in messages.  Every problem is reported, not only the
 * first: *diags (filled, owned by the caller: coord_diags_free) receives the
 * errors and warnings in file order.  *out returns owned, NULL unless 0 is
 * returned.  Returns 0 (warnings possible), -EINVAL (at least one error) or
 * -ENOMEM. */
int coord_spec_parse_all(const char *text, size_t len, const char *path, coord_spec_t **out,
                         coord_diags_t *diags);

/* coord_spec_parse_all reporting only the first error in file order, into
 * err (whose message is cut at HPT_ERR_MSG_LEN; what users read comes from
 * coord_spec_parse_all).  Warnings are dropped. */
int coord_spec_parse(const char *text, size_t len, const char *path, coord_spec_t **out,
                     hpt_err *err);

/* Free d's entries; d itself is the caller's.  Accepts NULL. */
void coord_diags_free(coord_diags_t *d);

/* The texts of d's diagnostics of one level, one per line (no final
 * newline), in file order; for errors, a last line "(and N more errors not
 * shown)" when some were not kept.  Returns an owned string ("" when there
 * are none), NULL when out of memory. */
char *coord_diags_text(const coord_diags_t *d, coord_diag_level_t level);

/* Free; accepts NULL and sets *p = NULL. */
void coord_spec_destroy(coord_spec_t **p);

/* Build a trial's hyperparameters: spec->base with vals[i] (one per
 * spec->params[i], borrowed) applied in order; absent values are skipped.
 * Returns 0, or -EINVAL when the combination is invalid (err says which
 * field).  The caller sets seed. */
int coord_spec_apply(const coord_spec_t *spec, const coord_pval_t *vals, hpt_hparams_t *hp,
                     hpt_err *err);

/* Whether parameter i applies given the values of the parameters before it
 * (vals[0..i), borrowed; later entries are not read): true when it has no
 * when:, else when every condition holds (a condition on an absent
 * parameter does not).  Strategies fill vals in spec order and mark
 * parameter i absent when this is false. */
bool coord_spec_active(const coord_spec_t *spec, int i, const coord_pval_t *vals);

/* Distinct combinations a grid over spec enumerates: the product of the
 * parameters' value counts, except that a parameter whose when: does not
 * hold contributes only "absent".  Returns cap + 1 when larger than cap, -1
 * when a parameter is not enumerable (a distribution). */
long coord_spec_grid_size(const coord_spec_t *spec, long cap);

/* Whether two values of parameter p are the same (absent equals absent,
 * null equals null). */
bool coord_pval_equal(const coord_param_t *p, const coord_pval_t *a, const coord_pval_t *b);

/* Whether v is a `null` written in a parameter's values. */
bool coord_pval_is_null(const coord_pval_t *v);

/* Format value v of parameter p for display ("32", "0.001", "adam", "true",
 * "[128,64]" for an architecture, "null", and "" when absent) into buf (size
 * len); returns buf. */
const char *coord_pval_format(const coord_param_t *p, const coord_pval_t *v, char *buf,
                              size_t len);

/* Refuse a spec whose largest model could not fit any plausible worker: the
 * model (hpt_train_model_bytes: parameters, gradients, two optimizer slots,
 * activations) of the spec's largest layers, units and batch_size, taken
 * together, must need at most COORD_SPEC_MAX_MODEL_BYTES.  Checked at
 * submission (coord_core_submit), not when a journaled sweep is resumed.
 * spec borrowed.  Returns 0, or -EINVAL with err "path:line:col:
 * parameters.units: the largest model ... needs about N GiB ...", pointing
 * at the parameter with the most units (else layers or batch_size). */
int coord_spec_check_model(const coord_spec_t *spec, hpt_err *err);

/* "grid" etc.; the method names for messages. */
const char *coord_method_name(coord_method_t m);

/* "value", "values", "categorical", "uniform", ...: a form's name as a spec
 * writes it ("?" when out of range). */
const char *coord_pdist_name(coord_pdist_t d);

#endif
