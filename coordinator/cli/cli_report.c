/*
 * cli_report.c: `hptune report SWEEP [-o DIR] [--top N]`: a self-contained
 * HTML report of what a sweep has found, for people.
 *
 * One ResultsReply (the same request `hptune results` makes) becomes:
 *   DIR/index.html               the report: header, winner, plots, table;
 *   DIR/param-<NAME>.svg         the score against each tuned parameter;
 *   DIR/best-so-far.svg          the best score over the sweep's time;
 *   DIR/parallel-coordinates.svg every finished trial across every parameter;
 *   DIR/results.csv              every trial, byte for byte what
 *                                `hptune results SWEEP --format csv` prints.
 * The SVGs are also inlined in index.html, so the page needs nothing else:
 * no scripts, fonts, style sheets or images from anywhere.  Copying DIR (or
 * index.html alone) keeps it working offline.
 *
 * Invariants: index.html is written last, so a directory holding one holds
 * the rest; every file is written to a temporary name in DIR and renamed,
 * so a reader (a web server, a browser reloading) never sees half a file.
 * The sentences about the winner are cli_results.c's (cli_results.h), so
 * the report and `hptune results` never disagree in wording.  A trial
 * counts in the plots once it is done (state "done", a finite mean score);
 * the table shows every state as `hptune results` does.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_format.h"
#include "cli_results.h"
#include "hpt_config.h"
#include "svg.h"

#define DEFAULT_TOP 50

static void print_help(FILE *f)
{
    fputs("Usage: hptune report SWEEP [-o DIR] [--top N] [OPTIONS]\n"
          "\n"
          "Write a self-contained HTML report of what sweep SWEEP has found so far into\n"
          "the directory DIR (created with its parents when missing), and print the path\n"
          "of its index.html.  The sweep may still be running: the report then says it is\n"
          "a snapshot and how far the sweep had got.\n"
          "\n"
          "DIR/index.html holds, in order:\n"
          "  - the sweep: name, method, dataset, metric and goal, CV folds x repeats,\n"
          "    progress and times;\n"
          "  - the winner: its parameters, its mean score \u00b1 std over the CV splits,\n"
          "    whether it is significantly better than the runner-up (the corrected\n"
          "    resampled t-test, worded as hptune results words it), and the refit test\n"
          "    score with its 95% Wilson interval;\n"
          "  - score against each hyperparameter, one panel per tuned parameter: every\n"
          "    finished trial's mean_test_score, and per value the mean \u00b1 std over the\n"
          "    trials with that value (the error bars).  Numeric parameters get a numeric\n"
          "    axis, logarithmic when the values are positive and span more than 1.5\n"
          "    decades; other parameters (names, booleans) get one category per value.\n"
          "    Trials in which a conditional parameter does not apply are left out of\n"
          "    its panel;\n"
          "  - best so far: each trial's score at the time it finished, in minutes since\n"
          "    the sweep started, and the best score up to then as a step line;\n"
          "  - parallel coordinates: one vertical axis per parameter plus the score, one\n"
          "    line per finished trial, coloured by its score (yellow is best), the best\n"
          "    trial in red; a conditional parameter's absent value leaves a gap;\n"
          "  - the results table of `hptune results` (rank, trial, param_<name>...,\n"
          "    mean_test_score, std_test_score, mean_fit_time, state) for the N best\n"
          "    trials by rank; trials statistically indistinguishable from the winner\n"
          "    are shaded.\n"
          "Next to it: each plot as an SVG file (param-<NAME>.svg, best-so-far.svg,\n"
          "parallel-coordinates.svg; the same drawings are inlined in index.html) and\n"
          "results.csv with every trial, identical to `hptune results SWEEP --format\n"
          "csv`.  Existing files of those names are replaced; nothing else in DIR is\n"
          "touched.  The page uses no scripts and loads nothing from elsewhere.\n"
          "\n"
          "Options:\n"
          "  -o, --output DIR        the directory to write           [hptune-report-SWEEP]\n"
          "  -n, --top N             rows of the table in index.html, by rank (0 = all)\n"
          "                                                                          [50]\n"
          CLI_CONN_HELP
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 written, 1 no such sweep or DIR cannot be written, 2 bad flag,\n"
          "3 coordinator unreachable.\n"
          "\n"
          "Examples:\n"
          "  hptune report 3 -o report-3 && xdg-open report-3/index.html\n"
          "  hptune status 3 --watch && hptune report 3 -o /var/www/sweeps/3\n",
          f);
}

// --- the data behind the plots ------------------------------------------------

/* One tuned parameter across the finished trials. */
typedef struct param_axis {
    const char *name;      // borrowed from the reply
    bool numeric;          // every present value is a number
    bool log;              // numeric, positive, spanning more than 1.5 decades
    const char **cats;     // categorical: the distinct texts, in order of first
                           // appearance over all trials (owned array, borrowed strings)
    int n_cats;
    double *x;             // per done trial: the number, or the category index;
                           // NaN when the trial has no value (owned, n_done entries)
    size_t absent;         // done trials without a value
    char file[160];        // "param-<NAME>.svg"
} param_axis_t;

typedef struct model {
    const Hpt__ResultsReply *r;
    const Hpt__SweepInfo *s;          // r->sweep (an empty one when missing)
    Hpt__TrialResult **done;          // done trials with a finite mean, trial order (owned)
    size_t n_done;
    param_axis_t *params;             // r->n_param_names entries (owned)
    size_t n_params;
    const Hpt__TrialResult *best;     // the sweep's best trial among done, or NULL
    bool maximize;
    bool ended;                       // done, failed or cancelled
    double now;                       // unix seconds, when the report was made
} model_t;

static bool ended_state(const char *st)
{
    return strcmp(st, "done") == 0 || strcmp(st, "failed") == 0 ||
           strcmp(st, "cancelled") == 0;
}

/* "mean_test_score (accuracy, higher is better)". */
static const char *score_title(const model_t *m, char *buf, size_t len)
{
    snprintf(buf, len, "mean_test_score (%s, %s is better)", m->s->metric,
             m->maximize ? "higher" : "lower");
    return buf;
}

static bool better(const model_t *m, double a, double b)
{
    return m->maximize ? a > b : a < b;
}

/* Whether a parameter value is absent (a conditional parameter whose
 * condition does not hold for the trial: no number and no text). */
static bool absent(const Hpt__Param *p)
{
    return !p || (!p->numeric && (!p->text || p->text[0] == '\0'));
}

/* A file name made of the parameter's name: letters, digits, '_', '-', '.'
 * kept, anything else '_' (spec parameter names are identifiers anyway). */
static void param_file(const char *name, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "param-");
    for (const char *p = name; *p && o + 5 < len; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        buf[o++] = ok ? c : '_';
    }
    snprintf(buf + o, len - o, ".svg");
}

static void model_free(model_t *m)
{
    for (size_t i = 0; i < m->n_params && m->params; i++) {
        free(m->params[i].cats);
        free(m->params[i].x);
    }
    free(m->params);
    free(m->done);
    *m = (model_t){0};
}

static int model_build(model_t *m, const Hpt__ResultsReply *r)
{
    static const Hpt__SweepInfo empty = HPT__SWEEP_INFO__INIT;
    *m = (model_t){.r = r, .s = r->sweep ? r->sweep : &empty, .now = (double)time(NULL)};
    m->maximize = m->s->maximize;
    m->ended = ended_state(m->s->state);
    m->done = calloc(r->n_trials ? r->n_trials : 1, sizeof *m->done);
    m->params = calloc(r->n_param_names ? r->n_param_names : 1, sizeof *m->params);
    if (!m->done || !m->params)
        goto oom;
    m->n_params = r->n_param_names;
    for (size_t k = 0; k < r->n_trials; k++) {
        Hpt__TrialResult *t = r->trials[k];
        if (strcmp(t->state, "done") == 0 && isfinite(t->mean_test_score))
            m->done[m->n_done++] = t;
    }
    for (size_t k = 0; k < m->n_done; k++)
        if (m->done[k]->trial == m->s->best_trial)
            m->best = m->done[k];
    for (size_t i = 0; i < m->n_params; i++) {
        param_axis_t *a = &m->params[i];
        a->name = r->param_names[i];
        param_file(a->name, a->file, sizeof a->file);
        a->x = calloc(m->n_done ? m->n_done : 1, sizeof *a->x);
        a->cats = calloc(r->n_trials ? r->n_trials : 1, sizeof *a->cats);
        if (!a->x || !a->cats)
            goto oom;
        /* Numeric when every present value is; categories over all trials
         * (not only the done ones) so the axis does not change as they
         * finish. */
        bool any = false;
        a->numeric = true;
        for (size_t k = 0; k < r->n_trials; k++) {
            const Hpt__Param *p = cli_results_param(r->trials[k], a->name, i);
            if (absent(p))
                continue;
            any = true;
            a->numeric = a->numeric && p->numeric && isfinite(p->number);
        }
        a->numeric = a->numeric && any;
        if (!a->numeric)
            for (size_t k = 0; k < r->n_trials; k++) {
                const Hpt__Param *p = cli_results_param(r->trials[k], a->name, i);
                if (absent(p))
                    continue;
                int c = 0;
                while (c < a->n_cats && strcmp(a->cats[c], p->text) != 0)
                    c++;
                if (c == a->n_cats)
                    a->cats[a->n_cats++] = p->text;
            }
        for (size_t k = 0; k < m->n_done; k++) {
            const Hpt__Param *p = cli_results_param(m->done[k], a->name, i);
            a->x[k] = NAN;
            if (absent(p)) {
                a->absent++;
            } else if (a->numeric) {
                a->x[k] = p->number;
            } else {
                for (int c = 0; c < a->n_cats; c++)
                    if (strcmp(a->cats[c], p->text) == 0)
                        a->x[k] = c;
            }
        }
        a->log = a->numeric && cli_svg_wants_log(a->x, m->n_done);
    }
    return 0;
oom:
    model_free(m);
    return -ENOMEM;
}

/* A scale over a parameter's done values: log, linear or categorical. */
static void param_scale(const param_axis_t *a, size_t n, double p0, double p1,
                        cli_svg_scale_t *sc)
{
    if (!a->numeric) {
        cli_svg_scale_cat(sc, a->n_cats, p0, p1);
        return;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < n; k++)
        if (isfinite(a->x[k])) {
            lo = fmin(lo, a->x[k]);
            hi = fmax(hi, a->x[k]);
        }
    if (a->log)
        cli_svg_scale_log(sc, lo, hi, p0, p1);
    else
        cli_svg_scale_linear(sc, lo, hi, 5, p0, p1);
}

/* A deterministic jitter in [-0.5, 0.5) from the trial number, so points of
 * one category do not hide each other and the picture is reproducible. */
static double jitter(uint64_t trial)
{
    uint64_t h = trial * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return (double)(h % 1000) / 1000.0 - 0.5;
}

// --- plots ----------------------------------------------------------------------

/* Each plot is built in memory, then written to its file and inlined. */
typedef struct plot {
    char file[160];      // the SVG's file name in DIR
    char caption[512];   // plain text under the figure (escaped when written)
    cli_svg_t *svg;      // owned
} plot_t;

typedef struct group {
    double x, mean, std;
    size_t n;
} group_t;

static int cmp_xy(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Score against parameter a: points, mean +- std per value, the best ring. */
static int plot_param(const model_t *m, const param_axis_t *a, plot_t *pl)
{
    enum { W = 560, H = 320, L = 66, R = 140, T = 34 };
    double B = !a->numeric && a->n_cats > 0 && (W - L - R) / a->n_cats < 60 ? 74 : 56;
    char title[300], ytitle[128];
    snprintf(title, sizeof title, "%s against %s%s", "mean_test_score", a->name,
             a->log ? " (log scale)" : "");
    snprintf(pl->file, sizeof pl->file, "%s", a->file);
    int rc = cli_svg_new(&pl->svg, W, H, title);
    if (rc < 0)
        return rc;
    cli_svg_t *s = pl->svg;
    cli_svg_text(s, L, 20, "start", 0, "title", 70, title);

    /* (x, score) of the done trials that have a value, sorted by x. */
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
    if (n == 0) {
        cli_svg_text(s, (L + W - R) / 2.0, H / 2.0, "middle", 0, "note", 0,
                     m->n_done ? "no finished trial has a value for this parameter"
                               : "no finished trials yet");
        snprintf(pl->caption, sizeof pl->caption, "%s: no finished trial with a value yet.",
                 a->name);
        free(xy);
        free(g);
        return 0;
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
    cli_svg_scale_t xs, ys;
    if (a->numeric)
        param_scale(a, m->n_done, L + 10, W - R - 10, &xs);
    else
        cli_svg_scale_cat(&xs, a->n_cats, L, W - R);
    cli_svg_scale_linear(&ys, lo, hi, 5, H - B, T);
    cli_svg_axis(s, &xs, CLI_SVG_BOTTOM, H - B, H - B, T, a->numeric ? NULL : a->cats,
                 a->name);
    cli_svg_axis(s, &ys, CLI_SVG_LEFT, L, L, W - R, NULL, score_title(m, ytitle, sizeof ytitle));

    double band = a->numeric ? 0 : (W - L - R) / (double)a->n_cats;
    double jit = band * 0.4 < 28 ? band * 0.4 : 28;
    char tip[512], sc[64], sd[64];
    for (size_t i = 0; i < n; i++) {
        const Hpt__TrialResult *t = m->done[(size_t)xy[3 * i + 2]];
        const Hpt__Param *p = cli_results_param(t, a->name, 0);
        double px = cli_svg_map(&xs, xy[3 * i]) + (a->numeric ? 0 : jit * jitter(t->trial));
        snprintf(tip, sizeof tip, "trial %llu: %s=%s, %s %s", (unsigned long long)t->trial,
                 a->name, p ? p->text : "?", m->s->metric,
                 cli_fmt_score(t->mean_test_score, sc, sizeof sc));
        cli_svg_circle(s, px, cli_svg_map(&ys, xy[3 * i + 1]), 3, "pt", NULL, tip);
    }
    /* A dashed line through the means when values repeat (a grid): the
     * trend.  Not for categories, whose order means nothing. */
    if (a->numeric && ng >= 2 && ng < n) {
        double *px = malloc(ng * 2 * sizeof *px);
        if (px) {
            for (size_t i = 0; i < ng; i++) {
                px[i] = cli_svg_map(&xs, g[i].x);
                px[ng + i] = cli_svg_map(&ys, g[i].mean);
            }
            cli_svg_path(s, px, px + ng, ng, "trend", NULL, NULL);
            free(px);
        }
    }
    for (size_t i = 0; i < ng; i++) {
        double px = cli_svg_map(&xs, g[i].x), py = cli_svg_map(&ys, g[i].mean);
        if (g[i].n > 1) {
            double y0 = cli_svg_map(&ys, g[i].mean - g[i].std);
            double y1 = cli_svg_map(&ys, g[i].mean + g[i].std);
            cli_svg_line(s, px, y0, px, y1, "err");
            cli_svg_line(s, px - 4, y0, px + 4, y0, "err");
            cli_svg_line(s, px - 4, y1, px + 4, y1, "err");
        }
        char v[64];
        const char *vt = a->numeric ? cli_fmt_exact(g[i].x, v, sizeof v)
                                    : a->cats[(int)g[i].x];
        snprintf(tip, sizeof tip, "%s=%s: mean %s over %zu trial%s", a->name, vt,
                 cli_fmt_mean_std(g[i].mean, g[i].n > 1 ? g[i].std : NAN, sd, sizeof sd),
                 g[i].n, g[i].n == 1 ? "" : "s");
        cli_svg_circle(s, px, py, 4, "mean", NULL, tip);
    }
    if (m->best) {
        size_t bk = 0;
        while (bk < m->n_done && m->done[bk] != m->best)
            bk++;
        if (bk < m->n_done && isfinite(a->x[bk])) {
            double px = cli_svg_map(&xs, a->x[bk]) +
                        (a->numeric ? 0 : jit * jitter(m->best->trial));
            snprintf(tip, sizeof tip, "best: trial %llu", (unsigned long long)m->best->trial);
            cli_svg_circle(s, px, cli_svg_map(&ys, m->best->mean_test_score), 6.5, "best",
                           NULL, tip);
        }
    }
    static const cli_svg_legend_item_t items[] = {
        {CLI_SVG_KEY_POINT, NULL, "one trial"},
        {CLI_SVG_KEY_MEAN, NULL, "mean \u00b1 std"},
        {CLI_SVG_KEY_RING, NULL, "best trial"},
    };
    cli_svg_legend(s, W - R + 14, T, items, 3);

    int off = snprintf(pl->caption, sizeof pl->caption,
                       "%s: %zu finished trial%s over %zu value%s; %s axis.", a->name, n,
                       n == 1 ? "" : "s", ng, ng == 1 ? "" : "s",
                       !a->numeric ? "categorical" : a->log ? "logarithmic" : "linear");
    if (a->absent && off > 0 && (size_t)off < sizeof pl->caption)
        snprintf(pl->caption + off, sizeof pl->caption - (size_t)off,
                 " %zu finished trial%s without this parameter (its condition did not hold) "
                 "%s left out.",
                 a->absent, a->absent == 1 ? "" : "s", a->absent == 1 ? "is" : "are");
    free(xy);
    free(g);
    return 0;
}

static const model_t *sort_model;   // qsort has no context argument

static int by_finish(const void *a, const void *b)
{
    const Hpt__TrialResult *x = *(Hpt__TrialResult *const *)a;
    const Hpt__TrialResult *y = *(Hpt__TrialResult *const *)b;
    if (x->finished_unix != y->finished_unix)
        return x->finished_unix < y->finished_unix ? -1 : 1;
    return x->trial < y->trial ? -1 : x->trial > y->trial;
}

/* Best score so far against minutes since the sweep started. */
static int plot_progress(const model_t *m, plot_t *pl)
{
    enum { W = 720, H = 330, L = 66, R = 170, T = 34, B = 52 };
    const char *title = "best mean_test_score so far over time";
    snprintf(pl->file, sizeof pl->file, "best-so-far.svg");
    int rc = cli_svg_new(&pl->svg, W, H, title);
    if (rc < 0)
        return rc;
    cli_svg_t *s = pl->svg;
    cli_svg_text(s, L, 20, "start", 0, "title", 80, title);
    Hpt__TrialResult **ts = calloc(m->n_done ? m->n_done : 1, sizeof *ts);
    double *px = calloc(2 * m->n_done + 2, sizeof *px);
    double *py = calloc(2 * m->n_done + 2, sizeof *py);
    if (!ts || !px || !py) {
        free(ts);
        free(px);
        free(py);
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t k = 0; k < m->n_done; k++)
        if (isfinite(m->done[k]->finished_unix) && m->done[k]->finished_unix > 0)
            ts[n++] = m->done[k];
    qsort(ts, n, sizeof *ts, by_finish);
    if (n == 0) {
        cli_svg_text(s, (L + W - R) / 2.0, H / 2.0, "middle", 0, "note", 0,
                     m->n_done ? "the coordinator sent no finish times"
                               : "no finished trials yet");
        snprintf(pl->caption, sizeof pl->caption, "No finished trial with a finish time yet.");
        goto out;
    }
    /* Time zero: when the sweep started (its first task was handed out),
     * else when it was submitted, else its first finish. */
    double t0 = m->s->started_unix > 0   ? m->s->started_unix
                : m->s->created_unix > 0 ? m->s->created_unix
                                         : ts[0]->finished_unix;
    double last = ts[n - 1]->finished_unix;
    /* The line runs on to the end of the sweep, or to now while it runs
     * (unless this machine's clock is behind the coordinator's). */
    double end = m->ended && m->s->finished_unix > last ? m->s->finished_unix
                 : !m->ended && m->now > last          ? m->now
                                                       : last;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, ts[i]->mean_test_score);
        hi = fmax(hi, ts[i]->mean_test_score);
    }
    cli_svg_scale_t xs, ys;
    cli_svg_scale_linear(&xs, 0, fmax((end - t0) / 60.0, 1e-3), 6, L, W - R);
    cli_svg_scale_linear(&ys, lo, hi, 5, H - B, T);
    char ytitle[128], tip[256], sc[64], mins[64];
    cli_svg_axis(s, &xs, CLI_SVG_BOTTOM, H - B, H - B, T, NULL,
                 "minutes since the sweep started");
    cli_svg_axis(s, &ys, CLI_SVG_LEFT, L, L, W - R, NULL, score_title(m, ytitle, sizeof ytitle));
    for (size_t i = 0; i < n; i++) {
        double x = (ts[i]->finished_unix - t0) / 60.0;
        snprintf(tip, sizeof tip, "trial %llu finished at %s min: %s %s",
                 (unsigned long long)ts[i]->trial, cli_fmt_exact(round(x * 100) / 100, mins,
                                                                  sizeof mins),
                 m->s->metric, cli_fmt_score(ts[i]->mean_test_score, sc, sizeof sc));
        cli_svg_circle(s, cli_svg_map(&xs, x), cli_svg_map(&ys, ts[i]->mean_test_score), 3, "pt",
                       NULL, tip);
    }
    /* The step line: flat until a trial beats the best, then up (down). */
    size_t k = 0;
    double best = NAN;
    for (size_t i = 0; i < n; i++) {
        double x = cli_svg_map(&xs, (ts[i]->finished_unix - t0) / 60.0);
        double v = ts[i]->mean_test_score;
        if (isnan(best) || better(m, v, best)) {
            if (!isnan(best)) {
                px[k] = x;
                py[k++] = cli_svg_map(&ys, best);
            }
            best = v;
            px[k] = x;
            py[k++] = cli_svg_map(&ys, best);
        }
    }
    px[k] = cli_svg_map(&xs, (end - t0) / 60.0);
    py[k++] = cli_svg_map(&ys, best);
    snprintf(tip, sizeof tip, "best so far: %s %s", m->s->metric,
             cli_fmt_score(best, sc, sizeof sc));
    cli_svg_path(s, px, py, k, "step", NULL, tip);
    if (m->best && isfinite(m->best->finished_unix) && m->best->finished_unix > 0)
        cli_svg_circle(s, cli_svg_map(&xs, (m->best->finished_unix - t0) / 60.0),
                       cli_svg_map(&ys, m->best->mean_test_score), 6.5, "best", NULL,
                       "best trial");
    static const cli_svg_legend_item_t items[] = {
        {CLI_SVG_KEY_POINT, NULL, "a trial, when done"},
        {CLI_SVG_KEY_LINE, "step", "best so far"},
        {CLI_SVG_KEY_RING, NULL, "best trial"},
    };
    cli_svg_legend(s, W - R + 14, T, items, 3);
    char dur[32];
    snprintf(pl->caption, sizeof pl->caption,
             "%zu finished trials over %s; the best score so far %s.", n,
             cli_fmt_duration(last - t0, dur, sizeof dur),
             m->ended ? "until the sweep ended" : "until this report was made");
out:
    free(ts);
    free(px);
    free(py);
    return 0;
}

static int by_goodness(const void *a, const void *b)
{
    const Hpt__TrialResult *x = *(Hpt__TrialResult *const *)a;
    const Hpt__TrialResult *y = *(Hpt__TrialResult *const *)b;
    /* Worst first, so the best lines are drawn last, on top. */
    if (x->mean_test_score != y->mean_test_score)
        return better(sort_model, x->mean_test_score, y->mean_test_score) ? 1 : -1;
    return x->trial < y->trial ? -1 : x->trial > y->trial;
}

/* One vertical axis per parameter plus the score; a line per done trial. */
static int plot_parallel(const model_t *m, plot_t *pl)
{
    enum { SPACING = 130, L = 80, T = 56, B = 60, H = 440 };
    size_t naxes = m->n_params + 1;
    double W = L + SPACING * (double)(naxes - 1) + 150;
    const char *title = "parallel coordinates: every finished trial";
    snprintf(pl->file, sizeof pl->file, "parallel-coordinates.svg");
    int rc = cli_svg_new(&pl->svg, W, H, title);
    if (rc < 0)
        return rc;
    cli_svg_t *s = pl->svg;
    cli_svg_text(s, 14, 20, "start", 0, "title", 90, title);
    if (m->n_done == 0) {
        cli_svg_text(s, W / 2, H / 2.0, "middle", 0, "note", 0, "no finished trials yet");
        snprintf(pl->caption, sizeof pl->caption, "No finished trials yet.");
        return 0;
    }
    cli_svg_scale_t *sc = calloc(naxes, sizeof *sc);
    Hpt__TrialResult **order = calloc(m->n_done, sizeof *order);
    size_t *idx = calloc(m->n_done, sizeof *idx);
    double *px = calloc(naxes, sizeof *px), *py = calloc(naxes, sizeof *py);
    if (!sc || !order || !idx || !px || !py) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < m->n_params; i++) {
        param_scale(&m->params[i], m->n_done, H - B, T, &sc[i]);
        px[i] = L + SPACING * (double)i;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < m->n_done; k++) {
        lo = fmin(lo, m->done[k]->mean_test_score);
        hi = fmax(hi, m->done[k]->mean_test_score);
    }
    cli_svg_scale_t *ss = &sc[naxes - 1];
    cli_svg_scale_linear(ss, lo, hi, 6, H - B, T);
    px[naxes - 1] = L + SPACING * (double)(naxes - 1);
    for (size_t i = 0; i < m->n_params; i++)
        cli_svg_axis(s, &sc[i], CLI_SVG_PARALLEL, px[i], 0, 0,
                     m->params[i].numeric ? NULL : m->params[i].cats, m->params[i].name);
    cli_svg_axis(s, ss, CLI_SVG_PARALLEL, px[naxes - 1], 0, 0, NULL, "mean_test_score");
    for (size_t i = 0; i < m->n_params; i++)
        if (m->params[i].log)
            cli_svg_text(s, px[i], H - B + 18, "middle", 0, "note", 0, "log scale");

    memcpy(order, m->done, m->n_done * sizeof *order);
    sort_model = m;
    qsort(order, m->n_done, sizeof *order, by_goodness);
    /* Where each ordered trial sits in m->done (its row of the x arrays). */
    for (size_t j = 0; j < m->n_done; j++)
        for (size_t k = 0; k < m->n_done; k++)
            if (m->done[k] == order[j]) {
                idx[j] = k;
                break;
            }
    char tip[128], col[16], scs[64];
    for (size_t j = 0; j < m->n_done; j++) {
        const Hpt__TrialResult *t = order[j];
        if (t == m->best)
            continue;   // drawn last
        for (size_t i = 0; i < m->n_params; i++)
            py[i] = isfinite(m->params[i].x[idx[j]]) ? cli_svg_map(&sc[i], m->params[i].x[idx[j]])
                                                     : NAN;
        py[naxes - 1] = cli_svg_map(ss, t->mean_test_score);
        double f = (t->mean_test_score - ss->lo) / (ss->hi - ss->lo);
        snprintf(tip, sizeof tip, "trial %llu: %s %s", (unsigned long long)t->trial,
                 m->s->metric, cli_fmt_score(t->mean_test_score, scs, sizeof scs));
        cli_svg_path(s, px, py, naxes, "pc", cli_svg_color(m->maximize ? f : 1 - f, col,
                                                            sizeof col), tip);
    }
    if (m->best) {
        size_t bk = 0;
        while (bk < m->n_done && m->done[bk] != m->best)
            bk++;
        for (size_t i = 0; i < m->n_params; i++)
            py[i] = isfinite(m->params[i].x[bk]) ? cli_svg_map(&sc[i], m->params[i].x[bk])
                                                 : NAN;
        py[naxes - 1] = cli_svg_map(ss, m->best->mean_test_score);
        snprintf(tip, sizeof tip, "best: trial %llu, %s %s", (unsigned long long)m->best->trial,
                 m->s->metric, cli_fmt_score(m->best->mean_test_score, scs, sizeof scs));
        cli_svg_path(s, px, py, naxes, "pcbest", NULL, tip);
    }
    cli_svg_colorbar(s, ss, px[naxes - 1] + 80, 12, m->maximize, m->s->metric);
    static const cli_svg_legend_item_t items[] = {{CLI_SVG_KEY_LINE, "pcbest", "best trial"}};
    cli_svg_legend(s, L - 60, H - 30, items, 1);
    bool gaps = false;
    for (size_t i = 0; i < m->n_params; i++)
        gaps = gaps || m->params[i].absent;
    snprintf(pl->caption, sizeof pl->caption,
             "%zu finished trials, one line each, coloured by mean_test_score (%s is best)%s.",
             m->n_done, m->maximize ? "yellow, high," : "yellow, low,",
             gaps ? "; a gap is a conditional parameter that did not apply to the trial" : "");
out:
    free(sc);
    free(order);
    free(idx);
    free(px);
    free(py);
    return rc;
}

// --- files ----------------------------------------------------------------------

/* mkdir -p: create dir and its missing parents.  Returns 0 or -errno. */
static int make_dirs(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return -ENOMEM;
    int rc = 0;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    for (char *q = p + 1; ; q++) {
        bool last = *q == '\0';
        if (*q != '/' && !last)
            continue;
        *q = '\0';
        if (mkdir(p, 0777) < 0 && errno != EEXIST) {
            rc = -errno;
            break;
        }
        if (last)
            break;
        *q = '/';
    }
    struct stat st;
    if (rc == 0 && stat(p, &st) < 0)
        rc = -errno;
    else if (rc == 0 && !S_ISDIR(st.st_mode))
        rc = -ENOTDIR;
    free(p);
    return rc;
}

/* An output file being written under a temporary name in its directory. */
typedef struct out_file {
    FILE *f;
    char path[4096], tmp[4200];
} out_file_t;

static int out_open(out_file_t *o, const char *dir, const char *name)
{
    snprintf(o->path, sizeof o->path, "%s/%s", dir, name);
    snprintf(o->tmp, sizeof o->tmp, "%s/.%s.tmp-%ld", dir, name, (long)getpid());
    o->f = fopen(o->tmp, "w");
    return o->f ? 0 : -errno;
}

/* Close and move into place; on any error remove the temporary file.
 * Returns 0 or -errno. */
static int out_commit(out_file_t *o)
{
    int rc = 0;
    if (fflush(o->f) != 0 || ferror(o->f))
        rc = errno ? -errno : -EIO;
    if (fclose(o->f) != 0 && rc == 0)
        rc = -errno;
    o->f = NULL;
    if (rc == 0 && rename(o->tmp, o->path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(o->tmp);
    return rc;
}

static int write_failed(const char *cmd, const char *path, int rc)
{
    fprintf(stderr, "hptune %s: cannot write '%s': %s\n", cmd, path, strerror(-rc));
    return HPT_EXIT_FAIL;
}

// --- HTML -----------------------------------------------------------------------

static const char css[] =
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,Helvetica,Arial,sans-serif;"
    "margin:1.5em auto;max-width:1240px;padding:0 1em;color:#222;line-height:1.4}"
    "h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.25em;margin-top:1.6em;"
    "border-bottom:1px solid #ddd;padding-bottom:.2em}"
    ".meta{color:#555;margin:.2em 0}"
    ".banner{background:#fff4d6;border:1px solid #e0b800;padding:.6em 1em;border-radius:4px}"
    ".banner.bad{background:#fde2e1;border-color:#d62728}"
    ".plots{display:flex;flex-wrap:wrap;gap:1.2em}"
    "figure{margin:0 0 1em}figcaption{font-size:.85em;color:#555;max-width:560px}"
    "figure svg{max-width:100%;height:auto}"
    "table{border-collapse:collapse;font-size:.9em}"
    "th,td{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}"
    "th{background:#f6f6f6}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.winner td{background:#fde2e1;font-weight:bold}tr.indist td{background:#eef4fb}"
    ".scroll{overflow-x:auto}.note{color:#666;font-size:.9em}"
    "footer{margin-top:2.5em;color:#777;font-size:.85em;border-top:1px solid #ddd}";

/* Escaped text (cli_svg_fputs). */
static void h(FILE *f, const char *s)
{
    cli_svg_fputs(f, s);
}

/* Each line of text (lines end in '\n') as <p class="cls">line</p>. */
static void h_lines(FILE *f, const char *text, const char *cls)
{
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        char *line = strndup(text, n);
        if (line) {
            fprintf(f, "<p class=\"%s\">", cls);
            h(f, line);
            fputs("</p>\n", f);
            free(line);
        }
        text += n + (nl ? 1 : 0);
    }
}

/* A numeric cell: shown text, and the exact value in data-value (empty for
 * NaN) so that programs (and tests) can read the numbers bit for bit. */
static void td_num(FILE *f, const char *col, double v, const char *shown)
{
    char e[64];
    fprintf(f, "<td class=\"num\" data-col=\"%s\" data-value=\"%s\">", col,
            cli_fmt_exact(v, e, sizeof e));
    h(f, shown);
    fputs("</td>", f);
}

static void write_header(FILE *f, const model_t *m)
{
    const Hpt__SweepInfo *s = m->s;
    char a[64], b[64], c[64];
    fputs("<header>\n<h1>Sweep ", f);
    fprintf(f, "%llu ", (unsigned long long)s->id);
    h(f, s->name);
    fputs("</h1>\n<p class=\"meta\">", f);
    h(f, s->method);
    fputs(" search on ", f);
    h(f, s->dataset);
    fputs(", ranked by ", f);
    h(f, s->metric);
    fprintf(f, " (%s is better), %u-fold cross-validation", m->maximize ? "higher" : "lower",
            s->folds);
    if (s->repeats > 1)
        fprintf(f, " \u00d7 %u repeats", s->repeats);
    fputs("</p>\n<p class=\"meta\" id=\"progress\">State <b>", f);
    h(f, s->state);
    fprintf(f, "</b>: %u of %u trials done", s->trials_done,
            s->trials_total ? s->trials_total : (uint32_t)m->r->n_trials);
    if (s->trials_failed)
        fprintf(f, " (%u failed)", s->trials_failed);
    fprintf(f, ", %u of %u tasks. Submitted %s, started %s, finished %s.</p>\n", s->tasks_done,
            s->tasks_total, cli_fmt_time(s->created_unix, a, sizeof a),
            cli_fmt_time(s->started_unix, b, sizeof b),
            cli_fmt_time(s->finished_unix, c, sizeof c));
    fputs("</header>\n", f);
    if (!m->ended) {
        char eta[32];
        fputs("<p class=\"banner\" id=\"snapshot\">This sweep is still ", f);
        h(f, s->state);
        fprintf(f, ": this report is a snapshot taken at %s, when %u of %u trials were done",
                cli_fmt_time(m->now, a, sizeof a), s->trials_done,
                s->trials_total ? s->trials_total : (uint32_t)m->r->n_trials);
        if (s->eta_seconds >= 0)
            fprintf(f, " (about %s left)", cli_fmt_duration(s->eta_seconds, eta, sizeof eta));
        fprintf(f, ". Run <code>hptune report %llu</code> again for newer results.</p>\n",
                (unsigned long long)s->id);
    } else if (strcmp(s->state, "done") != 0) {
        fputs("<p class=\"banner bad\" id=\"snapshot\">This sweep ended ", f);
        h(f, s->state);
        if (s->error && s->error[0]) {
            fputs(": ", f);
            h(f, s->error);
        }
        fputs(". The results below are those of the trials that finished.</p>\n", f);
    }
}

static void write_winner(FILE *f, const model_t *m)
{
    const Hpt__SweepInfo *s = m->s;
    char a[64], text[1024];
    fputs("<section id=\"winner\">\n<h2>Winner</h2>\n", f);
    if (!s->best_trial) {
        fputs("<p>No trial has finished yet.</p>\n", f);
    } else {
        /* The wording of `hptune results`' summary. */
        int k = snprintf(text, sizeof text, "best: trial %llu, mean %s %s over %u-fold CV",
                         (unsigned long long)s->best_trial, s->metric,
                         cli_fmt_mean_std(s->best_mean, s->best_std, a, sizeof a), s->folds);
        if (s->repeats > 1 && k > 0 && (size_t)k < sizeof text)
            snprintf(text + k, sizeof text - (size_t)k, " x %u repeats", s->repeats);
        fputs("<p class=\"best\">", f);
        h(f, text);
        fputs("</p>\n<table class=\"params\"><thead><tr><th>parameter</th><th>value</th>"
              "</tr></thead><tbody>\n",
              f);
        for (size_t i = 0; i < s->n_best_params; i++) {
            const Hpt__Param *p = s->best_params[i];
            fputs("<tr><td>", f);
            h(f, p->name);
            fprintf(f, "</td><td%s>", p->numeric ? " class=\"num\"" : "");
            h(f, absent(p) ? "(does not apply)" : p->text);
            fputs("</td></tr>\n", f);
        }
        fputs("</tbody></table>\n", f);
    }
    cli_results_significance(s, text, sizeof text);
    if (text[0])
        h_lines(f, text, "significance");
    else if (s->best_trial)
        fputs("<p class=\"significance\">No runner-up to compare the winner with yet.</p>\n",
              f);
    cli_results_refit(s, text, sizeof text);
    if (text[0])
        h_lines(f, text, "refit");
    else if (s->best_trial)
        fprintf(f, "<p class=\"refit\">No refit test score%s.</p>\n",
                m->ended ? " (the spec sets refit: false, or the refit did not finish)"
                         : " yet: the winner is refitted on all training data and scored on "
                           "the test split when the sweep's trials are done");
    if (s->error && s->error[0]) {
        fputs("<p class=\"error\">error: ", f);
        h(f, s->error);
        fputs("</p>\n", f);
    }
    fputs("</section>\n", f);
}

static void write_figure(FILE *f, const plot_t *pl, const char *svg)
{
    fputs("<figure>\n", f);
    fputs(svg, f);
    fputs("<figcaption>", f);
    h(f, pl->caption);
    fputs(" <a href=\"", f);
    h(f, pl->file);
    fputs("\">SVG</a></figcaption>\n</figure>\n", f);
}

static int write_table(FILE *f, const model_t *m, int top)
{
    const Hpt__ResultsReply *r = m->r;
    size_t n = 0;
    Hpt__TrialResult **rows = cli_results_rows(r, true, top, &n);
    if (!rows)
        return -ENOMEM;
    fputs("<section id=\"results\">\n<h2>Results</h2>\n", f);
    if (n < r->n_trials)
        fprintf(f, "<p>The %zu best of %zu trials by rank; all of them are in "
                   "<a href=\"results.csv\">results.csv</a>.</p>\n",
                n, r->n_trials);
    else
        fprintf(f, "<p>All %zu trials, by rank; also in <a href=\"results.csv\">results.csv"
                   "</a>.</p>\n",
                n);
    fputs("<div class=\"scroll\"><table class=\"results\" id=\"results-table\">\n<thead><tr>"
          "<th class=\"num\">rank</th><th class=\"num\">trial</th>",
          f);
    for (size_t i = 0; i < r->n_param_names; i++) {
        fputs("<th>param_", f);
        h(f, r->param_names[i]);
        fputs("</th>", f);
    }
    fputs("<th class=\"num\">mean_test_score</th><th class=\"num\">std_test_score</th>"
          "<th class=\"num\">mean_fit_time</th><th>state</th></tr></thead>\n<tbody>\n",
          f);
    bool partial = false;
    for (size_t k = 0; k < n; k++) {
        const Hpt__TrialResult *t = rows[k];
        char a[64], b[64];
        const char *cls = t->trial == m->s->best_trial && m->s->best_trial ? " class=\"winner\""
                          : t->indistinguishable                          ? " class=\"indist\""
                                                                          : "";
        fprintf(f, "<tr data-trial=\"%llu\"%s>", (unsigned long long)t->trial, cls);
        if (t->rank_test_score) {
            snprintf(a, sizeof a, "%u", t->rank_test_score);
            td_num(f, "rank_test_score", t->rank_test_score, a);
        } else {
            td_num(f, "rank_test_score", NAN, "-");
        }
        snprintf(a, sizeof a, "%llu", (unsigned long long)t->trial);
        td_num(f, "trial", (double)t->trial, a);
        for (size_t i = 0; i < r->n_param_names; i++) {
            const Hpt__Param *p = cli_results_param(t, r->param_names[i], i);
            fputs("<td", f);
            if (p && p->numeric)
                fprintf(f, " class=\"num\" data-value=\"%s\"", cli_fmt_exact(p->number, a,
                                                                              sizeof a));
            fputs(" data-col=\"param_", f);
            h(f, r->param_names[i]);
            fputs("\">", f);
            h(f, p ? p->text : "-");
            fputs("</td>", f);
        }
        double mean, sd;
        bool part = cli_results_shown_score(t, &mean, &sd);
        partial = partial || part;
        snprintf(b, sizeof b, "%s%s", cli_fmt_score(mean, a, sizeof a), part ? "*" : "");
        td_num(f, "mean_test_score", t->mean_test_score, b);
        snprintf(b, sizeof b, "%s%s", cli_fmt_score(sd, a, sizeof a), part ? "*" : "");
        td_num(f, "std_test_score", t->std_test_score, b);
        if (isnan(t->mean_fit_time))
            snprintf(b, sizeof b, "-");
        else
            snprintf(b, sizeof b, "%.2f", t->mean_fit_time);
        td_num(f, "mean_fit_time", t->mean_fit_time, b);
        if (strcmp(t->state, "running") == 0)
            snprintf(b, sizeof b, "running %u/%zu", t->splits_done, t->n_split_scores);
        else
            snprintf(b, sizeof b, "%.60s", t->state);
        fputs("<td data-col=\"state\">", f);
        h(f, b);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
    if (n == 0)
        fputs("<p>No trials yet.</p>\n", f);
    if (partial)
        fputs("<p class=\"note\">* not finished: the mean and std of the splits done so far."
              "</p>\n",
              f);
    if (m->s->best_trial)
        fprintf(f, "<p class=\"note\">The winner's row is red; blue rows are trials whose "
                   "difference from the winner is not significant (p_vs_best &#8805; %g, "
                   "corrected resampled t-test).</p>\n",
                m->s->alpha);
    for (size_t k = 0; k < n; k++)
        if (rows[k]->error && rows[k]->error[0]) {
            fprintf(f, "<p class=\"note\">trial %llu ", (unsigned long long)rows[k]->trial);
            h(f, rows[k]->state);
            fputs(": ", f);
            h(f, rows[k]->error);
            fputs("</p>\n", f);
        }
    fputs("</section>\n", f);
    free(rows);
    return 0;
}

static void write_html(FILE *f, const model_t *m, plot_t *plots, const char **svgs,
                       size_t n_plots, int top, const char *addr)
{
    const Hpt__SweepInfo *s = m->s;
    char a[64];
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"hptune " HPT_VERSION "\">\n<title>",
          f);
    fprintf(f, "hptune report: sweep %llu ", (unsigned long long)s->id);
    h(f, s->name);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
    write_header(f, m);
    write_winner(f, m);
    /* plots[0 .. n_params-1] are the parameter panels, then progress and
     * parallel coordinates. */
    fputs("<section id=\"params\">\n<h2>Score against each hyperparameter</h2>\n"
          "<p class=\"note\">Each point is a finished trial's mean_test_score; the black "
          "marker and bar are the mean &#177; std over the trials with that value.</p>\n"
          "<div class=\"plots\">\n",
          f);
    for (size_t i = 0; i < m->n_params && i < n_plots; i++)
        write_figure(f, &plots[i], svgs[i]);
    if (m->n_params == 0)
        fputs("<p>The sweep tunes no parameter.</p>\n", f);
    fputs("</div>\n</section>\n", f);
    fputs("<section id=\"over-time\">\n<h2>Best score so far</h2>\n", f);
    write_figure(f, &plots[m->n_params], svgs[m->n_params]);
    fputs("</section>\n<section id=\"parallel\">\n<h2>Parallel coordinates</h2>\n", f);
    write_figure(f, &plots[m->n_params + 1], svgs[m->n_params + 1]);
    fputs("</section>\n", f);
    write_table(f, m, top);
    fprintf(f, "<footer>\n<p>Made by hptune %s at %s from the coordinator at ", HPT_VERSION,
            cli_fmt_time(m->now, a, sizeof a));
    h(f, addr);
    fprintf(f, " (<code>hptune report %llu</code>). The page is self-contained: the plots are "
               "inlined, and are also next to it as SVG files; every trial is in "
               "<a href=\"results.csv\">results.csv</a>, as <code>hptune results %llu "
               "--format csv</code> prints it.</p>\n</footer>\n</body>\n</html>\n",
            (unsigned long long)s->id, (unsigned long long)s->id);
}

// --- the command ----------------------------------------------------------------

/* Build every plot, write the files, index.html last.  Returns an exit
 * status (after printing why). */
static int write_report(const char *cmd, const Hpt__ResultsReply *r, const char *dir, int top,
                        const char *addr)
{
    model_t m;
    if (model_build(&m, r) < 0) {
        fprintf(stderr, "hptune %s: out of memory\n", cmd);
        return HPT_EXIT_FAIL;
    }
    size_t n_plots = m.n_params + 2;
    plot_t *plots = calloc(n_plots, sizeof *plots);
    const char **svgs = calloc(n_plots, sizeof *svgs);
    int status = HPT_EXIT_FAIL, rc = 0;
    out_file_t o = {0};
    if (!plots || !svgs) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < m.n_params && rc == 0; i++)
        rc = plot_param(&m, &m.params[i], &plots[i]);
    if (rc == 0)
        rc = plot_progress(&m, &plots[m.n_params]);
    if (rc == 0)
        rc = plot_parallel(&m, &plots[m.n_params + 1]);
    for (size_t i = 0; i < n_plots && rc == 0; i++)
        if (!(svgs[i] = cli_svg_finish(plots[i].svg, NULL)))
            rc = -ENOMEM;
    if (rc < 0) {
        fprintf(stderr, "hptune %s: drawing the plots: %s\n", cmd, strerror(-rc));
        goto out;
    }
    rc = make_dirs(dir);
    if (rc < 0) {
        fprintf(stderr, "hptune %s: cannot create the directory '%s': %s\n", cmd, dir,
                strerror(-rc));
        goto out;
    }
    for (size_t i = 0; i < n_plots; i++) {
        if ((rc = out_open(&o, dir, plots[i].file)) < 0) {
            status = write_failed(cmd, o.path, rc);
            goto out;
        }
        fputs(svgs[i], o.f);
        if ((rc = out_commit(&o)) < 0) {
            status = write_failed(cmd, o.path, rc);
            goto out;
        }
    }
    if ((rc = out_open(&o, dir, "results.csv")) < 0) {
        status = write_failed(cmd, o.path, rc);
        goto out;
    }
    status = cli_results_csv(o.f, r, 0);
    if ((rc = out_commit(&o)) < 0 || status != HPT_EXIT_OK) {
        status = rc < 0 ? write_failed(cmd, o.path, rc) : status;
        goto out;
    }
    if ((rc = out_open(&o, dir, "index.html")) < 0) {
        status = write_failed(cmd, o.path, rc);
        goto out;
    }
    write_html(o.f, &m, plots, svgs, n_plots, top, addr);
    if ((rc = out_commit(&o)) < 0) {
        status = write_failed(cmd, o.path, rc);
        goto out;
    }
    status = HPT_EXIT_OK;
    printf("%s\n", o.path);
    if (!m.ended)
        fprintf(stderr, "hptune %s: sweep %llu is still %s (%u of %u trials done): the report "
                        "is a snapshot\n",
                cmd, (unsigned long long)m.s->id, m.s->state, m.s->trials_done,
                m.s->trials_total ? m.s->trials_total : (uint32_t)r->n_trials);
out:
    if (plots)
        for (size_t i = 0; i < n_plots; i++)
            cli_svg_destroy(&plots[i].svg);
    free(plots);
    free(svgs);
    model_free(&m);
    return status;
}

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"top", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    CLI_CONN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

int cli_report(int argc, char **argv)
{
    const char *cmd = "report";
    cli_opt_parser_t op = CLI_OPT_PARSER(cmd, ":o:n:h", long_opts, print_help);
    const char *dir = NULL;
    long top = DEFAULT_TOP;
    int opt;
    while ((opt = cli_opt_next(&op, argc, argv)) > 0) {
        switch (opt) {
        case 'o':
            if (!optarg[0])
                return cli_usage_error(cmd, "--output: empty directory name");
            dir = optarg;
            break;
        case 'n':
            if (cli_parse_long(cmd, "--top", optarg, 0, 1000000000, &top))
                return HPT_EXIT_USAGE;
            break;
        }
    }
    if (opt == CLI_OPT_STOP)
        return op.status;
    uint64_t sweep;
    if (cli_only_sweep(cmd, argc, argv, optind, &sweep))
        return HPT_EXIT_USAGE;
    char def[64];
    if (!dir) {
        snprintf(def, sizeof def, "hptune-report-%llu", (unsigned long long)sweep);
        dir = def;
    }

    cli_client_t *c = NULL;
    int status = cli_client_new(&c, &op.conn, cmd);
    if (status)
        return status;
    hpt_env_t *env = NULL;
    status = cli_results_fetch(c, cmd, sweep, &env);
    if (status == HPT_EXIT_OK)
        status = write_report(cmd, env->results_reply, dir, (int)top, cli_client_addr(c));
    hpt_proto_free(&env);
    cli_client_destroy(&c);
    if (fflush(stdout) != 0 && status == HPT_EXIT_OK) {
        fprintf(stderr, "hptune %s: writing the output: %s\n", cmd, strerror(errno));
        status = HPT_EXIT_FAIL;
    }
    return status;
}
