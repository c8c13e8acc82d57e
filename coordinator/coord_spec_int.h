/*
 * coord_spec_int.h: internals shared by the spec parser's two files,
 * coord_spec.c (YAML tree, hptune's own format) and coord_spec_wandb.c (the
 * W&B sweep-config keys and forms it also understands).  Not for any other
 * file: the coordinator and the tests use coord_spec.h.
 *
 * The parser reads a tree of ynode_t built from libfyaml's events, each node
 * with its 1-based line:column, and reports every problem through fail()
 * (coord__spec_fail here) into a coord_diags_t.  pstate_t records what has
 * failed so that later checks skip what would only echo it.
 */
#ifndef COORD_SPEC_INT_H
#define COORD_SPEC_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "coord_spec.h"

typedef enum ytype { Y_SCALAR, Y_MAP, Y_SEQ, Y_ALIAS } ytype_t;

typedef struct ynode ynode_t;
struct ynode {
    ytype_t type;
    int line, col;          // 1-based position of the node's first character
    bool quoted;            // scalar written quoted or as a block
    char *text;             // scalar text or alias name, NUL-terminated, owned
    size_t len;             // bytes in text (may include NULs from "\0" escapes)
    ynode_t **kids;         // MAP: key, value, key, value, ...; SEQ: items; owned array
    int n, cap;             // entries used / allocated in kids
    ynode_t *next_alloc;    // all nodes of a tree form one list, freed without recursion
};

typedef struct ytree {
    ynode_t *root;          // NULL for an empty stream
    ynode_t *all;           // allocation list
} ytree_t;

/* What has failed (or been read) so far: a check that reads a failed part
 * is skipped rather than adding an error that only echoes the first. */
typedef struct pstate {
    bool param_bad[COORD_SPEC_MAX_PARAMS];  // spec->params[i] had an error
    bool params_bad;        // parameters: had an error (any)
    bool method_bad;        // method: is missing or not understood
    bool budget_bad;        // budget: had an error
    bool metric_bad;        // metric: had an error
    // --- W&B keys, read by coord_spec_wandb.c and checked after the rest
    const ynode_t *run_cap;          // run_cap's value node, when given
    int run_cap_value;               // its value when valid, else 0
    const ynode_t *early_terminate;  // early_terminate's value node, when given
    const ynode_t *metric_name;      // metric.name's value node, when given
    bool metric_wandb;               // metric.name was written in a W&B form (val_acc, Loss)
    bool goal_given;                 // metric.goal was given
    const ynode_t *dataset_param;    // a parameter named dataset (W&B scripts take one)
    bool sh_fixed;                   // early_terminate set spec->sh's rungs itself
    bool et_grid;                    // early_terminate turned a grid into asha: its
                                     // combinations become the enqueued configurations
} pstate_t;

/* Parse context: where messages go. */
typedef struct pctx {
    const char *path;       // file name for messages, borrowed
    coord_diags_t *diags;   // errors and warnings are appended here, borrowed
    const ynode_t *top;     // the top-level mapping, where "missing key" errors point
    pstate_t *st;           // what failed so far, borrowed
} pctx_t;

// ----------------------------------------------------------------------------
// coord_spec.c's helpers, for coord_spec_wandb.c

/* Report at line:col: an error (returns -EINVAL, or -ENOMEM), a warning or a
 * note (return 0, or -ENOMEM).  Messages are never cut. */
int coord__spec_fail(const pctx_t *c, int line, int col, const char *field, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
int coord__spec_warn(const pctx_t *c, int line, int col, const char *field, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
int coord__spec_note(const pctx_t *c, int line, int col, const char *field, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));

#define SPEC_LINE(c, n) ((n) ? (n)->line : ((c)->top ? (c)->top->line : 1))
#define SPEC_COL(c, n) ((n) ? (n)->col : ((c)->top ? (c)->top->col : 1))

/* Scalar readers, as coord_spec.c's: each reports its own error. */
bool coord__spec_is_null(const ynode_t *n);
const char *coord__spec_describe(const ynode_t *n, char *buf, size_t size);
int coord__spec_get_int(const pctx_t *c, const ynode_t *n, const char *field, long long lo,
                        long long hi, long long *out);
int coord__spec_get_num(const pctx_t *c, const ynode_t *n, const char *field, double *out);
int coord__spec_get_bool(const pctx_t *c, const ynode_t *n, const char *field, bool *out);
/* "; did you mean X?" for a near miss of n's text among cands, else "". */
const char *coord__spec_did_you_mean(const ynode_t *n, const char *const *cands, int count,
                                     char *buf, size_t size);
/* dataset: as hptune reads it (names, idx:DIR), into spec->dataset. */
int coord__spec_parse_dataset(const pctx_t *c, const ynode_t *n, coord_spec_t *spec);
/* At most 40 bytes of n's text, control characters replaced, for messages. */
const char *coord__spec_shown(const ynode_t *n, char *buf, size_t size);
/* hptune's name for a parameter name as specs write it (any case, or an
 * alias), or NULL. */
const char *coord__spec_canonical(const char *name);
/* Append the `epochs` parameter asha and hyperband set per trial (the rung
 * epochs of spec->sh), declared at node `at`. */
int coord__spec_add_resource_param(const pctx_t *c, const ynode_t *at, coord_spec_t *spec);

// ----------------------------------------------------------------------------
// coord_spec_wandb.c: W&B sweep configs

/* The top-level W&B keys hptune reads besides its own (coord_spec.c's
 * top_keys lists their names after its own, in this order). */
enum {
    W_RUN_CAP, W_EARLY_TERMINATE, W_DESCRIPTION, W_PROGRAM, W_COMMAND, W_PROJECT, W_ENTITY,
    W_JOB, W_IMAGE_URI, W_CONTROLLER, W_API_VERSION, W_KIND, W_SCHEDULER, W_METRICS,
    W__COUNT
};

/* Read one W&B top-level key (index w, key node key, value node v).
 * run_cap and early_terminate are remembered in c->st for later; the run's
 * plumbing (program, command, ...) is only checked to be there. */
int coord__wandb_top_key(const pctx_t *c, int w, const ynode_t *key, const ynode_t *v,
                         coord_spec_t *spec);

/* After the top-level keys: one warning naming every plumbing key given
 * (keys[w] is the key node of W&B key w, or NULL). */
int coord__wandb_plumbing(const pctx_t *c, const ynode_t *const *keys);

/* metric.name in any form W&B configs use: ours, a word of the alias table,
 * with a val_/train_ prefix, in any case.  Sets spec->metric and
 * spec->objective_train, or reports what maps. */
int coord__wandb_metric_name(const pctx_t *c, const ynode_t *v, coord_spec_t *spec);

/* The dataset named by node v as hptune names it when v is an alias
 * (fashion_mnist), else NULL (the caller reads v as it is). */
const char *coord__wandb_dataset(const ynode_t *v);

/* A parameter hptune reads but does not tune (dataset, loss, the optimizer
 * constants beta1, beta2, epsilon): *handled is set when `name` is one, and
 * its checks are returned.  k is the key, v the parameter's mapping. */
int coord__wandb_param(const pctx_t *c, const ynode_t *k, const char *name,
                       const char *written, const ynode_t *v, coord_spec_t *spec,
                       int *handled);

/* With no dataset key: the dataset a parameter named, else mnist (with a
 * warning).  dataset_key is the key node or NULL. */
int coord__wandb_dataset_default(const pctx_t *c, const ynode_t *dataset_key,
                                 coord_spec_t *spec);

/* early_terminate (remembered in c->st): W&B's hyperband early stopping,
 * run as asha with W&B's bands as rungs.  Changes spec->method, sets
 * spec->sh (c->st->sh_fixed), takes the epochs parameter as the top rung
 * and, from a grid, sets c->st->et_grid.  method_key: the method key node. */
int coord__wandb_early_terminate(const pctx_t *c, const ynode_t *method_key,
                                 coord_spec_t *spec);

/* Once the method is settled: run_cap against budget.max_trials, the
 * default budget, score_train for a train_* metric, metric.target and a
 * goal left to W&B's default.  method_node, budget_node: value nodes or
 * NULL. */
int coord__wandb_finish(const pctx_t *c, const ynode_t *method_node,
                        const ynode_t *budget_node, coord_spec_t *spec);

/* A grid turned into asha by early_terminate: every grid combination
 * becomes an enqueued configuration, after any the spec enqueues (whose
 * node is enqueue_key, or NULL), and the budget is their count. */
int coord__wandb_grid_rows(const pctx_t *c, const ynode_t *enqueue_key, coord_spec_t *spec);

#endif
