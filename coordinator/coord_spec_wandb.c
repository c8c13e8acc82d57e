/*
 * coord_spec_wandb.c: the parts of a W&B sweep config that hptune's own
 * format lacks, read with W&B's meaning (docs/spec.md, "W&B sweep
 * configs"): run_cap, early_terminate (hyperband early stopping, run as
 * asha), metric names such as val_acc or train_loss, metric.target, the run
 * plumbing (program, command, project, entity, ...) that is kept but not
 * used, a dataset named by a parameter, the script settings hptune fixes
 * (loss, the optimizer constants), and the defaults W&B configs rely on (no
 * dataset, no budget).
 *
 * Everything here is called by coord_spec.c's parser (coord_spec_int.h) and
 * reports like it: every problem, with its position, once.  What W&B would
 * do that hptune cannot is a warning (the spec runs, differently, and says
 * how) or an error (it cannot run as meant); never silent.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_aliases.h"
#include "coord_spec_int.h"
#include "dataset.h"

#define FAIL_AT(c, n, field, ...)                                                            \
    coord__spec_fail((c), SPEC_LINE(c, n), SPEC_COL(c, n), (field), __VA_ARGS__)
#define WARN_AT(c, n, field, ...)                                                            \
    coord__spec_warn((c), SPEC_LINE(c, n), SPEC_COL(c, n), (field), __VA_ARGS__)
#define NOTE_AT(c, n, field, ...)                                                            \
    coord__spec_note((c), SPEC_LINE(c, n), SPEC_COL(c, n), (field), __VA_ARGS__)

/* First error of a run of independent checks; out of memory ends at once. */
#define KEEP(rc, expr)                                                                       \
    do {                                                                                     \
        int r_ = (expr);                                                                     \
        if (r_ == -ENOMEM)                                                                   \
            return r_;                                                                       \
        if (r_ < 0 && (rc) == 0)                                                             \
            (rc) = r_;                                                                       \
    } while (0)

static const char *const wandb_names[W__COUNT] = {
    [W_RUN_CAP] = "run_cap", [W_EARLY_TERMINATE] = "early_terminate",
    [W_DESCRIPTION] = "description", [W_PROGRAM] = "program", [W_COMMAND] = "command",
    [W_PROJECT] = "project", [W_ENTITY] = "entity", [W_JOB] = "job",
    [W_IMAGE_URI] = "image_uri", [W_CONTROLLER] = "controller",
    [W_API_VERSION] = "apiVersion", [W_KIND] = "kind", [W_SCHEDULER] = "scheduler",
    [W_METRICS] = "metrics",
};

static bool scalar_text(const ynode_t *n)
{
    return n && n->type == Y_SCALAR && !coord__spec_is_null(n) && !memchr(n->text, '\0', n->len);
}

// ----------------------------------------------------------------------------
// Top-level keys

int coord__wandb_top_key(const pctx_t *c, int w, const ynode_t *key, const ynode_t *v,
                         coord_spec_t *spec)
{
    char d[96];
    long long n;
    (void)spec;
    switch (w) {
    case W_RUN_CAP: {
        int rc = coord__spec_get_int(c, v, "run_cap", 1, 1000000, &n);
        c->st->run_cap = v;
        c->st->run_cap_value = rc ? 0 : (int)n;
        if (rc)
            c->st->budget_bad = true;
        return rc;
    }
    case W_EARLY_TERMINATE:
        if (!v || v->type != Y_MAP)
            return FAIL_AT(c, v, "early_terminate", "expected a mapping such as {type: "
                           "hyperband, min_iter: 3}, got %s", coord__spec_describe(v, d, sizeof d));
        c->st->early_terminate = v;
        return 0;
    case W_DESCRIPTION:
        if (!scalar_text(v))
            return FAIL_AT(c, v, "description", "expected a string, got %s",
                           coord__spec_describe(v, d, sizeof d));
        return 0;
    case W_SCHEDULER:
        return FAIL_AT(c, key, "scheduler", "W&B's custom schedulers (Optuna, Ax) are not "
                       "supported: hptune runs its own search; choose it with method (allowed: "
                       "grid, random, bayes, coordinate, hyperband, asha)");
    case W_METRICS:
        return FAIL_AT(c, key, "metrics", "several objectives at once (W&B's method custom) "
                       "are not supported: give one metric (metric: {name: val_accuracy})");
    default:
        /* The run's plumbing: how W&B would start the training script.  Any
         * value is kept (with the spec's text) and not used. */
        if (v && v->type == Y_ALIAS)
            return FAIL_AT(c, v, wandb_names[w], "aliases are not supported");
        return 0;
    }
}

int coord__wandb_plumbing(const pctx_t *c, const ynode_t *const *keys)
{
    static const int plumbing[] = {W_PROGRAM, W_COMMAND, W_PROJECT, W_ENTITY, W_JOB,
                                   W_IMAGE_URI, W_CONTROLLER, W_API_VERSION, W_KIND};
    char names[256];
    size_t off = 0;
    const ynode_t *first = NULL;
    names[0] = '\0';
    for (size_t i = 0; i < sizeof plumbing / sizeof plumbing[0]; i++) {
        const ynode_t *k = keys[plumbing[i]];
        if (!k)
            continue;
        if (!first || k->line < first->line || (k->line == first->line && k->col < first->col))
            first = k;
        off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", off ? ", " : "",
                                wandb_names[plumbing[i]]);
    }
    if (!first)
        return 0;
    return WARN_AT(c, first, names, "W&B's run settings are kept with the sweep but not used: "
                   "hptune's workers train hptune's MLP, not the program");
}

// ----------------------------------------------------------------------------
// metric

/* Fold a name as coord_alias_same compares: lower case, '-', '.', '/' and
 * ' ' as '_'. */
static void fold_into(const char *s, char *out, size_t size)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        else if (ch == '-' || ch == '.' || ch == '/' || ch == ' ')
            ch = '_';
        out[i] = ch;
    }
    out[i] = '\0';
}

int coord__wandb_metric_name(const pctx_t *c, const ynode_t *v, coord_spec_t *spec)
{
    static const char *const ours[] = {"accuracy", "log_loss", "f1_macro"};
    static const char *const held_out[] = {"validation_", "valid_", "val_", "eval_"};
    static const char *const train[] = {"training_", "train_"};
    char d[96], w[128], s[48];
    if (!scalar_text(v))
        return FAIL_AT(c, v, "metric.name", "expected a metric name, got %s",
                       coord__spec_describe(v, d, sizeof d));
    fold_into(v->text, w, sizeof w);
    /* Keras' WandbMetricsLogger logs epoch/val_accuracy, Lightning
     * val_loss_epoch: the epoch marks say when, not what. */
    char *word = w;
    if (strncmp(word, "epoch_", 6) == 0)
        word += 6;
    size_t wl = strlen(word);
    if (wl > 6 && strcmp(word + wl - 6, "_epoch") == 0)
        word[wl - 6] = '\0';
    bool is_train = false, is_test = false, prefixed = false;
    for (size_t i = 0; i < sizeof held_out / sizeof held_out[0] && !prefixed; i++)
        if (strncmp(word, held_out[i], strlen(held_out[i])) == 0) {
            word += strlen(held_out[i]);
            prefixed = true;
        }
    for (size_t i = 0; i < sizeof train / sizeof train[0] && !prefixed; i++)
        if (strncmp(word, train[i], strlen(train[i])) == 0) {
            word += strlen(train[i]);
            prefixed = is_train = true;
        }
    if (!prefixed && strncmp(word, "test_", 5) == 0) {
        word += 5;
        prefixed = is_test = true;
    }
    int m = -1;
    for (int i = 0; i < 3 && m < 0; i++)
        if (strcmp(word, ours[i]) == 0)
            m = i;
    const coord_alias_t *a = m < 0 ? coord_alias_find(COORD_ALIAS_METRIC, word) : NULL;
    if (a)
        m = hpt_metric_parse(a->target);
    if (m < 0) {
        const char *cands[64];
        int n = 0, na = 0;
        for (int i = 0; i < 3; i++)
            cands[n++] = ours[i];
        const coord_alias_t *al = coord_alias_list(COORD_ALIAS_METRIC, &na);
        for (int i = 0; i < na && n < 64; i++)
            cands[n++] = al[i].alias;
        ynode_t tmp = *v;
        tmp.text = word;
        tmp.len = strlen(word);
        char hint[96];
        coord__spec_did_you_mean(&tmp, cands, n, hint, sizeof hint);
        return FAIL_AT(c, v, "metric.name", "unknown metric %s%s (allowed: accuracy, log_loss, "
                       "f1_macro, or acc, loss, f1 and the other names of hptune spec aliases; "
                       "in any case; alone or after val_ for the held-out fold's score, after "
                       "train_ for the training score)", coord__spec_describe(v, d, sizeof d),
                       hint);
    }
    spec->metric = (hpt_metric_t)m;
    spec->objective_train = is_train;
    c->st->metric_wandb = strcmp(v->text, ours[m]) != 0;
    if (is_test)
        return WARN_AT(c, v, "metric.name", "'%s' read as %s, the held-out fold's score: hptune "
                       "scores its test split only when it refits the best trial, so trials are "
                       "ranked on the folds held out of their training, the test set's stand-in "
                       "while tuning", coord__spec_shown(v, s, sizeof s), ours[m]);
    if (c->st->metric_wandb)
        return NOTE_AT(c, v, "metric.name", "'%s' read as %s, the %s score",
                       coord__spec_shown(v, s, sizeof s), ours[m],
                       is_train ? "training" : "held-out fold's");
    return 0;
}

// ----------------------------------------------------------------------------
// datasets

const char *coord__wandb_dataset(const ynode_t *v)
{
    static const char *const names[] = {"mnist", "mnist-10k", "fashion-mnist"};
    if (!scalar_text(v) || strncmp(v->text, "idx:", 4) == 0)
        return NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (coord_alias_same(v->text, names[i]))
            return strcmp(v->text, names[i]) == 0 ? NULL : names[i];
    const coord_alias_t *a = coord_alias_find(COORD_ALIAS_DATASET, v->text);
    return a ? a->target : NULL;
}

/* The one value a parameter mapping gives (value: x, or values: [x]), or
 * NULL; *several is set when it gives more than one or a distribution. */
static const ynode_t *single_value(const ynode_t *m, bool *several)
{
    *several = false;
    if (!m || m->type != Y_MAP)
        return NULL;
    for (int i = 0; i + 1 < m->n; i += 2) {
        const ynode_t *k = m->kids[i], *v = m->kids[i + 1];
        if (k->type != Y_SCALAR)
            continue;
        if (strcmp(k->text, "value") == 0)
            return v;
        if (strcmp(k->text, "values") == 0 && v && v->type == Y_SEQ) {
            if (v->n == 1)
                return v->kids[0];
            *several = v->n > 1;
            return NULL;
        }
        if (strcmp(k->text, "distribution") == 0 || strcmp(k->text, "min") == 0)
            *several = true;
    }
    return NULL;
}

int coord__wandb_dataset_default(const pctx_t *c, const ynode_t *dataset_key,
                                 coord_spec_t *spec)
{
    const ynode_t *p = c->st->dataset_param;
    if (p) {
        bool several;
        const ynode_t *v = single_value(p, &several);
        if (!v)
            return FAIL_AT(c, p, "parameters.dataset", "%s: a sweep runs on one dataset; "
                           "give it as dataset: NAME at the top level",
                           several ? "several datasets" : "expected value: NAME");
        const char *alias = coord__wandb_dataset(v);
        ynode_t tmp = *v;
        if (alias) {
            tmp.text = (char *)alias;
            tmp.len = strlen(alias);
        }
        char before[sizeof spec->dataset];
        memcpy(before, spec->dataset, sizeof before);
        int rc = coord__spec_parse_dataset(c, &tmp, spec);
        if (rc)
            return rc;
        if (dataset_key && strcmp(before, spec->dataset) != 0)
            return FAIL_AT(c, v, "parameters.dataset", "names %s, but dataset: names %s; "
                           "give one", spec->dataset, before);
        return NOTE_AT(c, v, "parameters.dataset", "the sweep's dataset: %s", spec->dataset);
    }
    if (dataset_key)
        return 0;
    snprintf(spec->dataset, sizeof spec->dataset, "mnist");
    return WARN_AT(c, c->top, "dataset", "not given: the sweep runs on mnist, hptune's default; "
                   "set dataset: fashion-mnist (or idx:DIR) for another");
}

// ----------------------------------------------------------------------------
// Parameters hptune reads but does not tune

static bool is_cross_entropy(const char *s)
{
    static const char *const ce[] = {"cross_entropy", "crossentropy", "categorical_crossentropy",
                                     "sparse_categorical_crossentropy", "ce", "nll", "log_loss",
                                     "xent", "cross_entropy_loss", "nll_loss"};
    for (size_t i = 0; i < sizeof ce / sizeof ce[0]; i++)
        if (coord_alias_same(s, ce[i]))
            return true;
    return false;
}

int coord__wandb_param(const pctx_t *c, const ynode_t *k, const char *name,
                       const char *written, const ynode_t *v, coord_spec_t *spec,
                       int *handled)
{
    char f[160], s[48], d[96];
    (void)spec;
    *handled = 0;
    snprintf(f, sizeof f, "parameters.%s", written);
    if (coord_alias_same(name, "dataset") || coord_alias_same(name, "dataset_name")) {
        *handled = 1;
        if (c->st->dataset_param)
            return FAIL_AT(c, k, f, "the dataset is named twice");
        c->st->dataset_param = v;
        return 0;
    }
    const coord_alias_t *un = coord_alias_find(COORD_ALIAS_UNUSED, name);
    if (un) {
        bool several;
        *handled = 1;
        if (!single_value(v, &several) && several)
            return FAIL_AT(c, k, f, "the script's %s has no meaning for hptune (%s), so it "
                           "cannot be tuned", name, un->note ? un->note : un->target);
        return WARN_AT(c, k, f, "the script's %s is kept, not used: %s", name,
                       un->note ? un->note : un->target);
    }
    const coord_alias_t *fx = coord_alias_find(COORD_ALIAS_SETTING, name);
    if (!fx)
        return 0;
    *handled = 1;
    bool is_loss = strcmp(fx->target, "cross_entropy") == 0;
    double value = is_loss ? NAN : strtod(fx->target, NULL);
    bool several;
    const ynode_t *one = single_value(v, &several);
    if (!one && several)
        return FAIL_AT(c, k, f, "%s is fixed in hptune (%s) and cannot be tuned", name,
                       fx->target);
    if (!one)
        return FAIL_AT(c, v, f, "expected {value: X}, got %s", coord__spec_describe(v, d,
                                                                                   sizeof d));
    if (is_loss) {
        if (!scalar_text(one) || !is_cross_entropy(one->text))
            return FAIL_AT(c, one, f, "hptune trains with the cross-entropy loss only; %s is "
                           "not supported (allowed: cross_entropy, categorical_crossentropy, "
                           "nll)", coord__spec_describe(one, d, sizeof d));
        return NOTE_AT(c, one, f, "cross-entropy, which hptune always trains with");
    }
    double x;
    int rc = coord__spec_get_num(c, one, f, &x);
    if (rc)
        return rc;
    if (fabs(x - value) <= 1e-9 * fabs(value))
        return NOTE_AT(c, one, f, "%g, which hptune always uses", value);
    return WARN_AT(c, one, f, "%s is not used: hptune fixes %s at Keras' %g",
                   coord__spec_shown(one, s, sizeof s), name, value);
}

// ----------------------------------------------------------------------------
// early_terminate: W&B's hyperband early stopping, as asha

/* The largest value the epochs parameter p can take (its top rung). */
static int epochs_max(const coord_param_t *p)
{
    double m = 0;
    if (p->dist == COORD_PDIST_VALUE || p->dist == COORD_PDIST_VALUES ||
        p->dist == COORD_PDIST_CATEGORICAL) {
        for (int j = 0; j < p->n_values; j++)
            if (!coord_pval_is_null(&p->values[j]) && p->values[j].num > m)
                m = p->values[j].num;
    } else {
        m = floor(p->max);
    }
    return (int)m;
}

/* Remove parameter i (its memory, and every when: index above it). */
static void drop_param(coord_spec_t *spec, int i)
{
    coord_param_t *p = &spec->params[i];
    free(p->values);
    free(p->probs);
    free(p->arch);
    for (int k = 0; k < p->n_when; k++)
        free(p->when[k].values);
    memmove(spec->params + i, spec->params + i + 1,
            (size_t)(spec->n_params - i - 1) * sizeof *spec->params);
    spec->n_params--;
    for (int j = 0; j < spec->n_params; j++)
        for (int k = 0; k < spec->params[j].n_when; k++)
            if (spec->params[j].when[k].param > i)
                spec->params[j].when[k].param--;
}

int coord__wandb_early_terminate(const pctx_t *c, const ynode_t *method_key,
                                 coord_spec_t *spec)
{
    static const char *const keys_[] = {"type", "min_iter", "max_iter", "s", "eta", "strict"};
    enum { E_TYPE, E_MIN, E_MAX, E_S, E_ETA, E_STRICT, E__COUNT };
    const ynode_t *et = c->st->early_terminate, *kv[E__COUNT] = {0}, *kk[E__COUNT] = {0};
    char f[96], d[96], hint[96], s[48];
    int rc = 0;
    /* Keys. */
    for (int i = 0; i + 1 < et->n; i += 2) {
        const ynode_t *k = et->kids[i];
        int idx = -1;
        for (int j = 0; j < E__COUNT && k->type == Y_SCALAR; j++)
            if (strcmp(k->text, keys_[j]) == 0)
                idx = j;
        if (idx < 0) {
            snprintf(f, sizeof f, "early_terminate.%s",
                     k->type == Y_SCALAR ? coord__spec_shown(k, s, sizeof s) : "?");
            KEEP(rc, FAIL_AT(c, k, f, "unknown key%s (allowed: type, min_iter, max_iter, s, "
                             "eta, strict)", coord__spec_did_you_mean(k, keys_, E__COUNT, hint,
                                                                      sizeof hint)));
            continue;
        }
        if (kk[idx]) {
            snprintf(f, sizeof f, "early_terminate.%s", keys_[idx]);
            KEEP(rc, FAIL_AT(c, k, f, "duplicate key (first given at %d:%d)", kk[idx]->line,
                             kk[idx]->col));
            continue;
        }
        kk[idx] = k;
        kv[idx] = et->kids[i + 1];
    }
    const char *was = coord_method_name(spec->method);
    if (spec->method != COORD_METHOD_GRID && spec->method != COORD_METHOD_RANDOM &&
        spec->method != COORD_METHOD_BAYES)
        KEEP(rc, FAIL_AT(c, et, "early_terminate", "is W&B's early stopping for grid, random "
                         "and bayes; method %s %s", was,
                         spec->method == COORD_METHOD_COORDINATE
                             ? "compares whole trials: use method asha or hyperband to stop "
                               "trials early"
                             : "stops trials early itself: set its own block (asha: or "
                               "hyperband:)"));
    if (!kk[E_TYPE])
        KEEP(rc, FAIL_AT(c, et, "early_terminate", "needs type: hyperband"));
    else if (!scalar_text(kv[E_TYPE]) || strcmp(kv[E_TYPE]->text, "hyperband") != 0)
        KEEP(rc, FAIL_AT(c, kv[E_TYPE], "early_terminate.type", "unknown type %s (allowed: "
                         "hyperband)", coord__spec_describe(kv[E_TYPE], d, sizeof d)));
    long long min_iter = 0, max_iter = 0, sv = 0;
    double eta = 3;
    if (kk[E_MIN])
        KEEP(rc, coord__spec_get_int(c, kv[E_MIN], "early_terminate.min_iter", 1, 100000,
                                     &min_iter));
    if (kk[E_MAX])
        KEEP(rc, coord__spec_get_int(c, kv[E_MAX], "early_terminate.max_iter", 1, 100000,
                                     &max_iter));
    if (kk[E_S])
        KEEP(rc, coord__spec_get_int(c, kv[E_S], "early_terminate.s", 1, 100, &sv));
    if (kk[E_ETA]) {
        int r = coord__spec_get_num(c, kv[E_ETA], "early_terminate.eta", &eta);
        if (r == 0 && !(eta >= 2 && eta <= 100 && eta == floor(eta)))
            r = FAIL_AT(c, kv[E_ETA], "early_terminate.eta", "%s: asha needs a whole eta in "
                        "2..100 (W&B takes any number above 1)",
                        coord__spec_shown(kv[E_ETA], s, sizeof s));
        KEEP(rc, r);
    }
    if (kk[E_STRICT]) {
        bool strict;
        KEEP(rc, coord__spec_get_bool(c, kv[E_STRICT], "early_terminate.strict", &strict));
    }
    if (!kk[E_MIN] && !(kk[E_MAX] && kk[E_S]))
        KEEP(rc, FAIL_AT(c, et, "early_terminate", "needs min_iter, or max_iter and s (W&B's "
                         "two ways to set the bands)"));

    /* The trials' full length: the epochs parameter's largest value (W&B
     * trains each run that long unless it stops it), else max_iter, else
     * hptune's default. */
    int ep = -1;
    for (int i = 0; i < spec->n_params; i++)
        if (strcmp(spec->params[i].name, "epochs") == 0)
            ep = i;
    const coord_param_t *pe = ep >= 0 ? &spec->params[ep] : NULL;
    int top = pe ? epochs_max(pe) : max_iter > 0 ? (int)max_iter : HPT_HPARAMS_DEFAULT.epochs;
    if (kk[E_MIN] && !kk[E_MAX] && min_iter >= top)
        KEEP(rc, FAIL_AT(c, kv[E_MIN], "early_terminate.min_iter", "%lld is not below the "
                         "trials' %d epochs%s, so no trial would stop early", min_iter, top,
                         pe ? "" : " (hptune's default; give epochs)"));
    if (rc)
        return rc;
    /* The bands, as W&B computes them. */
    int bands[COORD_SH_MAX_RUNGS], nb = 0, e = (int)eta;
    if (kk[E_MAX]) {
        double b = (double)max_iter;
        for (long long i = 0; i < sv && nb < COORD_SH_MAX_RUNGS - 1; i++) {
            b /= e;
            if (b < 1)
                break;
            bands[nb++] = (int)b;
        }
        for (int i = 0; i < nb / 2; i++) {   // ascending
            int t = bands[i];
            bands[i] = bands[nb - 1 - i];
            bands[nb - 1 - i] = t;
        }
    } else {
        for (long long b = min_iter; b < top && nb < COORD_SH_MAX_RUNGS - 1; b *= e)
            bands[nb++] = (int)b;
    }
    /* Rungs: the distinct bands below the top, then the top. */
    coord_sh_cfg_t *sh = &spec->sh;
    int nr = 0;
    for (int i = 0; i < nb; i++)
        if (bands[i] >= 1 && bands[i] < top && (nr == 0 || bands[i] > sh->rung_epochs[nr - 1]))
            sh->rung_epochs[nr++] = bands[i];
    if (nr == 0)
        return FAIL_AT(c, et, "early_terminate", "no band lies below the trials' %d epochs%s, so "
                       "no trial would stop early (%s)", top,
                       pe ? "" : " (hptune's default; give epochs)",
                       kk[E_MAX] ? "max_iter / eta^i" : "min_iter is not below them");
    sh->rung_epochs[nr++] = top;
    sh->n_rungs = nr;
    sh->eta = e;
    sh->min_epochs = sh->rung_epochs[0];
    sh->max_epochs = top;
    sh->iterations = 1;

    /* The epochs parameter becomes the budget asha sets per trial. */
    char rungs[160];
    size_t off = 0;
    for (int i = 0; i < nr; i++)
        off += (size_t)snprintf(rungs + off, sizeof rungs - off, "%s%d", i ? ", " : "",
                                sh->rung_epochs[i]);
    if (pe) {
        for (int j = 0; j < spec->n_params; j++)
            for (int k = 0; k < spec->params[j].n_when; k++)
                if (spec->params[j].when[k].param == ep)
                    return FAIL_AT(c, et, "early_terminate", "%s's when: reads epochs, which "
                                   "early_terminate turns into the budget", spec->params[j].name);
        if (pe->dist != COORD_PDIST_VALUE)
            KEEP(rc, coord__spec_warn(c, pe->line, pe->col, "parameters.epochs",
                                      "early_terminate makes epochs the budget: every "
                                      "configuration trains up to %d epochs, the largest "
                                      "value (W&B would also run each smaller value as a run "
                                      "of its own)", top));
        drop_param(spec, ep);
    } else {
        KEEP(rc, WARN_AT(c, et, "early_terminate", "no epochs parameter: trials train up to %d "
                         "epochs (%s)", top, max_iter > 0 ? "max_iter" : "hptune's default"));
    }
    /* A grid's combinations must all be listed. */
    if (spec->method == COORD_METHOD_GRID)
        for (int i = 0; i < spec->n_params; i++) {
            const coord_param_t *p = &spec->params[i];
            if (p->dist != COORD_PDIST_VALUE && p->dist != COORD_PDIST_VALUES &&
                p->dist != COORD_PDIST_CATEGORICAL) {
                char pf[64];
                snprintf(pf, sizeof pf, "parameters.%s", p->name);
                KEEP(rc, coord__spec_fail(c, p->line, p->col, pf, "distribution %s cannot be "
                                          "enumerated by grid search; use values",
                                          coord_pdist_name(p->dist)));
            }
        }
    if (rc)
        return rc;
    c->st->et_grid = spec->method == COORD_METHOD_GRID;
    KEEP(rc, NOTE_AT(c, et, "early_terminate", "hyperband early stopping runs as asha over "
                     "epochs %s: a configuration goes on past a band only in the best 1/%d "
                     "there%s", rungs, e, kk[E_STRICT] ? " (strict is not used)" : ""));
    if (spec->method == COORD_METHOD_BAYES)
        KEEP(rc, WARN_AT(c, method_key, "method", "bayes with early_terminate runs as asha, "
                         "whose new configurations are drawn at random (hptune's TPE does not "
                         "stop trials early)"));
    spec->method = COORD_METHOD_ASHA;
    c->st->sh_fixed = true;
    return rc;
}

/* The grid's combinations in grid order (spec order, the last parameter
 * fastest; a parameter whose when: does not hold is absent), written as
 * rows of spec->params values from *row on, at most cap rows.  Returns the
 * number written, or -1 past cap. */
static long grid_rows(const coord_spec_t *spec, int i, coord_pval_t *cur, coord_pval_t *out,
                      long at, long cap)
{
    int np = spec->n_params;
    if (i == np) {
        if (at >= cap)
            return -1;
        memcpy(out + (size_t)at * (size_t)np, cur, (size_t)np * sizeof *cur);
        return 1;
    }
    const coord_param_t *p = &spec->params[i];
    if (i == spec->resource_param || !coord_spec_active(spec, i, cur)) {
        cur[i] = i == spec->resource_param ? p->values[0] : (coord_pval_t){.absent = true};
        return grid_rows(spec, i + 1, cur, out, at, cap);
    }
    long total = 0;
    for (int j = 0; j < p->n_values; j++) {
        cur[i] = p->values[j];
        long n = grid_rows(spec, i + 1, cur, out, at + total, cap);
        if (n < 0)
            return -1;
        total += n;
    }
    return total;
}

int coord__wandb_grid_rows(const pctx_t *c, const ynode_t *enqueue_key, coord_spec_t *spec)
{
    if (enqueue_key)
        return FAIL_AT(c, enqueue_key, "enqueue", "cannot be combined with early_terminate on a "
                       "grid: the grid's combinations are asha's enqueued configurations");
    long cap = COORD_SPEC_MAX_ENQUEUE, np = spec->n_params;
    coord_pval_t *rows = calloc((size_t)cap * (size_t)(np > 0 ? np : 1), sizeof *rows);
    coord_pval_t cur[COORD_SPEC_MAX_PARAMS];
    if (!rows)
        return -ENOMEM;
    long n = grid_rows(spec, 0, cur, rows, 0, cap);
    if (n < 0) {
        free(rows);
        return FAIL_AT(c, c->st->early_terminate, "early_terminate", "the grid has more than "
                       "%ld combinations; with early_terminate they are asha's enqueued "
                       "configurations, at most %ld: use fewer values or method: random", cap,
                       cap);
    }
    /* A budget (run_cap) cuts the grid in its order, as for grid search. */
    if (spec->max_trials > 0 && spec->max_trials < n)
        n = spec->max_trials;
    free(spec->enqueue);
    spec->enqueue = rows;
    spec->n_enqueue = (int)n;
    spec->max_trials = (int)n;
    return 0;
}

// ----------------------------------------------------------------------------
// After the parameters

/* Parameter `name` of the spec, or NULL. */
static const coord_param_t *find_param(const coord_spec_t *spec, const char *name)
{
    for (int i = 0; i < spec->n_params; i++)
        if (strcmp(spec->params[i].name, name) == 0)
            return &spec->params[i];
    return NULL;
}

/* Whether some value of enum parameter p (NULL: none) is stored as `text`
 * (hptune's name, or an alias that implies more). */
static bool value_with(const coord_param_t *p, const char *text)
{
    for (int j = 0; p && j < p->n_values; j++)
        if (strcmp(p->values[j].str, text) == 0)
            return true;
    return false;
}

int coord__wandb_finish(const pctx_t *c, const ynode_t *method_node,
                        const ynode_t *budget_node, coord_spec_t *spec)
{
    int rc = 0;
    const pstate_t *st = c->st;
    const char *m = coord_method_name(spec->method);
    /* run_cap: W&B's cap on runs, our budget.max_trials. */
    if (st->run_cap_value > 0) {
        if (budget_node && spec->max_trials > 0 && spec->max_trials != st->run_cap_value)
            KEEP(rc, FAIL_AT(c, st->run_cap, "run_cap", "%d and budget.max_trials %d disagree; "
                             "give one", st->run_cap_value, spec->max_trials));
        else
            spec->max_trials = st->run_cap_value;
    }
    /* W&B's random and bayes run until stopped; hptune's need a number. */
    bool needs = spec->method == COORD_METHOD_RANDOM || spec->method == COORD_METHOD_BAYES ||
                 (spec->method == COORD_METHOD_ASHA && !st->et_grid);
    if (needs && spec->max_trials <= 0 && !st->budget_bad) {
        spec->max_trials = COORD_SPEC_DEFAULT_TRIALS;
        KEEP(rc, WARN_AT(c, method_node, "budget.max_trials", "not given (nor W&B's run_cap): "
                         "%s search runs %d %s, hptune's default (W&B would run until "
                         "stopped)", m, COORD_SPEC_DEFAULT_TRIALS,
                         spec->method == COORD_METHOD_ASHA ? "new configurations" : "trials"));
    }
    /* A train_* metric ranks by the training score, which workers then
     * compute. */
    if (spec->objective_train && !spec->score_train) {
        spec->score_train = true;
        KEEP(rc, NOTE_AT(c, st->metric_name, "metric.name", "trials are ranked by their "
                         "training score: score_train is on"));
    }
    /* W&B's goal defaults to minimize, whatever the metric: a config that
     * names accuracy without a goal would have W&B seek the worst trials.
     * hptune's goal follows the metric; say so. */
    if (!st->goal_given && st->metric_wandb && spec->maximize && !st->metric_bad)
        KEEP(rc, WARN_AT(c, st->metric_name, "metric.goal", "not given: W&B's default is "
                         "minimize, but %s is maximized, so hptune maximizes it (add goal: "
                         "maximize to say so)", hpt_metric_name(spec->metric)));
    if (spec->has_target) {
        bool bounded = spec->metric != HPT_METRIC_LOG_LOSS;
        if (spec->target < 0 || (bounded && spec->target > 1))
            KEEP(rc, FAIL_AT(c, st->metric_name, "metric.target", "%g is out of range %s for "
                             "%s", spec->target, bounded ? "[0, 1]" : "[0, inf)",
                             hpt_metric_name(spec->metric)));
    }
    /* Per-layer widths without a layer count (layer_1_size, layer_2_size):
     * the network has as many hidden layers as the highest one named. */
    if (!find_param(spec, "layers") && !find_param(spec, "hidden_sizes")) {
        int top = 0;
        const coord_param_t *at = NULL;
        for (int i = 0; i < spec->n_params; i++)
            if (strncmp(spec->params[i].name, "units_", 6) == 0) {
                int n = atoi(spec->params[i].name + 6);
                if (n > top) {
                    top = n;
                    at = &spec->params[i];
                }
            }
        if (top > spec->base.layers) {
            spec->base.layers = top;
            KEEP(rc, coord__spec_note(c, at->line, at->col, "parameters.layers",
                                      "not given: %d hidden layers, as %s names", top,
                                      at->written[0] ? at->written : at->name));
        }
    }
    /* Names that mean less here than where they came from. */
    const coord_param_t *opt = find_param(spec, "optimizer");
    bool has_wd = find_param(spec, "weight_decay") || spec->base.weight_decay > 0;
    if (value_with(opt, "adamw") && !has_wd)
        KEEP(rc, coord__spec_warn(c, opt->line, opt->col, "parameters.optimizer",
                                  "adamw with weight_decay 0 (hptune's default) is adam; "
                                  "tf.keras's AdamW defaults to 0.004 and PyTorch's to 0.01: "
                                  "give weight_decay"));
    if (value_with(opt, "nesterov") && !find_param(spec, "momentum"))
        KEEP(rc, coord__spec_warn(c, opt->line, opt->col, "parameters.optimizer",
                                  "nesterov without momentum is plain SGD (Keras' "
                                  "SGD(nesterov=True) has momentum 0): write nag for momentum "
                                  "0.9, or give momentum"));
    return rc;
}
