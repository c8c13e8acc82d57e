/*
 * plots.c: the plots of a sweep (see plots.h), drawn with svg.h.
 *
 * A set is built in two steps: a model of the reply (the finished trials,
 * and per parameter its kind, categories and per-trial value), then one
 * SVG per plot.  Every mark drawn per trial goes through keep(), the one
 * place that subsamples, so the cost of a plot is bounded by max_points
 * whatever the size of the sweep.  Numbers are printed in the forms
 * `hptune results` uses (4 decimals for scores, the shortest exact decimal
 * for parameter values).
 */
#include "plots.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "svg.h"

// --- numbers as text ------------------------------------------------------------

static const char *fmt_score(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.4f", v);
    return buf;
}

static const char *fmt_mean_std(double mean, double std, char *buf, size_t len)
{
    if (isnan(mean))
        snprintf(buf, len, "-");
    else if (isnan(std))
        snprintf(buf, len, "%.4f", mean);
    else
        snprintf(buf, len, "%.4f \u00b1 %.4f", mean, std);
    return buf;
}

/* The shortest decimal that reads back as v. */
static const char *fmt_exact(double v, char *buf, size_t len)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "%s", isnan(v) ? "" : v > 0 ? "inf" : "-inf");
        return buf;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

static const char *fmt_duration(double s, char *buf, size_t len)
{
    if (!(s >= 0) || s >= 1e9)
        snprintf(buf, len, "-");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
    return buf;
}

/* Append printf-formatted text to buf (NUL-terminated, of size len). */
static void catf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void catf(char *buf, size_t len, const char *fmt, ...)
{
    size_t o = strlen(buf);
    if (o + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + o, len - o, fmt, ap);
    va_end(ap);
}

// --- the model ------------------------------------------------------------------

/* One parameter across the trials. */
typedef struct param_axis {
    const char *name;      // borrowed from the reply
    size_t index;          // in param_names
    bool constant;         // one value in every trial that has one: not plotted
    bool numeric;          // every present value is a number
    bool log;              // numeric, positive, spanning more than 1.5 decades
    const char **cats;     // categorical: the distinct texts in order of first appearance
                           // over all trials (owned array, borrowed strings)
    int n_cats;
    int *cat_of;           // categorical: per trial of the reply, its category or -1
                           // (owned, n_trials entries)
    double *x;             // per done trial: the number or the category index; NaN when
                           // the trial has no value (owned, n_done entries)
    size_t absent;         // done trials without a value
} param_axis_t;

typedef struct model {
    const Hpt__ResultsReply *r;
    const Hpt__SweepInfo *s;          // r->sweep (an empty one when missing)
    Hpt__TrialResult **done;          // done trials with a finite mean, trial order (owned)
    size_t *done_at;                  // their indices in r->trials (owned)
    size_t n_done;
    param_axis_t *params;             // every parameter (owned)
    size_t n_params;
    size_t *shown;                    // indices into params of the plotted ones (owned)
    size_t n_shown;
    size_t best;                      // index of the best trial in done, or SIZE_MAX
    bool maximize;
    bool ended;                       // done, failed or cancelled
    double now;                       // unix seconds of the view
    size_t max_points;
} model_t;

static bool better(const model_t *m, double a, double b)
{
    return m->maximize ? a > b : a < b;
}

/* A value that is absent: a conditional parameter whose condition does not
 * hold for the trial (no number and no text). */
static bool absent(const Hpt__Param *p)
{
    return !p || (!p->numeric && (!p->text || p->text[0] == '\0'));
}

/* "mean_test_score (accuracy, higher is better)". */
static const char *score_title(const model_t *m, char *buf, size_t len)
{
    snprintf(buf, len, "mean_test_score (%s, %s is better)", m->s->metric,
             m->maximize ? "higher" : "lower");
    return buf;
}

/* Whether the k-th of n candidates (k in 0..n-1, in trial order) is drawn:
 * every stride-th one, so at most max_points of them are. */
static bool keep(const model_t *m, size_t k, size_t n)
{
    size_t stride = n > m->max_points ? (n + m->max_points - 1) / m->max_points : 1;
    return k % stride == 0;
}

static size_t kept(const model_t *m, size_t n)
{
    size_t stride = n > m->max_points ? (n + m->max_points - 1) / m->max_points : 1;
    return (n + stride - 1) / stride;
}

/* The caption's sentence about subsampling, when there was some. */
static void caption_subsample(const model_t *m, char *cap, size_t len, size_t n,
                              const char *what)
{
    if (n <= m->max_points)
        return;
    size_t stride = (n + m->max_points - 1) / m->max_points;
    catf(cap, len, " Drawn: %zu of the %zu %s (every %zuth in trial order, and the best)"
                   "; the statistics use all of them.",
         kept(m, n), n, what, stride);
}

static void model_free(model_t *m)
{
    for (size_t i = 0; i < m->n_params && m->params; i++) {
        free(m->params[i].cats);
        free(m->params[i].cat_of);
        free(m->params[i].x);
    }
    free(m->params);
    free(m->shown);
    free(m->done);
    free(m->done_at);
    *m = (model_t){0};
}

/* Whether the reply says which parameters the spec fixes. */
static bool spec_knows(const Hpt__ResultsReply *r)
{
    return r->n_param_fixed == r->n_param_names && r->n_param_names > 0;
}

/* The categories of parameter a over every trial, and whether it is
 * constant.  Categories are found through a small open-addressing table,
 * so a parameter with a value per trial stays linear. */
static int axis_scan(model_t *m, param_axis_t *a)
{
    const Hpt__ResultsReply *r = m->r;
    bool any = false;
    a->numeric = true;
    double first_num = NAN;
    const char *first_txt = NULL;
    bool varies = false;
    for (size_t k = 0; k < r->n_trials; k++) {
        const Hpt__Param *p = hpt_json_trial_param(r->trials[k], a->name, a->index);
        if (absent(p))
            continue;
        bool num = p->numeric && isfinite(p->number);
        a->numeric = a->numeric && num;
        if (!any) {
            first_num = num ? p->number : NAN;
            first_txt = p->text ? p->text : "";
        } else if (!varies) {
            varies = num ? !(p->number == first_num) : strcmp(p->text ? p->text : "",
                                                              first_txt) != 0;
        }
        any = true;
    }
    a->numeric = a->numeric && any;
    /* The spec says which parameters are fixed (ResultsReply.param_fixed).
     * Without it (an older coordinator) the trials tell: one value in
     * every trial that has one; with fewer than two trials nothing varies
     * yet, no parameter is plotted and the note says why (hpt_plots_new). */
    if (spec_knows(r))
        a->constant = r->param_fixed[a->index];
    else
        a->constant = r->n_trials < 2 || (any && !varies);
    if (a->numeric || a->constant)
        return 0;
    size_t cap = 16;
    while (cap < 2 * r->n_trials + 2)
        cap *= 2;
    int *slot = malloc(cap * sizeof *slot);
    a->cats = calloc(r->n_trials ? r->n_trials : 1, sizeof *a->cats);
    a->cat_of = malloc((r->n_trials ? r->n_trials : 1) * sizeof *a->cat_of);
    if (!slot || !a->cats || !a->cat_of) {
        free(slot);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cap; i++)
        slot[i] = -1;
    for (size_t k = 0; k < r->n_trials; k++) {
        const Hpt__Param *p = hpt_json_trial_param(r->trials[k], a->name, a->index);
        a->cat_of[k] = -1;
        if (absent(p))
            continue;
        uint64_t h = 1469598103934665603ull;   // FNV-1a
        for (const char *c = p->text; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
        size_t i = (size_t)(h & (cap - 1));
        while (slot[i] >= 0 && strcmp(a->cats[slot[i]], p->text) != 0)
            i = (i + 1) & (cap - 1);
        if (slot[i] < 0) {
            slot[i] = a->n_cats;
            a->cats[a->n_cats++] = p->text;
        }
        a->cat_of[k] = slot[i];
    }
    free(slot);
    return 0;
}

static int model_build(model_t *m, const Hpt__ResultsReply *r, double now, size_t max_points)
{
    static const Hpt__SweepInfo empty = HPT__SWEEP_INFO__INIT;
    *m = (model_t){.r = r, .s = r->sweep ? r->sweep : &empty, .now = now,
                   .max_points = max_points ? max_points : HPT_PLOTS_MAX_POINTS,
                   .best = SIZE_MAX};
    m->maximize = m->s->maximize;
    m->ended = strcmp(m->s->state, "done") == 0 || strcmp(m->s->state, "failed") == 0 ||
               strcmp(m->s->state, "cancelled") == 0;
    m->done = calloc(r->n_trials ? r->n_trials : 1, sizeof *m->done);
    m->done_at = calloc(r->n_trials ? r->n_trials : 1, sizeof *m->done_at);
    m->params = calloc(r->n_param_names ? r->n_param_names : 1, sizeof *m->params);
    m->shown = calloc(r->n_param_names ? r->n_param_names : 1, sizeof *m->shown);
    if (!m->done || !m->done_at || !m->params || !m->shown)
        goto oom;
    m->n_params = r->n_param_names;
    for (size_t k = 0; k < r->n_trials; k++) {
        Hpt__TrialResult *t = r->trials[k];
        if (strcmp(t->state, "done") == 0 && isfinite(t->mean_test_score)) {
            m->done_at[m->n_done] = k;
            m->done[m->n_done++] = t;
        }
    }
    for (size_t k = 0; k < m->n_done; k++)
        if (m->s->best_trial && m->done[k]->trial == m->s->best_trial)
            m->best = k;
    for (size_t i = 0; i < m->n_params; i++) {
        param_axis_t *a = &m->params[i];
        a->name = r->param_names[i];
        a->index = i;
        if (axis_scan(m, a) < 0)
            goto oom;
        if (a->constant)
            continue;
        m->shown[m->n_shown++] = i;
        a->x = calloc(m->n_done ? m->n_done : 1, sizeof *a->x);
        if (!a->x)
            goto oom;
        for (size_t k = 0; k < m->n_done; k++) {
            const Hpt__Param *p = hpt_json_trial_param(m->done[k], a->name, i);
            a->x[k] = NAN;
            if (absent(p))
                a->absent++;
            else if (a->numeric)
                a->x[k] = p->number;
            else
                a->x[k] = a->cat_of[m->done_at[k]];
        }
        a->log = a->numeric && hpt_svg_wants_log(a->x, m->n_done);
    }
    return 0;
oom:
    model_free(m);
    return -ENOMEM;
}

/* A scale over a parameter's done values: log, linear or categorical. */
static void param_scale(const param_axis_t *a, size_t n, double p0, double p1,
                        hpt_svg_scale_t *sc)
{
    if (!a->numeric) {
        hpt_svg_scale_cat(sc, a->n_cats, p0, p1);
        return;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < n; k++)
        if (isfinite(a->x[k])) {
            lo = fmin(lo, a->x[k]);
            hi = fmax(hi, a->x[k]);
        }
    if (a->log)
        hpt_svg_scale_log(sc, lo, hi, p0, p1);
    else
        hpt_svg_scale_linear(sc, lo, hi, 5, p0, p1);
}

/* A deterministic jitter in [-0.5, 0.5) from the trial number, so points of
 * one category do not hide each other and the picture is reproducible. */
static double jitter(uint64_t trial)
{
    uint64_t h = trial * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return (double)(h % 1000) / 1000.0 - 0.5;
}

/* A file and URL name made of a parameter's name: letters, digits, '_',
 * '-', '.' kept, anything else '_' (spec names are identifiers anyway). */
static void param_file(const char *name, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "param-");
    for (const char *p = name; *p && o + 1 < len; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        buf[o++] = ok ? c : '_';
    }
    buf[o] = '\0';
}

// --- the plots --------------------------------------------------------------------

typedef struct group {
    double x, mean, std;
    size_t n;
} group_t;

static int cmp_xy(const void *a, const void *b)
{
    const double *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[2] < y[2] ? -1 : x[2] > y[2];   // then trial order: a stable picture
}

/* Score against parameter a: points, mean +- std per value, the best ring. */
static int plot_param(const model_t *m, const param_axis_t *a, hpt_plot_t *pl, hpt_svg_t **out)
{
    enum { W = 560, L = 66, R = 140, T = 34, PH = 230 };
    hpt_svg_scale_t xs, ys;
    if (a->numeric)
        param_scale(a, m->n_done, L + 10, W - R - 10, &xs);
    else
        hpt_svg_scale_cat(&xs, a->n_cats, L, W - R);
    double B = hpt_svg_axis_depth(&xs, a->numeric ? NULL : a->cats) + 10;
    double H = T + PH + B;
    pl->kind = HPT_PLOT_PARAM;
    snprintf(pl->param, sizeof pl->param, "%s", a->name);
    param_file(a->name, pl->name, sizeof pl->name);
    snprintf(pl->title, sizeof pl->title, "mean_test_score against %s%s", a->name,
             a->log ? " (log scale)" : "");
    int rc = hpt_svg_new(out, W, H, pl->title);
    if (rc < 0)
        return rc;
    hpt_svg_t *s = *out;
    hpt_svg_text(s, L, 20, "start", 0, "title", 70, pl->title);

    /* (x, score, k) of the done trials that have a value, sorted by x. */
    double *xy = malloc((m->n_done ? m->n_done : 1) * 3 * sizeof *xy);
    group_t *g = calloc(m->n_done ? m->n_done : 1, sizeof *g);
    if (!xy || !g) {
        free(xy);
        free(g);
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t k = 0; k < m->n_done; k++)
        if (isfinite(a->x[k])) {
            xy[3 * n] = a->x[k];
            xy[3 * n + 1] = m->done[k]->mean_test_score;
            xy[3 * n + 2] = (double)k;
            n++;
        }
    pl->points = n;
    if (n == 0) {
        hpt_svg_text(s, (L + W - R) / 2.0, H / 2.0, "middle", 0, "note", 0,
                     m->n_done ? "no finished trial has a value for this parameter"
                               : "no finished trials yet");
        snprintf(pl->caption, sizeof pl->caption, "%s: no finished trial with a value yet.",
                 a->name);
        free(xy);
        free(g);
        return 0;
    }
    /* Which ones are drawn, decided in trial order before sorting by x:
     * xy[3i+2] is k, and k's rank among the n is its position now. */
    unsigned char *draw = calloc(m->n_done, 1);
    if (!draw) {
        free(xy);
        free(g);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        draw[(size_t)xy[3 * i + 2]] = keep(m, i, n) || (size_t)xy[3 * i + 2] == m->best;
    qsort(xy, n, 3 * sizeof *xy, cmp_xy);
    size_t ng = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double sum = 0, sq = 0;
        while (j < n && xy[3 * j] == xy[3 * i]) {
            sum += xy[3 * j + 1];
            j++;
        }
        double mean = sum / (double)(j - i);
        for (size_t q = i; q < j; q++)
            sq += (xy[3 * q + 1] - mean) * (xy[3 * q + 1] - mean);
        /* The population std (ddof 0), as scikit-learn's std_test_score. */
        g[ng++] = (group_t){.x = xy[3 * i], .mean = mean, .std = sqrt(sq / (double)(j - i)),
                            .n = j - i};
        i = j;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, xy[3 * i + 1]);
        hi = fmax(hi, xy[3 * i + 1]);
    }
    for (size_t i = 0; i < ng; i++) {
        lo = fmin(lo, g[i].mean - g[i].std);
        hi = fmax(hi, g[i].mean + g[i].std);
    }
    char ytitle[128];
    hpt_svg_scale_linear(&ys, lo, hi, 5, T + PH, T);
    hpt_svg_axis(s, &xs, HPT_SVG_BOTTOM, T + PH, T + PH, T, a->numeric ? NULL : a->cats,
                 a->name);
    hpt_svg_axis(s, &ys, HPT_SVG_LEFT, L, L, W - R, NULL, score_title(m, ytitle, sizeof ytitle));

    double band = a->numeric ? 0 : (W - L - R) / (double)a->n_cats;
    double jit = band * 0.4 < 28 ? band * 0.4 : 28;
    char tip[512], sc[64], sd[64], v[64];
    size_t drawn = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)xy[3 * i + 2];
        if (!draw[k])
            continue;
        drawn++;
        const Hpt__TrialResult *t = m->done[k];
        const Hpt__Param *p = hpt_json_trial_param(t, a->name, a->index);
        double px = hpt_svg_map(&xs, xy[3 * i]) + (a->numeric ? 0 : jit * jitter(t->trial));
        snprintf(tip, sizeof tip, "trial %llu: %s=%s, %s %s", (unsigned long long)t->trial,
                 a->name, p ? p->text : "?", m->s->metric,
                 fmt_score(t->mean_test_score, sc, sizeof sc));
        hpt_svg_circle(s, px, hpt_svg_map(&ys, xy[3 * i + 1]), 3, "pt", NULL, tip);
    }
    pl->drawn = drawn;
    /* A dashed line through the means when values repeat (a grid): the
     * trend.  Not for categories, whose order means nothing. */
    if (a->numeric && ng >= 2 && ng < n) {
        double *px = malloc(ng * 2 * sizeof *px);
        if (px) {
            for (size_t i = 0; i < ng; i++) {
                px[i] = hpt_svg_map(&xs, g[i].x);
                px[ng + i] = hpt_svg_map(&ys, g[i].mean);
            }
            hpt_svg_path(s, px, px + ng, ng, "trend", NULL, NULL);
            free(px);
        }
    }
    /* Mean markers: one per value, unless the values are many (a continuous
     * parameter has one trial per value, which the points show already). */
    for (size_t i = 0; i < ng; i++) {
        if (ng > m->max_points && g[i].n == 1)
            continue;
        double px = hpt_svg_map(&xs, g[i].x), py = hpt_svg_map(&ys, g[i].mean);
        if (g[i].n > 1) {
            double y0 = hpt_svg_map(&ys, g[i].mean - g[i].std);
            double y1 = hpt_svg_map(&ys, g[i].mean + g[i].std);
            hpt_svg_line(s, px, y0, px, y1, "err");
            hpt_svg_line(s, px - 4, y0, px + 4, y0, "err");
            hpt_svg_line(s, px - 4, y1, px + 4, y1, "err");
        }
        const char *vt = a->numeric ? fmt_exact(g[i].x, v, sizeof v) : a->cats[(int)g[i].x];
        snprintf(tip, sizeof tip, "%s=%s: mean %s over %zu trial%s", a->name, vt,
                 fmt_mean_std(g[i].mean, g[i].n > 1 ? g[i].std : NAN, sd, sizeof sd), g[i].n,
                 g[i].n == 1 ? "" : "s");
        hpt_svg_circle(s, px, py, 4, "mean", NULL, tip);
    }
    if (m->best != SIZE_MAX && isfinite(a->x[m->best])) {
        const Hpt__TrialResult *b = m->done[m->best];
        double px = hpt_svg_map(&xs, a->x[m->best]) + (a->numeric ? 0 : jit * jitter(b->trial));
        snprintf(tip, sizeof tip, "best: trial %llu", (unsigned long long)b->trial);
        hpt_svg_circle(s, px, hpt_svg_map(&ys, b->mean_test_score), 6.5, "best", NULL, tip);
    }
    static const hpt_svg_legend_item_t items[] = {
        {HPT_SVG_KEY_POINT, NULL, "one trial"},
        {HPT_SVG_KEY_MEAN, NULL, "mean \u00b1 std"},
        {HPT_SVG_KEY_RING, NULL, "best trial"},
    };
    hpt_svg_legend(s, W - R + 14, T, items, 3);

    snprintf(pl->caption, sizeof pl->caption, "%s: %zu finished trial%s over %zu value%s; %s axis.",
             a->name, n, n == 1 ? "" : "s", ng, ng == 1 ? "" : "s",
             !a->numeric ? "categorical" : a->log ? "logarithmic" : "linear");
    if (a->absent)
        catf(pl->caption, sizeof pl->caption,
             " %zu finished trial%s without this parameter (its condition did not hold) "
             "%s left out.",
             a->absent, a->absent == 1 ? "" : "s", a->absent == 1 ? "is" : "are");
    caption_subsample(m, pl->caption, sizeof pl->caption, n, "trials");
    free(draw);
    free(xy);
    free(g);
    return 0;
}

/* A finished trial and its sort key. */
typedef struct keyed {
    double key;
    uint64_t trial;
    size_t k;           // index in m->done
    bool draw;          // drawn as a mark (the subsample)
} keyed_t;

static int by_key(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->trial < y->trial ? -1 : x->trial > y->trial;
}

/* Best score so far against minutes since the sweep started. */
static int plot_progress(const model_t *m, hpt_plot_t *pl, hpt_svg_t **out)
{
    enum { W = 720, H = 330, L = 66, R = 170, T = 34, B = 52 };
    pl->kind = HPT_PLOT_PROGRESS;
    snprintf(pl->name, sizeof pl->name, "best-so-far");
    snprintf(pl->title, sizeof pl->title, "best mean_test_score so far over time");
    int rc = hpt_svg_new(out, W, H, pl->title);
    if (rc < 0)
        return rc;
    hpt_svg_t *s = *out;
    hpt_svg_text(s, L, 20, "start", 0, "title", 80, pl->title);
    keyed_t *ts = calloc(m->n_done ? m->n_done : 1, sizeof *ts);
    double *px = calloc(2 * m->n_done + 2, sizeof *px);
    double *py = calloc(2 * m->n_done + 2, sizeof *py);
    if (!ts || !px || !py) {
        rc = -ENOMEM;
        goto out;
    }
    size_t n = 0;
    for (size_t k = 0; k < m->n_done; k++)
        if (isfinite(m->done[k]->finished_unix) && m->done[k]->finished_unix > 0)
            ts[n++] = (keyed_t){.key = m->done[k]->finished_unix, .trial = m->done[k]->trial,
                                .k = k};
    pl->points = n;
    if (n == 0) {
        hpt_svg_text(s, (L + W - R) / 2.0, H / 2.0, "middle", 0, "note", 0,
                     m->n_done ? "the coordinator sent no finish times"
                               : "no finished trials yet");
        snprintf(pl->caption, sizeof pl->caption, "No finished trial with a finish time yet.");
        goto out;
    }
    /* Which trials are drawn as points: decided in trial order (ts is in
     * trial order until sorted by time). */
    for (size_t i = 0; i < n; i++)
        ts[i].draw = keep(m, i, n) || ts[i].k == m->best;
    qsort(ts, n, sizeof *ts, by_key);
    const Hpt__TrialResult *first = m->done[ts[0].k], *lastt = m->done[ts[n - 1].k];
    /* Time zero: when the sweep started (its first task was handed out),
     * else when it was submitted, else its first finish. */
    double t0 = m->s->started_unix > 0   ? m->s->started_unix
                : m->s->created_unix > 0 ? m->s->created_unix
                                         : first->finished_unix;
    double last = lastt->finished_unix;
    /* The line runs on to the end of the sweep, or to now while it runs
     * (unless the viewer's clock is behind the coordinator's). */
    double end = m->ended && m->s->finished_unix > last ? m->s->finished_unix
                 : !m->ended && m->now > last          ? m->now
                                                       : last;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, m->done[ts[i].k]->mean_test_score);
        hi = fmax(hi, m->done[ts[i].k]->mean_test_score);
    }
    hpt_svg_scale_t xs, ys;
    hpt_svg_scale_linear(&xs, 0, fmax((end - t0) / 60.0, 1e-3), 6, L, W - R);
    hpt_svg_scale_linear(&ys, lo, hi, 5, H - B, T);
    char ytitle[128], tip[256], sc[64], mins[64];
    hpt_svg_axis(s, &xs, HPT_SVG_BOTTOM, H - B, H - B, T, NULL,
                 "minutes since the sweep started");
    hpt_svg_axis(s, &ys, HPT_SVG_LEFT, L, L, W - R, NULL, score_title(m, ytitle, sizeof ytitle));
    size_t drawn = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ts[i].draw)
            continue;
        drawn++;
        const Hpt__TrialResult *t = m->done[ts[i].k];
        double x = (t->finished_unix - t0) / 60.0;
        snprintf(tip, sizeof tip, "trial %llu finished at %s min: %s %s",
                 (unsigned long long)t->trial, fmt_exact(round(x * 100) / 100, mins, sizeof mins),
                 m->s->metric, fmt_score(t->mean_test_score, sc, sizeof sc));
        hpt_svg_circle(s, hpt_svg_map(&xs, x), hpt_svg_map(&ys, t->mean_test_score), 3, "pt",
                       NULL, tip);
    }
    pl->drawn = drawn;
    /* The step line, over every trial: flat until a trial beats the best,
     * then up (down).  Its vertices are the improvements only. */
    size_t k = 0;
    double best = NAN;
    for (size_t i = 0; i < n; i++) {
        const Hpt__TrialResult *t = m->done[ts[i].k];
        double x = hpt_svg_map(&xs, (t->finished_unix - t0) / 60.0);
        double v = t->mean_test_score;
        if (isnan(best) || better(m, v, best)) {
            if (!isnan(best)) {
                px[k] = x;
                py[k++] = hpt_svg_map(&ys, best);
            }
            best = v;
            px[k] = x;
            py[k++] = hpt_svg_map(&ys, best);
        }
    }
    px[k] = hpt_svg_map(&xs, (end - t0) / 60.0);
    py[k++] = hpt_svg_map(&ys, best);
    snprintf(tip, sizeof tip, "best so far: %s %s", m->s->metric,
             fmt_score(best, sc, sizeof sc));
    hpt_svg_path(s, px, py, k, "step", NULL, tip);
    if (m->best != SIZE_MAX) {
        const Hpt__TrialResult *b = m->done[m->best];
        if (isfinite(b->finished_unix) && b->finished_unix > 0)
            hpt_svg_circle(s, hpt_svg_map(&xs, (b->finished_unix - t0) / 60.0),
                           hpt_svg_map(&ys, b->mean_test_score), 6.5, "best", NULL,
                           "best trial");
    }
    static const hpt_svg_legend_item_t items[] = {
        {HPT_SVG_KEY_POINT, NULL, "a trial, when done"},
        {HPT_SVG_KEY_LINE, "step", "best so far"},
        {HPT_SVG_KEY_RING, NULL, "best trial"},
    };
    hpt_svg_legend(s, W - R + 14, T, items, 3);
    char dur[32];
    snprintf(pl->caption, sizeof pl->caption,
             "%zu finished trials over %s; the best score so far %s.", n,
             fmt_duration(last - t0, dur, sizeof dur),
             m->ended ? "until the sweep ended" : "until this view was made");
    caption_subsample(m, pl->caption, sizeof pl->caption, n, "trials");
out:
    free(ts);
    free(px);
    free(py);
    return rc;
}

/* One vertical axis per plotted parameter plus the score; a line per done
 * trial, worst first so that the best lines lie on top. */
static int plot_parallel(const model_t *m, hpt_plot_t *pl, hpt_svg_t **out)
{
    enum { SPACING = 130, L = 80, T = 56, B = 60, H = 440 };
    size_t naxes = m->n_shown + 1;
    double W = L + SPACING * (double)(naxes - 1) + 150;
    pl->kind = HPT_PLOT_PARALLEL;
    snprintf(pl->name, sizeof pl->name, "parallel-coordinates");
    snprintf(pl->title, sizeof pl->title, "parallel coordinates: every finished trial");
    pl->points = m->n_done;
    int rc = hpt_svg_new(out, W, H, pl->title);
    if (rc < 0)
        return rc;
    hpt_svg_t *s = *out;
    hpt_svg_text(s, 14, 20, "start", 0, "title", 90, pl->title);
    if (m->n_done == 0) {
        hpt_svg_text(s, W / 2, H / 2.0, "middle", 0, "note", 0, "no finished trials yet");
        snprintf(pl->caption, sizeof pl->caption, "No finished trials yet.");
        return 0;
    }
    hpt_svg_scale_t *sc = calloc(naxes, sizeof *sc);
    keyed_t *order = calloc(m->n_done, sizeof *order);
    double *px = calloc(naxes, sizeof *px), *py = calloc(naxes, sizeof *py);
    if (!sc || !order || !px || !py) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < m->n_shown; i++) {
        param_scale(&m->params[m->shown[i]], m->n_done, H - B, T, &sc[i]);
        px[i] = L + SPACING * (double)i;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < m->n_done; k++) {
        lo = fmin(lo, m->done[k]->mean_test_score);
        hi = fmax(hi, m->done[k]->mean_test_score);
    }
    hpt_svg_scale_t *ss = &sc[naxes - 1];
    hpt_svg_scale_linear(ss, lo, hi, 6, H - B, T);
    px[naxes - 1] = L + SPACING * (double)(naxes - 1);
    for (size_t i = 0; i < m->n_shown; i++) {
        const param_axis_t *a = &m->params[m->shown[i]];
        hpt_svg_axis(s, &sc[i], HPT_SVG_PARALLEL, px[i], 0, 0, a->numeric ? NULL : a->cats,
                     a->name);
        if (a->log)
            hpt_svg_text(s, px[i], H - B + 18, "middle", 0, "note", 0, "log scale");
    }
    hpt_svg_axis(s, ss, HPT_SVG_PARALLEL, px[naxes - 1], 0, 0, NULL, "mean_test_score");

    /* The drawn subsample, in trial order, then sorted worst first. */
    size_t nd = 0;
    for (size_t k = 0; k < m->n_done; k++)
        if (keep(m, k, m->n_done) && k != m->best) {
            double v = m->done[k]->mean_test_score;
            order[nd++] = (keyed_t){.key = m->maximize ? v : -v, .trial = m->done[k]->trial,
                                    .k = k};
        }
    qsort(order, nd, sizeof *order, by_key);
    char tip[128], col[16], scs[64];
    for (size_t j = 0; j < nd; j++) {
        size_t k = order[j].k;
        const Hpt__TrialResult *t = m->done[k];
        for (size_t i = 0; i < m->n_shown; i++) {
            double x = m->params[m->shown[i]].x[k];
            py[i] = isfinite(x) ? hpt_svg_map(&sc[i], x) : NAN;
        }
        py[naxes - 1] = hpt_svg_map(ss, t->mean_test_score);
        double f = (t->mean_test_score - ss->lo) / (ss->hi - ss->lo);
        snprintf(tip, sizeof tip, "trial %llu: %s %s", (unsigned long long)t->trial,
                 m->s->metric, fmt_score(t->mean_test_score, scs, sizeof scs));
        hpt_svg_path(s, px, py, naxes, "pc", hpt_svg_color(m->maximize ? f : 1 - f, col,
                                                            sizeof col), tip);
    }
    pl->drawn = nd;
    if (m->best != SIZE_MAX) {
        const Hpt__TrialResult *b = m->done[m->best];
        for (size_t i = 0; i < m->n_shown; i++) {
            double x = m->params[m->shown[i]].x[m->best];
            py[i] = isfinite(x) ? hpt_svg_map(&sc[i], x) : NAN;
        }
        py[naxes - 1] = hpt_svg_map(ss, b->mean_test_score);
        snprintf(tip, sizeof tip, "best: trial %llu, %s %s", (unsigned long long)b->trial,
                 m->s->metric, fmt_score(b->mean_test_score, scs, sizeof scs));
        hpt_svg_path(s, px, py, naxes, "pcbest", NULL, tip);
        pl->drawn++;
    }
    hpt_svg_colorbar(s, ss, px[naxes - 1] + 80, 12, m->maximize, m->s->metric);
    static const hpt_svg_legend_item_t items[] = {{HPT_SVG_KEY_LINE, "pcbest", "best trial"}};
    hpt_svg_legend(s, L - 60, H - 30, items, 1);
    bool gaps = false;
    for (size_t i = 0; i < m->n_shown; i++)
        gaps = gaps || m->params[m->shown[i]].absent;
    snprintf(pl->caption, sizeof pl->caption,
             "%zu finished trials, one line each, coloured by mean_test_score (%s is best)%s.",
             m->n_done, m->maximize ? "yellow, high," : "yellow, low,",
             gaps ? "; a gap is a conditional parameter that did not apply to the trial" : "");
    caption_subsample(m, pl->caption, sizeof pl->caption, m->n_done, "trials");
out:
    free(sc);
    free(order);
    free(px);
    free(py);
    return rc;
}

// --- the set ----------------------------------------------------------------------

struct hpt_plots {
    hpt_plot_t *plots;           // owned; each plot's svg is owned too
    size_t n;
    hpt_plot_const_t *consts;    // owned
    size_t n_consts;
    char note[1024];
};

/* Keep the finished document of svg as plot pl's text (a copy, so that the
 * set does not hold the writer). */
/* The race (select: race): x the look, y each leader's mean with its 95 %
 * interval as an error bar, a line per leader to the look that dropped it.
 * Only called when the sweep has race leaders. */
static int plot_race(const model_t *m, hpt_plot_t *pl, hpt_svg_t **out)
{
    enum { W = 720, H = 360, L = 66, R = 190, T = 34, B = 52 };
    const Hpt__SweepInfo *sw = m->s;
    pl->kind = HPT_PLOT_RACE;
    snprintf(pl->name, sizeof pl->name, "race");
    snprintf(pl->title, sizeof pl->title, "the race of the leaders: mean +- 95%% CI per look");
    int rc = hpt_svg_new(out, W, H, pl->title);
    if (rc < 0)
        return rc;
    hpt_svg_t *s = *out;
    hpt_svg_text(s, L, 20, "start", 0, "title", 80, pl->title);
    size_t looks = 1, n = sw->n_race_leaders;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const Hpt__RaceLeader *l = sw->race_leaders[i];
        looks = l->n_mean > looks ? l->n_mean : looks;
        for (size_t j = 0; j < l->n_mean; j++) {
            double h = j < l->n_half_width && isfinite(l->half_width[j]) ? l->half_width[j] : 0;
            if (isfinite(l->mean[j])) {
                lo = fmin(lo, l->mean[j] - h);
                hi = fmax(hi, l->mean[j] + h);
            }
        }
    }
    pl->points = pl->drawn = n;
    if (!(lo <= hi)) {
        hpt_svg_text(s, (L + W - R) / 2.0, H / 2.0, "middle", 0, "note", 0, "no look yet");
        snprintf(pl->caption, sizeof pl->caption, "The race has taken no look yet.");
        return 0;
    }
    hpt_svg_scale_t xs, ys;
    hpt_svg_scale_linear(&xs, -0.25, (double)(looks - 1) + 0.25, (int)(looks < 8 ? looks : 8),
                         L, W - R);
    hpt_svg_scale_linear(&ys, lo, hi, 5, H - B, T);
    char ytitle[128], tip[256], a[64], b[64], col[16], lab[96];
    hpt_svg_axis(s, &xs, HPT_SVG_BOTTOM, H - B, H - B, T, NULL,
                 "look (0 = the search's splits; r = after race round r)");
    hpt_svg_axis(s, &ys, HPT_SVG_LEFT, L, L, W - R, NULL, score_title(m, ytitle, sizeof ytitle));
    double *px = calloc(looks, sizeof *px), *py = calloc(looks, sizeof *py);
    if (!px || !py) {
        free(px);
        free(py);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const Hpt__RaceLeader *l = sw->race_leaders[i];
        hpt_svg_color(n > 1 ? (double)i / (double)(n - 1) : 1.0, col, sizeof col);
        /* Spread the leaders a little along x so their bars do not hide
         * each other. */
        double dx = n > 1 ? 0.16 * ((double)i / (double)(n - 1) - 0.5) : 0;
        size_t k = 0;
        for (size_t j = 0; j < l->n_mean; j++) {
            if (!isfinite(l->mean[j]))
                continue;
            double x = hpt_svg_map(&xs, (double)j + dx), y = hpt_svg_map(&ys, l->mean[j]);
            double h = j < l->n_half_width && isfinite(l->half_width[j]) ? l->half_width[j] : 0;
            hpt_svg_line(s, x, hpt_svg_map(&ys, l->mean[j] - h), x,
                         hpt_svg_map(&ys, l->mean[j] + h), "err");
            snprintf(tip, sizeof tip, "trial %llu at look %zu: %s %s +- %s",
                     (unsigned long long)l->trial, j, sw->metric,
                     fmt_score(l->mean[j], a, sizeof a), fmt_score(h, b, sizeof b));
            hpt_svg_circle(s, x, y, 3.5, "pt", col, tip);
            px[k] = x;
            py[k++] = y;
        }
        if (k > 1)
            hpt_svg_path(s, px, py, k, "trend", col, NULL);
        if (l->trial == sw->race_winner && k > 0)
            hpt_svg_circle(s, px[k - 1], py[k - 1], 7, "best", NULL, "the race's winner");
        if (l->dropped_at)
            snprintf(lab, sizeof lab, "trial %llu: dropped at look %u (p %s)",
                     (unsigned long long)l->trial, l->dropped_at - 1,
                     fmt_score(l->p_drop, a, sizeof a));
        else
            snprintf(lab, sizeof lab, "trial %llu%s", (unsigned long long)l->trial,
                     l->trial == sw->race_winner ? ": winner" : ": still in");
        hpt_svg_circle(s, W - R + 20, T + 10 + 16.0 * (double)i, 4, "pt", col, NULL);
        hpt_svg_text(s, W - R + 30, T + 14 + 16.0 * (double)i, "start", 0, "label", 28, lab);
    }
    free(px);
    free(py);
    snprintf(pl->caption, sizeof pl->caption,
             "%zu leaders over %zu look%s: each dot is a leader's mean over its splits so far, "
             "the bar its 95%% interval (corrected for the overlap of CV training sets). %s",
             n, looks, looks == 1 ? "" : "s", sw->race ? sw->race : "");
    return 0;
}

static int take_svg(hpt_plot_t *pl, hpt_svg_t **svg)
{
    size_t len = 0;
    const char *text = hpt_svg_finish(*svg, &len);
    char *copy = text ? malloc(len + 1) : NULL;
    if (copy)
        memcpy(copy, text, len + 1);
    hpt_svg_destroy(svg);
    if (!copy)
        return -ENOMEM;
    pl->svg = copy;
    pl->len = len;
    return 0;
}

int hpt_plots_new(hpt_plots_t **out, const Hpt__ResultsReply *r, double now, size_t max_points)
{
    *out = NULL;
    model_t m;
    if (model_build(&m, r, now, max_points) < 0)
        return -ENOMEM;
    hpt_plots_t *p = calloc(1, sizeof *p);
    int rc = -ENOMEM;
    if (!p)
        goto out;
    p->plots = calloc(m.n_shown + 3, sizeof *p->plots);
    p->consts = calloc(m.n_params ? m.n_params : 1, sizeof *p->consts);
    if (!p->plots || !p->consts)
        goto out;
    rc = 0;
    size_t last = m.n_shown + 1 + (m.s->n_race_leaders > 0);
    for (size_t i = 0; i <= last && rc == 0; i++) {
        hpt_svg_t *svg = NULL;
        hpt_plot_t *pl = &p->plots[i];
        rc = i < m.n_shown        ? plot_param(&m, &m.params[m.shown[i]], pl, &svg)
             : i == m.n_shown     ? plot_progress(&m, pl, &svg)
             : i == m.n_shown + 1 ? plot_parallel(&m, pl, &svg)
                                  : plot_race(&m, pl, &svg);
        if (rc == 0)
            rc = take_svg(pl, &svg);
        hpt_svg_destroy(&svg);
        if (rc == 0)
            p->n++;
    }
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < m.n_params; i++) {
        const param_axis_t *a = &m.params[i];
        if (!a->constant || (!spec_knows(r) && r->n_trials < 2))
            continue;
        hpt_plot_const_t *c = &p->consts[p->n_consts++];
        snprintf(c->name, sizeof c->name, "%s", a->name);
        for (size_t k = 0; k < r->n_trials; k++) {
            const Hpt__Param *v = hpt_json_trial_param(r->trials[k], a->name, i);
            if (!absent(v)) {
                snprintf(c->value, sizeof c->value, "%s", v->text);
                break;
            }
        }
        catf(p->note, sizeof p->note, "%s%s%s%s",
             p->n_consts == 1 ? "Not plotted, one value in every trial: " : ", ", c->name,
             c->value[0] ? " = " : "", c->value);
    }
    if (p->n_consts)
        catf(p->note, sizeof p->note, ".");
    if (!spec_knows(r) && r->n_trials < 2 && m.n_params)
        snprintf(p->note, sizeof p->note,
                 "No plot per parameter yet: the sweep has %s trial%s to compare.",
                 r->n_trials ? "only one" : "no", r->n_trials ? "" : "s");
out:
    model_free(&m);
    if (rc < 0)
        hpt_plots_destroy(&p);
    *out = p;
    return rc;
}

void hpt_plots_destroy(hpt_plots_t **pp)
{
    if (!pp || !*pp)
        return;
    hpt_plots_t *p = *pp;
    for (size_t i = 0; p->plots && i < p->n; i++)
        free((char *)p->plots[i].svg);
    free(p->plots);
    free(p->consts);
    free(p);
    *pp = NULL;
}

size_t hpt_plots_count(const hpt_plots_t *p)
{
    return p->n;
}

const hpt_plot_t *hpt_plots_get(const hpt_plots_t *p, size_t i)
{
    return i < p->n ? &p->plots[i] : NULL;
}

const hpt_plot_t *hpt_plots_find(const hpt_plots_t *p, const char *name)
{
    size_t len = strlen(name);
    if (len > 4 && strcmp(name + len - 4, ".svg") == 0)
        len -= 4;
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->plots[i].name) == len && strncmp(p->plots[i].name, name, len) == 0)
            return &p->plots[i];
    return NULL;
}

size_t hpt_plots_n_constants(const hpt_plots_t *p)
{
    return p->n_consts;
}

const hpt_plot_const_t *hpt_plots_constant(const hpt_plots_t *p, size_t i)
{
    return i < p->n_consts ? &p->consts[i] : NULL;
}

const char *hpt_plots_note(const hpt_plots_t *p)
{
    return p->note;
}
