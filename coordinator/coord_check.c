/*
 * coord_check.c: a spec checked as the coordinator would check it at
 * submission (coord_check.h), and the account `hptune check` prints.
 *
 * The counts follow the core (core/sched.c, coord_core_submit): a trial
 * trains folds x repeats x cv.seeds models, the refit adds one task, and a
 * sweep of more than COORD_CHECK_MAX_TASKS trainings is refused.
 */
#include "coord_check.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_aliases.h"
#include "search/search.h"

// ---------------------------------------------------------------------------
// A growing string

typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static char *sb_take(sbuf_t *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    if (!b->s)
        return calloc(1, 1);
    return b->s;
}

// ---------------------------------------------------------------------------
// The check

/* An error about the whole sweep, at the start of the document. */
static int sweep_error(coord_check_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int sweep_error(coord_check_t *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (msg) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    size_t tl = msg ? strlen(path) + strlen(msg) + 16 : 0;
    char *text = msg ? malloc(tl) : NULL;
    if (text)
        snprintf(text, tl, "%s:1:1: %s", path, msg);
    free(msg);
    coord_diags_t *d = &c->diags;
    coord_diag_t *v = text ? realloc(d->v, (size_t)(d->n + 1) * sizeof *v) : NULL;
    if (!v) {
        free(text);
        d->oom = true;
        return -ENOMEM;
    }
    d->v = v;
    d->cap = d->n + 1;
    /* Errors come in file order; this one is about no line, so it goes first. */
    memmove(d->v + 1, d->v, (size_t)d->n * sizeof *d->v);
    d->v[0] = (coord_diag_t){.level = COORD_DIAG_ERROR, .line = 1, .col = 1, .text = text};
    d->n++;
    d->n_errors++;
    return -EINVAL;
}

/* coord_spec_check_model's error, already "path:line:col: field: ...",
 * appended as it is. */
static int model_error(coord_check_t *c, const char *msg)
{
    coord_diags_t *d = &c->diags;
    char *text = strdup(msg);
    coord_diag_t *v = text ? realloc(d->v, (size_t)(d->n + 1) * sizeof *v) : NULL;
    if (!v) {
        free(text);
        d->oom = true;
        return -ENOMEM;
    }
    d->v = v;
    d->cap = d->n + 1;
    d->v[d->n++] = (coord_diag_t){.level = COORD_DIAG_ERROR, .line = 1, .col = 1, .text = text};
    d->n_errors++;
    return -EINVAL;
}

int coord_check_spec(const char *text, size_t len, const char *path, coord_check_t *out)
{
    *out = (coord_check_t){.trials = -1, .tasks = -1};
    if (!path)
        path = "<spec>";
    out->path = strdup(path);
    if (!out->path) {
        out->diags.oom = true;
        return -ENOMEM;
    }
    int rc = coord_spec_parse_all(text, len, path, &out->spec, &out->diags);
    if (rc < 0)
        return rc;
    const coord_spec_t *spec = out->spec;
    coord_search_t *search = NULL;
    hpt_err err = {0};
    rc = coord_search_new(&search, spec, &err);
    if (rc == -ENOMEM) {
        out->diags.oom = true;
        goto fail;
    }
    if (rc < 0) {
        rc = sweep_error(out, path, "%s", err.msg);
        goto fail;
    }
    out->trials = coord_search_total(search);
    coord_search_destroy(&search);
    out->splits = spec->cv.folds * spec->cv.repeats * spec->seeds;
    if (out->trials > 0) {
        long long tasks = (long long)out->trials * out->splits;
        if (tasks > COORD_CHECK_MAX_TASKS) {
            rc = sweep_error(out, path,
                             "top level: the sweep has %ld trials x %d tasks (folds x repeats x "
                             "seeds) = %lld tasks; the limit is %lld (reduce the grid or "
                             "budget.max_trials)",
                             out->trials, out->splits, tasks, COORD_CHECK_MAX_TASKS);
            goto fail;
        }
        out->tasks = tasks + (spec->refit ? 1 : 0);
    }
    /* The largest model no worker may train: the core refuses it at submit
     * (coord_core_submit), so check says so too. */
    if (coord_spec_check_model(spec, &err) < 0) {
        rc = model_error(out, err.msg);
        goto fail;
    }
    return 0;
fail:
    coord_spec_destroy(&out->spec);
    out->trials = out->tasks = -1;
    return out->diags.oom ? -ENOMEM : rc;
}

void coord_check_free(coord_check_t *c)
{
    if (!c)
        return;
    free(c->path);
    coord_spec_destroy(&c->spec);
    coord_diags_free(&c->diags);
    *c = (coord_check_t){0};
}

// ---------------------------------------------------------------------------
// The report

/* [lo, hi] for display.  A bound the parser moved just inside an open end
 * of the parameter's range (the smallest double above 0, the largest below
 * 1) shows as that end, excluded: "(0, 0.1]", "[0, 1)". */
static const char *range_str(double lo, double hi, char *buf, size_t len)
{
    bool lo_open = lo > 0 && lo < 1e-300;
    double gap = round(hi) - hi;
    bool hi_open = gap > 0 && gap < 1e-12 * fmax(1.0, fabs(hi));
    snprintf(buf, len, "%c%.6g, %.6g%c", lo_open ? '(' : '[', lo_open ? 0.0 : lo,
             hi_open ? round(hi) : hi, hi_open ? ')' : ']');
    return buf;
}

/* The form of parameter p, with its values or range: "values 32, 64, 512",
 * "log_uniform_values [0.0001, 0.1]", "q_uniform [20, 250], q 16", and how
 * it was written when that differs. */
static void form_text(sbuf_t *b, const coord_param_t *p)
{
    char v[64], r[80];
    sb_printf(b, "%s ", coord_pdist_name(p->dist));
    switch (p->dist) {
    case COORD_PDIST_VALUE:
    case COORD_PDIST_VALUES:
    case COORD_PDIST_CATEGORICAL:
        for (int j = 0; j < p->n_values; j++) {
            const char *t = coord_pval_format(p, &p->values[j], v, sizeof v);
            sb_printf(b, "%s%s", j ? ", " : "", t);
            if (p->dist == COORD_PDIST_CATEGORICAL && p->probs)
                sb_printf(b, " (p %.4g)", p->probs[j]);
        }
        break;
    case COORD_PDIST_INT_UNIFORM:
        sb_printf(b, "%.0f..%.0f", p->min, p->max);
        break;
    case COORD_PDIST_NORMAL:
    case COORD_PDIST_LOG_NORMAL:
        sb_printf(b, "mu %g, sigma %g, kept in %s", p->mu, p->sigma,
                  range_str(p->min, p->max, r, sizeof r));
        break;
    default:
        sb_printf(b, "%s", range_str(p->min, p->max, r, sizeof r));
        break;
    }
    if (p->q > 0 && p->dist != COORD_PDIST_INT_UNIFORM && p->dist != COORD_PDIST_VALUE &&
        p->dist != COORD_PDIST_VALUES && p->dist != COORD_PDIST_CATEGORICAL)
        sb_printf(b, ", q %.6g", p->q);
    if (p->has_start)
        sb_printf(b, "; start %s", coord_pval_format(p, &p->start, v, sizeof v));
    if (p->n_when > 0)
        sb_printf(b, "; when %d condition%s", p->n_when, p->n_when == 1 ? "" : "s");
    if (p->written[0] || p->form[0]) {
        sb_printf(b, "  (written");
        if (p->written[0])
            sb_printf(b, " %s", p->written);
        if (p->form[0])
            sb_printf(b, "%s%s", p->written[0] ? ", " : " ", p->form);
        sb_printf(b, ")");
    }
}

static bool in_spec(const coord_spec_t *spec, const char *name)
{
    for (int i = 0; i < spec->n_params; i++)
        if (strcmp(spec->params[i].name, name) == 0)
            return true;
    return false;
}

/* Every hyperparameter the spec does not tune, with the value each trial
 * gets: spec->base, Keras' defaults with the spec's constants applied. */
static void defaults_text(sbuf_t *b, const coord_spec_t *spec)
{
    const hpt_hparams_t *hp = &spec->base;
    bool any_units = in_spec(spec, "units");
    for (int l = 1; l <= HPT_MAX_LAYERS && !any_units; l++) {
        char n[16];
        snprintf(n, sizeof n, "units_%d", l);
        any_units = in_spec(spec, n);
    }
    struct {
        const char *name;
        char text[96];
    } rows[16];
    int n = 0;
#define ROW(nm, ...)                                                                          \
    do {                                                                                      \
        if (!in_spec(spec, nm)) {                                                             \
            rows[n].name = nm;                                                                \
            snprintf(rows[n].text, sizeof rows[n].text, __VA_ARGS__);                         \
            n++;                                                                              \
        }                                                                                     \
    } while (0)
    ROW("layers", "%d", hp->layers);
    if (!any_units)
        ROW("units", "%d", hp->units[0]);
    ROW("activation", "%s", hpt_act_name(hp->activation));
    ROW("init_mode", "%s", hpt_init_name(hp->init_mode));
    ROW("optimizer", "%s", hpt_opt_name(hp->optimizer));
    if (hp->learning_rate < 0 && in_spec(spec, "optimizer"))
        ROW("learning_rate", "the optimizer's Keras default (0.01 for sgd and nesterov, 0.001 "
                             "otherwise)");
    else if (hp->learning_rate < 0)
        ROW("learning_rate", "%g (%s's Keras default)", hpt_hparams_lr(hp),
            hpt_opt_name(hp->optimizer));
    else
        ROW("learning_rate", "%g", hp->learning_rate);
    /* An optimizer alias (momentum, nag) implies a momentum of its own. */
    const coord_param_t *opt = NULL;
    for (int i = 0; i < spec->n_params; i++)
        if (strcmp(spec->params[i].name, "optimizer") == 0)
            opt = &spec->params[i];
    double implied = 0;
    for (int j = 0; opt && j < opt->n_values; j++) {
        const coord_alias_t *a = coord_alias_find(COORD_ALIAS_OPTIMIZER, opt->values[j].str);
        if (a && a->momentum > 0)
            implied = a->momentum;
    }
    if (implied > 0)
        ROW("momentum", "%g (%g with optimizer momentum or nag)", hp->momentum, implied);
    else
        ROW("momentum", "%g", hp->momentum);
    ROW("nesterov", "%s", hp->nesterov ? "true" : "false");
    ROW("dropout", "%g", hp->dropout);
    ROW("input_dropout", "%g", hp->input_dropout);
    ROW("weight_constraint", "%g%s", hp->weight_constraint,
        hp->weight_constraint > 0 ? "" : " (off)");
    ROW("weight_decay", "%g%s", hp->weight_decay, hp->weight_decay > 0 ? "" : " (off)");
    ROW("batch_size", "%d", hp->batch_size);
    if (spec->resource_param < 0)
        ROW("epochs", "%d", hp->epochs);
    ROW("seed", "set per trial from the sweep's seed (%llu)", (unsigned long long)spec->seed);
#undef ROW
    if (n == 0)
        return;
    sb_printf(b, "defaults (hyperparameters the spec does not tune):\n");
    for (int i = 0; i < n; i++)
        sb_printf(b, "  %-18s %s\n", rows[i].name, rows[i].text);
}

/* The trials the search hands out before any score is known, at most max,
 * as a table with a column per parameter. */
static void trials_text(sbuf_t *b, const coord_spec_t *spec, int max)
{
    coord_search_t *s = NULL;
    if (coord_search_new(&s, spec, NULL) < 0)
        return;
    const int np = spec->n_params;
    char (*cell)[40] = calloc((size_t)max * (size_t)(np > 0 ? np : 1), sizeof *cell);
    if (!cell) {
        b->oom = true;
        coord_search_destroy(&s);
        return;
    }
    int width[COORD_SPEC_MAX_PARAMS];
    for (int i = 0; i < np; i++)
        width[i] = (int)strlen(spec->params[i].name);
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    int n = 0, rc = COORD_SEARCH_OK;
    while (n < max && (rc = coord_search_suggest(s, vals)) == COORD_SEARCH_OK) {
        for (int i = 0; i < np; i++) {
            char *c = cell[(size_t)n * (size_t)np + (size_t)i];
            if (vals[i].absent)
                snprintf(c, sizeof *cell, "-");
            else
                coord_pval_format(&spec->params[i], &vals[i], c, sizeof *cell);
            int w = (int)strlen(c);
            width[i] = w > width[i] ? w : width[i];
        }
        n++;
    }
    sb_printf(b, "trials (as handed out before any score is known; - = does not apply):\n");
    sb_printf(b, "  %5s", "#");
    for (int i = 0; i < np; i++)
        sb_printf(b, "  %-*s", width[i], spec->params[i].name);
    sb_printf(b, "\n");
    for (int r = 0; r < n; r++) {
        sb_printf(b, "  %5d", r + 1);
        for (int i = 0; i < np; i++)
            sb_printf(b, "  %-*s", i + 1 < np ? width[i] : 0,
                      cell[(size_t)r * (size_t)np + (size_t)i]);
        sb_printf(b, "\n");
    }
    if (rc == COORD_SEARCH_WAIT)
        sb_printf(b, "  (the next trials depend on scores)\n");
    else if (rc == COORD_SEARCH_OK && !coord_search_done(s))
        sb_printf(b, "  (more follow)\n");
    free(cell);
    coord_search_destroy(&s);
}

char *coord_check_report(const coord_check_t *c, int list_trials)
{
    const coord_spec_t *spec = c->spec;
    if (!spec)
        return NULL;
    sbuf_t b = {0};
    const char *m = coord_method_name(spec->method);
    sb_printf(&b, "%s: valid", c->path);
    if (c->diags.n_warnings)
        sb_printf(&b, " (%d warning%s)", c->diags.n_warnings, c->diags.n_warnings == 1 ? "" : "s");
    sb_printf(&b, "\n  name     %s\n  dataset  %s\n", spec->name, spec->dataset);
    sb_printf(&b, "  metric   %s, %s\n", hpt_metric_name(spec->metric),
              spec->maximize ? "maximize" : "minimize");
    sb_printf(&b, "  method   %s", m);
    if (spec->method == COORD_METHOD_HYPERBAND || spec->method == COORD_METHOD_ASHA) {
        sb_printf(&b, " over epochs");
        for (int r = 0; r < spec->sh.n_rungs; r++)
            sb_printf(&b, "%s%d", r ? ", " : " ", spec->sh.rung_epochs[r]);
        sb_printf(&b, " (eta %d)", spec->sh.eta);
    }
    sb_printf(&b, "\n");
    if (c->trials > 0) {
        sb_printf(&b, "  trials   %ld", c->trials);
        if (spec->method == COORD_METHOD_HYPERBAND)
            sb_printf(&b, " (promotions included)");
        else if (spec->method == COORD_METHOD_GRID && spec->max_trials > 0 &&
                 c->trials == spec->max_trials)
            sb_printf(&b, " (the grid cut at budget.max_trials)");
        sb_printf(&b, "\n  tasks    %lld (%ld trials x %d split%s%s)\n", c->tasks, c->trials,
                  c->splits, c->splits == 1 ? "" : "s", spec->refit ? " + 1 refit" : "");
    } else if (spec->method == COORD_METHOD_ASHA) {
        sb_printf(&b, "  trials   %d new configurations; promotions depend on the scores\n",
                  spec->max_trials);
        sb_printf(&b, "  tasks    %d per trial (%s)\n", c->splits,
                  "folds x repeats x cv.seeds");
    } else {
        sb_printf(&b, "  trials   not known up front: they depend on the scores");
        if (spec->max_trials > 0)
            sb_printf(&b, " (at most %d)", spec->max_trials);
        sb_printf(&b, "\n  tasks    %d per trial (folds x repeats x cv.seeds)\n", c->splits);
    }
    if (spec->max_parallel > 0)
        sb_printf(&b, "  parallel at most %d tasks at once\n", spec->max_parallel);
    sb_printf(&b, "  cv       %d folds%s%s, seed %llu", spec->cv.folds,
              spec->cv.stratified ? ", stratified" : "", spec->cv.shuffle ? ", shuffled" : "",
              (unsigned long long)spec->cv.seed);
    if (spec->cv.repeats > 1)
        sb_printf(&b, ", %d repeats", spec->cv.repeats);
    if (spec->seeds > 1)
        sb_printf(&b, ", %d seeds", spec->seeds);
    sb_printf(&b, "\n  refit    %s\n", spec->refit ? "yes" : "no");
    if (spec->race.on) {
        /* The race's largest cost: its budget (docs/spec.md, "select"). */
        sb_printf(&b, "  race     the top %d leaders, at most %d repeats, ", spec->race.top,
                  spec->race.max_repeats);
        if (spec->race.budget_tasks > 0)
            sb_printf(&b, "at most %ld extra tasks", spec->race.budget_tasks);
        else if (c->trials > 0)
            sb_printf(&b, "at most %lld extra tasks (30%% of the search's)",
                      ((long long)c->trials * c->splits * 3 + 9) / 10);
        else
            sb_printf(&b, "at most 30%% more tasks than the search");
        long long budget = spec->race.budget_tasks > 0 ? spec->race.budget_tasks
                           : c->trials > 0 ? ((long long)c->trials * c->splits * 3 + 9) / 10
                                           : -1;
        if (budget >= 0 && budget < 2LL * c->splits / spec->cv.repeats)
            sb_printf(&b, " (less than one round of 2 leaders, %d tasks: no round will run)",
                      2 * c->splits / spec->cv.repeats);
        sb_printf(&b, "; ties to the %s\n",
                  spec->race.tie_best_mean ? "best mean" : "cheapest to train");
    }
    if (spec->n_enqueue > 0)
        sb_printf(&b, "  enqueue  %d trial%s first\n", spec->n_enqueue,
                  spec->n_enqueue == 1 ? "" : "s");

    sb_printf(&b, "parameters (in spec order):\n");
    for (int i = 0; i < spec->n_params; i++) {
        const coord_param_t *p = &spec->params[i];
        sb_printf(&b, "  %-18s ", p->name);
        if (i == spec->resource_param)
            sb_printf(&b, "set by %s: the rung's epochs", m);
        else
            form_text(&b, p);
        sb_printf(&b, "\n");
    }
    defaults_text(&b, spec);
    if (list_trials > 0)
        trials_text(&b, spec, list_trials);
    if (c->diags.n_notes > 0) {
        sb_printf(&b, "read as:\n");
        for (int i = 0; i < c->diags.n; i++)
            if (c->diags.v[i].level == COORD_DIAG_NOTE)
                sb_printf(&b, "  %s\n", c->diags.v[i].text);
    }
    if (c->diags.n_warnings > 0) {
        sb_printf(&b, "warnings:\n");
        for (int i = 0; i < c->diags.n; i++)
            if (c->diags.v[i].level == COORD_DIAG_WARNING)
                sb_printf(&b, "  %s\n", c->diags.v[i].text);
    }
    return sb_take(&b);
}
