/*
 * cli_results.c: `hptune results SWEEP [--format table|csv|json] [--top N]`:
 * a sweep's trials so far, as a ranked table for people, or as CSV and JSON
 * in the shape of scikit-learn's GridSearchCV.cv_results_ for programs.
 *
 * Invariants of the machine formats, relied on by pandas.read_csv and by
 * tests: one row (one list entry) per trial; in trial order unless --top
 * asks for the best N by rank; NaN (a split not done yet, a failed trial) is
 * an empty CSV field or JSON null; numbers are written exactly (the shortest
 * form that reads back to the same double); a trial not finished yet has no
 * rank (empty / null).  Rows ranked by the coordinator come first in rank
 * order, ties by trial number; unfinished trials follow in trial order.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_format.h"
#include "cli_results.h"
#include "json.h"

static void print_help(FILE *f)
{
    fputs("Usage: hptune results SWEEP [--format table|csv|json] [--top N] [OPTIONS]\n"
          "\n"
          "Print what a sweep has found so far (it may still be running): one entry per\n"
          "trial (one hyperparameter configuration) with its cross-validated scores.\n"
          "\n"
          "Formats:\n"
          "  table   the trials by rank (ties by trial number), unfinished ones after them;\n"
          "          columns rank, trial, param_<name> for each tuned parameter,\n"
          "          mean_test_score, std_test_score, mean_fit_time (seconds per fold),\n"
          "          state (pending | running K/N splits | done | failed | cancelled).  A\n"
          "          trial not finished has the mean and std of the splits done so far,\n"
          "          marked '*', and, while it runs, rank '-'.  NaN prints as '-'.  Then\n"
          "          the summary: the sweep's state and progress, the best trial with its\n"
          "          parameters and mean score \u00b1 std, and the refit test score once the\n"
          "          sweep has one.\n"
          "  csv     scikit-learn cv_results_ columns, readable by pandas.read_csv as is:\n"
          "            trial,param_<name>...,split0_test_score,...,split<k-1>_test_score,\n"
          "            mean_test_score,std_test_score,rank_test_score,mean_fit_time,\n"
          "            std_fit_time\n"
          "          plus split<i>_train_score..., mean_train_score, std_train_score when\n"
          "          the sweep scores the training folds.  k = folds x repeats.  Numbers\n"
          "          are exact; NaN and an unfinished trial's rank are empty fields;\n"
          "          strings holding commas or quotes are quoted (RFC 4180).\n"
          "  json    {\"sweep\": {summary}, \"cv_results\": {column: [values...]}}, where\n"
          "          cv_results has the CSV columns as lists (NaN -> null) plus \"params\"\n"
          "          (a {name: value} object per trial, as scikit-learn's) and \"state\".\n"
          "\n"
          "Options:\n"
          "  -f, --format FMT        table | csv | json                         [table]\n"
          "  -n, --top N             only the N best trials, by rank (0 = all)  [0]\n"
          CLI_CONN_HELP
          "  -h, --help              show this help\n"
          "\n"
          "The coordinator answers in pages below its message cap; every format reads\n"
          "all of them (a note on stderr says when trials finished between pages).\n"
          "\n"
          "Exit status: 0 ok, 1 no such sweep or an error the coordinator reported,\n"
          "2 bad flag, 3 coordinator unreachable.\n"
          "\n"
          "Examples:\n"
          "  hptune results 3 --top 10\n"
          "  hptune results 3 --format csv > cv_results.csv\n"
          "  python3 -c 'import pandas; print(pandas.read_csv(\"cv_results.csv\"))'\n",
          f);
}

typedef enum { FMT_TABLE, FMT_CSV, FMT_JSON } fmt_t;

// --- ordering -------------------------------------------------------------------

static int by_rank(const void *a, const void *b)
{
    const Hpt__TrialResult *x = *(Hpt__TrialResult *const *)a;
    const Hpt__TrialResult *y = *(Hpt__TrialResult *const *)b;
    /* Ranked trials first (rank 0 = not finished), then by trial number. */
    uint32_t rx = x->rank_test_score ? x->rank_test_score : UINT32_MAX;
    uint32_t ry = y->rank_test_score ? y->rank_test_score : UINT32_MAX;
    if (rx != ry)
        return rx < ry ? -1 : 1;
    return x->trial < y->trial ? -1 : x->trial > y->trial;
}

/* The rows to print, in order: owned array of borrowed pointers, *n rows. */
static Hpt__TrialResult **select_rows(const Hpt__ResultsReply *r, bool ranked, int top,
                                      size_t *n)
{
    size_t m = r->n_trials;
    Hpt__TrialResult **rows = malloc((m ? m : 1) * sizeof *rows);
    if (!rows)
        return NULL;
    memcpy(rows, r->trials, m * sizeof *rows);
    if (ranked)
        qsort(rows, m, sizeof *rows, by_rank);
    *n = top > 0 && (size_t)top < m ? (size_t)top : m;
    return rows;
}

/* Splits per trial: folds x repeats, or the longest list sent. */
static size_t n_splits(const Hpt__ResultsReply *r)
{
    size_t k = r->sweep && r->sweep->folds ? (size_t)r->sweep->folds *
                                                 (r->sweep->repeats ? r->sweep->repeats : 1)
                                           : 0;
    for (size_t i = 0; i < r->n_trials; i++)
        if (r->trials[i]->n_split_scores > k)
            k = r->trials[i]->n_split_scores;
    return k;
}

static bool scores_train(const Hpt__ResultsReply *r)
{
    for (size_t i = 0; i < r->n_trials; i++)
        if (r->trials[i]->n_split_train_scores)
            return true;
    return false;
}

static double split_at(const double *v, size_t n, size_t i)
{
    return i < n ? v[i] : NAN;
}

// --- summary sentences ----------------------------------------------------------

const char *cli_results_significance(const Hpt__SweepInfo *s, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!s->best_trial || !s->runner_up || isnan(s->p_runner_up))
        return buf;
    /* The honest part: is the winner really better than the next one? */
    bool sig = s->p_runner_up < s->alpha;
    int n = snprintf(buf, len,
                     "the winner (trial %llu) is %ssignificantly better than the runner-up "
                     "(trial %llu): p = %.3g, corrected resampled t-test over %u paired "
                     "splits, alpha %g\n",
                     (unsigned long long)s->best_trial, sig ? "" : "NOT ",
                     (unsigned long long)s->runner_up, s->p_runner_up, s->folds * s->repeats,
                     s->alpha);
    if (s->indistinguishable && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n,
                 "%u other trial%s statistically indistinguishable from the best "
                 "(p_vs_best >= %g)\n",
                 s->indistinguishable, s->indistinguishable == 1 ? " is" : "s are", s->alpha);
    return buf;
}

const char *cli_results_epochs(const Hpt__SweepInfo *s, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!s->epochs_from_scratch)
        return buf;
    uint64_t saved = s->epochs_from_scratch > s->epochs_trained
                         ? s->epochs_from_scratch - s->epochs_trained
                         : 0;
    snprintf(buf, len,
             "epochs trained: %llu (from scratch each model would have taken %llu; %.0f%% "
             "saved by continuing shorter trials' models)\n",
             (unsigned long long)s->epochs_trained, (unsigned long long)s->epochs_from_scratch,
             100.0 * (double)saved / (double)s->epochs_from_scratch);
    return buf;
}

const char *cli_results_refit(const Hpt__SweepInfo *s, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!s->has_refit)
        return buf;
    char a[64], b[64];
    bool acc = strcmp(s->metric, "accuracy") == 0;
    size_t o = (size_t)snprintf(buf, len, "refit test %s: %s", s->metric,
                                cli_fmt_score(s->refit_score, a, sizeof a));
    if (o < len && !isnan(s->refit_ci_low))
        o += (size_t)snprintf(buf + o, len - o,
                              " (%s%s%s95%% Wilson interval of the accuracy %.4f-%.4f over %u "
                              "test samples)",
                              acc ? "" : "accuracy ",
                              acc ? "" : cli_fmt_score(s->refit_accuracy, b, sizeof b),
                              acc ? "" : ", ", s->refit_ci_low, s->refit_ci_high,
                              s->refit_n_test);
    else if (o < len && !acc)
        o += (size_t)snprintf(buf + o, len - o, " (accuracy %s)",
                              cli_fmt_score(s->refit_accuracy, b, sizeof b));
    if (o + 1 < len) {
        buf[o] = '\n';
        buf[o + 1] = '\0';
    }
    return buf;
}

// --- table ----------------------------------------------------------------------

static void print_summary(const Hpt__ResultsReply *r)
{
    const Hpt__SweepInfo *s = r->sweep;
    if (!s)
        return;
    char a[64];
    printf("sweep %llu '%s' (%s, %s): %s, %u/%u trials done", (unsigned long long)s->id,
           s->name, s->method, s->dataset, s->state, s->trials_done,
           s->trials_total ? s->trials_total : (uint32_t)r->n_trials);
    if (s->trials_failed)
        printf(" (%u failed)", s->trials_failed);
    printf(", %u/%u tasks\n", s->tasks_done, s->tasks_total);
    if (s->best_trial) {
        printf("best: trial %llu, mean %s %s over %u-fold CV", (unsigned long long)s->best_trial,
               s->metric, cli_fmt_mean_std(s->best_mean, s->best_std, a, sizeof a), s->folds);
        if (s->repeats > 1)
            printf(" x %u repeats", s->repeats);
        fputs("\nbest params:", stdout);
        for (size_t i = 0; i < s->n_best_params; i++)
            printf(" %s=%s", s->best_params[i]->name, s->best_params[i]->text);
        putchar('\n');
    } else {
        puts("best: none yet");
    }
    char text[1024];
    fputs(cli_results_epochs(s, text, sizeof text), stdout);
    fputs(cli_results_significance(s, text, sizeof text), stdout);
    if (s->race && s->race[0])
        printf("race: %s\n", s->race);
    fputs(cli_results_refit(s, text, sizeof text), stdout);
    if (s->error && s->error[0])
        printf("error: %s\n", s->error);
}

/* Whether trials continue others (hyperband, asha promotions, epoch
 * families): its exports then carry a parent_trial column. */
static bool has_parents(const Hpt__ResultsReply *r)
{
    const char *m = r->sweep && r->sweep->method ? r->sweep->method : "";
    if (strcmp(m, "hyperband") == 0 || strcmp(m, "asha") == 0)
        return true;
    for (size_t i = 0; i < r->n_trials; i++)
        if (r->trials[i]->parent)
            return true;
    return false;
}

bool cli_results_shown_score(const Hpt__TrialResult *tr, double *mean, double *sd)
{
    *mean = tr->mean_test_score;
    *sd = tr->std_test_score;
    if (!isnan(*mean) || strcmp(tr->state, "failed") == 0)
        return false;
    /* Show the mean of the splits done so far, marked. */
    double sum = 0, sq = 0;
    int m = 0;
    for (size_t s = 0; s < tr->n_split_scores; s++)
        if (!isnan(tr->split_scores[s])) {
            sum += tr->split_scores[s];
            sq += tr->split_scores[s] * tr->split_scores[s];
            m++;
        }
    if (!m)
        return false;
    *mean = sum / m;
    double var = sq / m - *mean * *mean;
    *sd = var > 0 ? sqrt(var) : 0;
    return true;
}

static int print_table(const Hpt__ResultsReply *r, int top)
{
    size_t np = r->n_param_names, nc = 2 + np + 4;
    size_t n = 0;
    Hpt__TrialResult **rows = select_rows(r, true, top, &n);
    const char **hdr = calloc(nc, sizeof *hdr);
    char **names = calloc(np ? np : 1, sizeof *names);
    cli_table_t *t = NULL;
    int status = HPT_EXIT_FAIL;
    if (!rows || !hdr || !names || nc > 64 || cli_table_new(&t, (int)nc, hdr) < 0) {
        fputs("hptune results: out of memory (or too many parameters for a table; use "
              "--format csv)\n", stderr);
        goto out;
    }
    size_t h = 0;
    hdr[h++] = "rank";
    hdr[h++] = "trial";
    for (size_t i = 0; i < np; i++) {
        size_t len = strlen(r->param_names[i]) + 7;
        names[i] = malloc(len);
        if (!names[i])
            goto out;
        snprintf(names[i], len, "param_%s", r->param_names[i]);
        hdr[h++] = names[i];
    }
    hdr[h++] = "mean_test_score";
    hdr[h++] = "std_test_score";
    hdr[h++] = "mean_fit_time";
    hdr[h++] = "state";
    cli_table_right(t, 0);
    cli_table_right(t, 1);
    for (size_t i = 0; i < np; i++) {
        /* Numbers right, words left: decide by the first trial's value. */
        const Hpt__Param *p =
            r->n_trials ? hpt_json_trial_param(r->trials[0], r->param_names[i], i) : NULL;
        if (p && p->numeric)
            cli_table_right(t, (int)(2 + i));
    }
    for (size_t c = 2 + np; c < 2 + np + 3; c++)
        cli_table_right(t, (int)c);
    bool partial = false;
    for (size_t k = 0; k < n; k++) {
        const Hpt__TrialResult *tr = rows[k];
        char a[64], b[64];
        if (tr->rank_test_score)
            cli_table_cell(t, "%u", tr->rank_test_score);
        else
            cli_table_cell(t, "-");
        cli_table_cell(t, "%llu", (unsigned long long)tr->trial);
        for (size_t i = 0; i < np; i++) {
            const Hpt__Param *p = hpt_json_trial_param(tr, r->param_names[i], i);
            cli_table_cell(t, "%s", p ? p->text : "-");
        }
        double mean, sd;
        bool part = cli_results_shown_score(tr, &mean, &sd);
        partial = partial || part;
        cli_table_cell(t, "%s%s", cli_fmt_score(mean, a, sizeof a), part ? "*" : "");
        cli_table_cell(t, "%s%s", cli_fmt_score(sd, b, sizeof b), part ? "*" : "");
        if (isnan(tr->mean_fit_time))
            cli_table_cell(t, "-");
        else
            cli_table_cell(t, "%.2f", tr->mean_fit_time);
        if (strcmp(tr->state, "running") == 0)
            cli_table_cell(t, "running %u/%zu", tr->splits_done, tr->n_split_scores);
        else
            cli_table_cell(t, "%s", tr->state);
    }
    if (n)
        cli_table_print(t, stdout);
    else
        puts("no trials yet");
    if (n < r->n_trials)
        printf("(the top %zu of %zu trials; 'hptune results %llu' shows all)\n", n,
               r->n_trials, (unsigned long long)(r->sweep ? r->sweep->id : 0));
    if (partial)
        puts("* not finished: the mean and std of the splits done so far");
    for (size_t k = 0; k < n; k++)
        if (rows[k]->error && rows[k]->error[0])
            printf("trial %llu %s: %s\n", (unsigned long long)rows[k]->trial, rows[k]->state,
                   rows[k]->error);
    putchar('\n');
    print_summary(r);
    status = HPT_EXIT_OK;
out:
    cli_table_destroy(&t);
    if (names)
        for (size_t i = 0; i < np; i++)
            free(names[i]);
    free(names);
    free(hdr);
    free(rows);
    return status;
}

// --- CSV ------------------------------------------------------------------------

static void csv_param(FILE *f, const Hpt__Param *p)
{
    if (!p)
        return;
    if (p->numeric)
        cli_csv_num(f, p->number);
    else
        cli_csv_str(f, p->text);
}

static int print_csv(FILE *f, const Hpt__ResultsReply *r, int top)
{
    size_t n = 0, k = n_splits(r);
    bool train = scores_train(r);
    Hpt__TrialResult **rows = select_rows(r, top > 0, top, &n);
    if (!rows) {
        fputs("hptune results: out of memory\n", stderr);
        return HPT_EXIT_FAIL;
    }
    fputs("trial", f);
    for (size_t i = 0; i < r->n_param_names; i++) {
        fputc(',', f);
        char col[300];
        snprintf(col, sizeof col, "param_%s", r->param_names[i]);
        cli_csv_str(f, col);
    }
    for (size_t i = 0; i < k; i++)
        fprintf(f, ",split%zu_test_score", i);
    fputs(",mean_test_score,std_test_score,rank_test_score,mean_fit_time,std_fit_time,p_vs_best",
          f);
    if (train) {
        for (size_t i = 0; i < k; i++)
            fprintf(f, ",split%zu_train_score", i);
        fputs(",mean_train_score,std_train_score", f);
    }
    bool parents = has_parents(r);
    if (parents)
        fputs(",parent_trial", f);
    fputc('\n', f);
    for (size_t j = 0; j < n; j++) {
        const Hpt__TrialResult *t = rows[j];
        fprintf(f, "%llu", (unsigned long long)t->trial);
        for (size_t i = 0; i < r->n_param_names; i++) {
            fputc(',', f);
            csv_param(f, hpt_json_trial_param(t, r->param_names[i], i));
        }
        for (size_t i = 0; i < k; i++) {
            fputc(',', f);
            cli_csv_num(f, split_at(t->split_scores, t->n_split_scores, i));
        }
        fputc(',', f);
        cli_csv_num(f, t->mean_test_score);
        fputc(',', f);
        cli_csv_num(f, t->std_test_score);
        fputc(',', f);
        if (t->rank_test_score)
            fprintf(f, "%u", t->rank_test_score);
        fputc(',', f);
        cli_csv_num(f, t->mean_fit_time);
        fputc(',', f);
        cli_csv_num(f, t->std_fit_time);
        fputc(',', f);
        cli_csv_num(f, t->p_vs_best);
        if (train) {
            for (size_t i = 0; i < k; i++) {
                fputc(',', f);
                cli_csv_num(f, split_at(t->split_train_scores, t->n_split_train_scores, i));
            }
            fputc(',', f);
            cli_csv_num(f, t->mean_train_score);
            fputc(',', f);
            cli_csv_num(f, t->std_train_score);
        }
        if (parents) {   // empty for a new configuration
            fputc(',', f);
            if (t->parent)
                fprintf(f, "%llu", (unsigned long long)t->parent);
        }
        fputc('\n', f);
    }
    free(rows);
    return HPT_EXIT_OK;
}

// --- JSON -----------------------------------------------------------------------

static int print_json(const Hpt__ResultsReply *r, int top)
{
    size_t n = 0;
    Hpt__TrialResult **rows = select_rows(r, top > 0, top, &n);
    if (!rows) {
        fputs("hptune results: out of memory\n", stderr);
        return HPT_EXIT_FAIL;
    }
    hpt_json_results(stdout, r, rows, n, NULL, NULL);
    free(rows);
    return HPT_EXIT_OK;
}

// --- fetching -------------------------------------------------------------------

/* Pages a sweep may take: far above any real sweep (a page holds at least
 * one trial and COORD_MAX_SWEEP_TASKS bounds a sweep), so a coordinator that
 * keeps saying "more" without progress ends the loop. */
#define MAX_PAGES 100000000ULL

static int fetch_page(cli_client_t *c, const char *cmd, uint64_t sweep, uint64_t offset,
                      hpt_env_t **env)
{
    Hpt__ResultsRequest q = HPT__RESULTS_REQUEST__INIT;
    q.sweep = sweep;
    q.offset = offset;
    hpt_env_t req = HPT__ENVELOPE__INIT;
    req.body_case = HPT__ENVELOPE__BODY_RESULTS;
    req.results = &q;
    return cli_client_call(c, cmd, &req, HPT__ENVELOPE__BODY_RESULTS_REPLY, env);
}

/* Append page's trials to acc's (both unpacked replies): the trial messages
 * move (page keeps none, so freeing it does not free them).  protobuf-c's
 * default allocator is malloc/free, so acc's array may grow with realloc
 * and hpt_proto_free still frees it.  Returns 0 or -ENOMEM. */
static int append_page(Hpt__ResultsReply *acc, Hpt__ResultsReply *page)
{
    if (page->n_trials == 0)
        return 0;
    size_t n = acc->n_trials + page->n_trials;
    Hpt__TrialResult **t = realloc(acc->trials, n * sizeof *t);
    if (!t)
        return -ENOMEM;
    memcpy(t + acc->n_trials, page->trials, page->n_trials * sizeof *t);
    acc->trials = t;
    acc->n_trials = n;
    page->n_trials = 0;
    return 0;
}

/* Read every page of sweep's results into one reply (*env, owned by the
 * caller): the trials of all pages in trial order, and the summary
 * (SweepInfo) of the last page, the most recent.  The coordinator ranks
 * over all trials, so the ranks of pages of one generation agree; when a
 * trial finished between two pages (the sweep is running) a note on stderr
 * says the rows were read at different moments. */
static int fetch(cli_client_t *c, const char *cmd, uint64_t sweep, hpt_env_t **env)
{
    *env = NULL;
    hpt_env_t *acc = NULL;
    int status = fetch_page(c, cmd, sweep, 0, &acc);
    if (status != HPT_EXIT_OK)
        return status;
    Hpt__ResultsReply *a = acc->results_reply;
    uint64_t gen = a->generation, pages = 1;
    bool changed = false;
    /* a holds the trials from index 0 on, so the next page starts at its
     * count. */
    while (a->more) {
        uint64_t offset = a->n_trials;
        hpt_env_t *next = NULL;
        if (pages >= MAX_PAGES) {
            fprintf(stderr, "hptune %s: the coordinator's results do not end after %llu "
                            "pages\n", cmd, (unsigned long long)pages);
            status = HPT_EXIT_FAIL;
            break;
        }
        status = fetch_page(c, cmd, sweep, offset, &next);
        if (status != HPT_EXIT_OK)
            break;
        Hpt__ResultsReply *b = next->results_reply;
        if (b->offset != offset || (b->more && b->n_trials == 0)) {
            fprintf(stderr, "hptune %s: asked for results from trial index %llu, got %zu "
                            "from %llu (a coordinator without paging?)\n",
                    cmd, (unsigned long long)offset, b->n_trials,
                    (unsigned long long)b->offset);
            hpt_proto_free(&next);
            status = HPT_EXIT_FAIL;
            break;
        }
        if (append_page(a, b) < 0) {
            fprintf(stderr, "hptune %s: out of memory reading page %llu\n", cmd,
                    (unsigned long long)pages + 1);
            hpt_proto_free(&next);
            status = HPT_EXIT_FAIL;
            break;
        }
        changed = changed || b->generation != gen;
        /* The latest summary: swap it in, and the old one goes with next. */
        Hpt__SweepInfo *si = a->sweep;
        a->sweep = b->sweep;
        b->sweep = si;
        a->total = b->total;
        a->more = b->more;
        a->generation = b->generation;
        hpt_proto_free(&next);
        pages++;
    }
    if (status != HPT_EXIT_OK) {
        hpt_proto_free(&acc);
        return status;
    }
    if (changed)
        fprintf(stderr, "hptune %s: note: trials finished while the %llu pages were read; "
                        "ranks are as of each page\n", cmd, (unsigned long long)pages);
    *env = acc;
    return HPT_EXIT_OK;
}

// --- shared with hptune report (cli_results.h) ------------------------------------

int cli_results_fetch(cli_client_t *c, const char *cmd, uint64_t sweep, hpt_env_t **env)
{
    return fetch(c, cmd, sweep, env);
}

Hpt__TrialResult **cli_results_rows(const Hpt__ResultsReply *r, bool ranked, int top,
                                    size_t *n)
{
    return select_rows(r, ranked, top, n);
}

const Hpt__Param *cli_results_param(const Hpt__TrialResult *t, const char *name, size_t i)
{
    return hpt_json_trial_param(t, name, i);
}

int cli_results_csv(FILE *f, const Hpt__ResultsReply *r, int top)
{
    return print_csv(f, r, top);
}

int cli_results_print(cli_client_t *c, const char *cmd, uint64_t sweep, int top)
{
    hpt_env_t *env = NULL;
    int status = fetch(c, cmd, sweep, &env);
    if (status == HPT_EXIT_OK)
        status = print_table(env->results_reply, top);
    hpt_proto_free(&env);
    fflush(stdout);
    return status;
}

// --- the command ----------------------------------------------------------------

static const struct option long_opts[] = {
    {"format", required_argument, NULL, 'f'},
    {"top", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    CLI_CONN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

int cli_results(int argc, char **argv)
{
    const char *cmd = "results";
    cli_opt_parser_t op = CLI_OPT_PARSER(cmd, ":f:n:h", long_opts, print_help);
    fmt_t fmt = FMT_TABLE;
    long top = 0;
    int opt;
    while ((opt = cli_opt_next(&op, argc, argv)) > 0) {
        switch (opt) {
        case 'f':
            if (strcmp(optarg, "table") == 0)
                fmt = FMT_TABLE;
            else if (strcmp(optarg, "csv") == 0)
                fmt = FMT_CSV;
            else if (strcmp(optarg, "json") == 0)
                fmt = FMT_JSON;
            else
                return cli_usage_error(cmd, "--format: unknown value '%s' (allowed: table, "
                                            "csv, json)", optarg);
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

    cli_client_t *c = NULL;
    int status = cli_client_new(&c, &op.conn, cmd);
    if (status)
        return status;
    cli_client_set_raw(c, fmt == FMT_JSON);
    hpt_env_t *env = NULL;
    status = fetch(c, cmd, sweep, &env);
    if (status == HPT_EXIT_OK) {
        const Hpt__ResultsReply *r = env->results_reply;
        if (fmt == FMT_TABLE)
            status = print_table(r, (int)top);
        else if (fmt == FMT_CSV)
            status = print_csv(stdout, r, (int)top);
        else
            status = print_json(r, (int)top);
    }
    hpt_proto_free(&env);
    cli_client_destroy(&c);
    if (fflush(stdout) != 0 && status == HPT_EXIT_OK) {
        fprintf(stderr, "hptune %s: writing the output: %s\n", cmd, strerror(errno));
        status = HPT_EXIT_FAIL;
    }
    return status;
}
