/*
 * coord_aliases.h: the one table of names hptune reads for its own, so that
 * sweep configs written for W&B (or for a PyTorch or Keras script) are
 * understood as written: parameter names (lr -> learning_rate), value names
 * (ReLU -> relu, xavier -> glorot_uniform, momentum -> sgd with momentum),
 * metric words (val_acc -> accuracy), dataset names and distributions.
 *
 * Lookups fold case and read '-', '.', '/' and ' ' as '_', so "Learning-Rate"
 * finds learning_rate.  `hptune spec aliases` prints the table, and
 * docs/spec.md carries the same text (a test compares them).
 *
 * Plain data, no state: any thread.
 */
#ifndef COORD_ALIASES_H
#define COORD_ALIASES_H

#include <stdbool.h>
#include <stddef.h>

typedef enum coord_alias_kind {
    COORD_ALIAS_PARAM,        // a parameter name: target is hptune's parameter
    COORD_ALIAS_OPTIMIZER,    // a value of optimizer
    COORD_ALIAS_ACTIVATION,   // a value of activation
    COORD_ALIAS_INIT,         // a value of init_mode
    COORD_ALIAS_METRIC,       // a metric word (after any val_/train_ prefix): target is ours
    COORD_ALIAS_DATASET,      // a dataset name
    COORD_ALIAS_SETTING,      // a parameter naming a setting hptune fixes: target is hptune's
                              // value (a number, or the one accepted name)
    COORD_ALIAS_UNUSED,       // a parameter naming the script's plumbing: target says what
                              // hptune does instead; kept with a warning, not tuned
    COORD_ALIAS__COUNT
} coord_alias_kind_t;

typedef struct coord_alias {
    coord_alias_kind_t kind;
    const char *alias;        // as configs write it (compared folded)
    const char *target;       // hptune's name
    const char *note;         // what else the mapping means, or NULL
    double momentum;          // COORD_ALIAS_OPTIMIZER: the momentum this name implies when the
                              // trial does not set one (0 = none)
} coord_alias_t;

/* The entry of `kind` for `name` (folded comparison), or NULL.  Names that
 * are hptune's own are not in the table. */
const coord_alias_t *coord_alias_find(coord_alias_kind_t kind, const char *name);

/* Entries of one kind, in table order: *n receives the count. */
const coord_alias_t *coord_alias_list(coord_alias_kind_t kind, int *n);

/* Whether a and b are the same name, folded. */
bool coord_alias_same(const char *a, const char *b);

/* The whole table as `hptune spec aliases` prints it (and docs/spec.md
 * shows it): a section per kind, one "alias -> target  (note)" line per
 * entry.  Returns an owned string, NULL when out of memory. */
char *coord_aliases_text(void);

#endif
