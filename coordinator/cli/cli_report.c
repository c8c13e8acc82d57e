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
#include "plots.h"
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

// --- the report's view of the reply ------------------------------------------

typedef struct model {
    const Hpt__ResultsReply *r;
    const Hpt__SweepInfo *s;          // r->sweep (an empty one when missing)
    bool maximize;
    bool ended;                       // done, failed or cancelled
    double now;                       // unix seconds, when the report was made
} model_t;

static bool ended_state(const char *st)
{
    return strcmp(st, "done") == 0 || strcmp(st, "failed") == 0 ||
           strcmp(st, "cancelled") == 0;
}

/* Whether a parameter value is absent (a conditional parameter whose
 * condition does not hold for the trial: no number and no text). */
static bool absent(const Hpt__Param *p)
{
    return !p || (!p->numeric && (!p->text || p->text[0] == '\0'));
}

static void model_init(model_t *m, const Hpt__ResultsReply *r)
{
    static const Hpt__SweepInfo empty = HPT__SWEEP_INFO__INIT;
    *m = (model_t){.r = r, .s = r->sweep ? r->sweep : &empty, .now = (double)time(NULL)};
    m->maximize = m->s->maximize;
    m->ended = ended_state(m->s->state);
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

/* Escaped text (hpt_svg_fputs). */
static void h(FILE *f, const char *s)
{
    hpt_svg_fputs(f, s);
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
    if (s->race && s->race[0]) {
        fputs("<p class=\"race\">race: ", f);
        h(f, s->race);
        fputs("</p>\n", f);
    }
    cli_results_epochs(s, text, sizeof text);
    if (text[0])
        h_lines(f, text, "epochs");
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

/* A plot inlined, with its caption and a link to its file. */
static void write_figure(FILE *f, const hpt_plot_t *pl)
{
    fputs("<figure>\n", f);
    fputs(pl->svg, f);
    fputs("<figcaption>", f);
    h(f, pl->caption);
    fputs(" <a href=\"", f);
    h(f, pl->name);
    fputs(".svg\">SVG</a></figcaption>\n</figure>\n", f);
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

static void write_html(FILE *f, const model_t *m, const hpt_plots_t *plots, int top,
                       const char *addr)
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
    /* The plots, in the set's order: the parameter panels, then progress
     * and parallel coordinates (common/plots.h). */
    fputs("<section id=\"params\">\n<h2>Score against each hyperparameter</h2>\n"
          "<p class=\"note\">Each point is a finished trial's mean_test_score; the black "
          "marker and bar are the mean &#177; std over the trials with that value.</p>\n"
          "<div class=\"plots\">\n",
          f);
    size_t n_param = 0;
    for (size_t i = 0; i < hpt_plots_count(plots); i++)
        if (hpt_plots_get(plots, i)->kind == HPT_PLOT_PARAM) {
            write_figure(f, hpt_plots_get(plots, i));
            n_param++;
        }
    if (n_param == 0)
        fputs(m->r->n_param_names ? "<p>No parameter varied.</p>\n"
                                  : "<p>The sweep tunes no parameter.</p>\n",
              f);
    fputs("</div>\n", f);
    if (hpt_plots_note(plots)[0]) {
        fputs("<p class=\"note\" id=\"constants\">", f);
        h(f, hpt_plots_note(plots));
        fputs("</p>\n", f);
    }
    fputs("</section>\n", f);
    static const struct {
        hpt_plot_kind_t kind;
        const char *open;
    } sections[] = {
        {HPT_PLOT_PROGRESS, "<section id=\"over-time\">\n<h2>Best score so far</h2>\n"},
        {HPT_PLOT_PARALLEL, "<section id=\"parallel\">\n<h2>Parallel coordinates</h2>\n"},
        {HPT_PLOT_RACE, "<section id=\"race\">\n<h2>The race of the leaders</h2>\n"},
    };
    for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++) {
        if (sections[k].kind == HPT_PLOT_RACE && !hpt_plots_find(plots, "race"))
            continue;   // the sweep did not race
        fputs(sections[k].open, f);
        for (size_t i = 0; i < hpt_plots_count(plots); i++)
            if (hpt_plots_get(plots, i)->kind == sections[k].kind)
                write_figure(f, hpt_plots_get(plots, i));
        fputs("</section>\n", f);
    }
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
    model_init(&m, r);
    hpt_plots_t *plots = NULL;
    int status = HPT_EXIT_FAIL;
    out_file_t o = {0};
    int rc = hpt_plots_new(&plots, r, m.now, 0);
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
    for (size_t i = 0; i < hpt_plots_count(plots); i++) {
        const hpt_plot_t *pl = hpt_plots_get(plots, i);
        char file[200];
        snprintf(file, sizeof file, "%s.svg", pl->name);
        if ((rc = out_open(&o, dir, file)) < 0) {
            status = write_failed(cmd, o.path, rc);
            goto out;
        }
        fwrite(pl->svg, 1, pl->len, o.f);
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
    write_html(o.f, &m, plots, top, addr);
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
    hpt_plots_destroy(&plots);
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
