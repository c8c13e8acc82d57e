/* json.c: JSON escaping, the results document and the workers document; see
 * json.h. */
#include "json.h"
#include "text.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

// --- scalars ----------------------------------------------------------------

void hpt_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = hpt_text_decode(p + i, n - i, &cp);
        if (k == 0) {
            /* Not UTF-8: JSON text must be, so the byte becomes U+FFFD. */
            fputs("\\ufffd", f);
            i++;
            continue;
        }
        if (cp == '"' || cp == '\\')
            fprintf(f, "\\%c", (int)cp);
        else if (cp == '\n')
            fputs("\\n", f);
        else if (cp == '\t')
            fputs("\\t", f);
        else if (hpt_text_is_control(cp) || cp == 0x2028 || cp == 0x2029)
            fprintf(f, "\\u%04x", (unsigned)cp);   // C0, DEL, C1; JS line separators
        else
            fwrite(p + i, 1, k, f);
        i += k;
    }
    fputc('"', f);
}

void hpt_json_num(FILE *f, double v)
{
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    /* %.17g always round-trips; a shorter form is preferred when it does
     * too, so 0.1 prints as 0.1 rather than 0.10000000000000001. */
    char b[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, v);
        if (strtod(b, NULL) == v)
            break;
    }
    fputs(b, f);
}

// --- the sweep summary ------------------------------------------------------

static void json_param(FILE *f, const Hpt__Param *p)
{
    if (!p)
        fputs("null", f);
    else if (p->numeric)
        hpt_json_num(f, p->number);
    else
        hpt_json_str(f, p->text);
}

/* "key": value helpers for the sweep object. */
static void jkey(FILE *f, const char *k, bool *first)
{
    fputs(*first ? "" : ",", f);
    *first = false;
    hpt_json_str(f, k);
    fputc(':', f);
}

/* "key":N for an unsigned count. */
static void jkey_u(FILE *f, const char *k, unsigned v, bool *first)
{
    jkey(f, k, first);
    fprintf(f, "%u", v);
}

/* [v0,v1,...] (NaN as null). */
static void json_nums(FILE *f, const double *v, size_t n)
{
    fputc('[', f);
    for (size_t j = 0; j < n; j++) {
        if (j)
            fputc(',', f);
        hpt_json_num(f, v[j]);
    }
    fputc(']', f);
}

/* The race's keys (select: race): "race" null when the sweep does not race,
 * else {summary, outcome, repeats, winner, tasks, leaders: [{trial,
 * dropped_at_look, p_drop, cost, mean: [per look], ci95_half_width: [...]}]}
 * (leaders only in results). */
static void json_race(FILE *f, const Hpt__SweepInfo *s, bool *first)
{
    jkey(f, "race", first);
    if (!s->race || !s->race[0]) {
        fputs("null", f);
        return;
    }
    bool rf = true;
    fputc('{', f);
    jkey(f, "summary", &rf);
    hpt_json_str(f, s->race);
    jkey(f, "outcome", &rf);
    if (s->race_outcome && s->race_outcome[0])
        hpt_json_str(f, s->race_outcome);
    else
        fputs("null", f);
    jkey_u(f, "repeats", s->race_repeats, &rf);
    jkey(f, "winner", &rf);
    hpt_json_num(f, s->race_winner ? (double)s->race_winner : NAN);
    jkey_u(f, "tasks", s->race_tasks, &rf);
    jkey(f, "leaders", &rf);
    fputc('[', f);
    for (size_t i = 0; i < s->n_race_leaders; i++) {
        const Hpt__RaceLeader *l = s->race_leaders[i];
        bool lf = true;
        fputs(i ? ",{" : "{", f);
        jkey(f, "trial", &lf);
        fprintf(f, "%llu", (unsigned long long)l->trial);
        jkey(f, "dropped_at_look", &lf);
        hpt_json_num(f, l->dropped_at ? (double)(l->dropped_at - 1) : NAN);
        jkey(f, "p_drop", &lf);
        hpt_json_num(f, l->p_drop);
        jkey(f, "cost", &lf);
        hpt_json_num(f, l->cost);
        jkey(f, "mean", &lf);
        json_nums(f, l->mean, l->n_mean);
        jkey(f, "ci95_half_width", &lf);
        json_nums(f, l->half_width, l->n_half_width);
        fputc('}', f);
    }
    fputs("]}", f);
}

void hpt_json_sweep(FILE *f, const Hpt__SweepInfo *s)
{
    bool first = true;
    fputc('{', f);
    jkey(f, "id", &first);
    fprintf(f, "%llu", (unsigned long long)s->id);
    jkey(f, "name", &first);
    hpt_json_str(f, s->name);
    jkey(f, "state", &first);
    hpt_json_str(f, s->state);
    jkey(f, "method", &first);
    hpt_json_str(f, s->method);
    jkey(f, "dataset", &first);
    hpt_json_str(f, s->dataset);
    jkey(f, "metric", &first);
    hpt_json_str(f, s->metric);
    jkey(f, "maximize", &first);
    fputs(s->maximize ? "true" : "false", f);
    jkey_u(f, "folds", s->folds, &first);
    jkey_u(f, "repeats", s->repeats, &first);
    jkey_u(f, "trials_total", s->trials_total, &first);
    jkey_u(f, "trials_done", s->trials_done, &first);
    jkey_u(f, "trials_failed", s->trials_failed, &first);
    jkey_u(f, "tasks_total", s->tasks_total, &first);
    jkey_u(f, "tasks_done", s->tasks_done, &first);
    jkey_u(f, "tasks_running", s->tasks_running, &first);
    jkey_u(f, "tasks_failed", s->tasks_failed, &first);
    jkey(f, "epochs_trained", &first);
    fprintf(f, "%llu", (unsigned long long)s->epochs_trained);
    jkey(f, "epochs_from_scratch", &first);
    fprintf(f, "%llu", (unsigned long long)s->epochs_from_scratch);
    jkey(f, "best_trial", &first);
    if (s->best_trial)
        fprintf(f, "%llu", (unsigned long long)s->best_trial);
    else
        fputs("null", f);
    jkey(f, "best_mean_test_score", &first);
    hpt_json_num(f, s->best_mean);
    jkey(f, "best_std_test_score", &first);
    hpt_json_num(f, s->best_std);
    jkey(f, "best_params", &first);
    if (s->best_trial) {
        fputc('{', f);
        for (size_t i = 0; i < s->n_best_params; i++) {
            if (i)
                fputc(',', f);
            hpt_json_str(f, s->best_params[i]->name);
            fputc(':', f);
            json_param(f, s->best_params[i]);
        }
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    jkey(f, "refit_test_score", &first);
    hpt_json_num(f, s->has_refit ? s->refit_score : NAN);
    jkey(f, "refit_test_accuracy", &first);
    hpt_json_num(f, s->has_refit ? s->refit_accuracy : NAN);
    jkey(f, "refit_ci95_low", &first);
    hpt_json_num(f, s->has_refit ? s->refit_ci_low : NAN);
    jkey(f, "refit_ci95_high", &first);
    hpt_json_num(f, s->has_refit ? s->refit_ci_high : NAN);
    jkey(f, "alpha", &first);
    hpt_json_num(f, s->alpha);
    jkey(f, "runner_up_trial", &first);
    hpt_json_num(f, s->runner_up ? (double)s->runner_up : NAN);
    jkey(f, "p_best_vs_runner_up", &first);
    hpt_json_num(f, s->runner_up ? s->p_runner_up : NAN);
    jkey_u(f, "indistinguishable_from_best", s->indistinguishable, &first);
    jkey(f, "created_unix", &first);
    hpt_json_num(f, s->created_unix > 0 ? s->created_unix : NAN);
    jkey(f, "started_unix", &first);
    hpt_json_num(f, s->started_unix > 0 ? s->started_unix : NAN);
    jkey(f, "finished_unix", &first);
    hpt_json_num(f, s->finished_unix > 0 ? s->finished_unix : NAN);
    jkey(f, "eta_seconds", &first);
    hpt_json_num(f, s->eta_seconds >= 0 ? s->eta_seconds : NAN);
    jkey(f, "error", &first);
    if (s->error && s->error[0])
        hpt_json_str(f, s->error);
    else
        fputs("null", f);
    json_race(f, s, &first);
    fputc('}', f);
}

// --- cv_results ---------------------------------------------------------------

static double split_at(const double *v, size_t n, size_t i)
{
    return i < n ? v[i] : NAN;
}

const Hpt__Param *hpt_json_trial_param(const Hpt__TrialResult *t, const char *name, size_t i)
{
    /* Params are sent in param_names order, but look them up by name to be
     * safe. */
    if (i < t->n_params && strcmp(t->params[i]->name, name) == 0)
        return t->params[i];
    for (size_t j = 0; j < t->n_params; j++)
        if (strcmp(t->params[j]->name, name) == 0)
            return t->params[j];
    return NULL;
}

/* One cv_results column: "name":[v, v, ...] over the rows. */
typedef double (*col_fn)(const Hpt__TrialResult *t, size_t arg);

static double c_split(const Hpt__TrialResult *t, size_t i)
{
    return split_at(t->split_scores, t->n_split_scores, i);
}
static double c_split_train(const Hpt__TrialResult *t, size_t i)
{
    return split_at(t->split_train_scores, t->n_split_train_scores, i);
}
static double c_mean(const Hpt__TrialResult *t, size_t i) { return t->mean_test_score; }
static double c_std(const Hpt__TrialResult *t, size_t i) { return t->std_test_score; }
static double c_rank(const Hpt__TrialResult *t, size_t i)
{
    return t->rank_test_score ? t->rank_test_score : NAN;
}
static double c_fit(const Hpt__TrialResult *t, size_t i) { return t->mean_fit_time; }
static double c_fit_std(const Hpt__TrialResult *t, size_t i) { return t->std_fit_time; }
static double c_p_best(const Hpt__TrialResult *t, size_t i) { return t->p_vs_best; }
static double c_mean_train(const Hpt__TrialResult *t, size_t i) { return t->mean_train_score; }
static double c_finished(const Hpt__TrialResult *t, size_t i) { return t->finished_unix; }
static double c_epochs_trained(const Hpt__TrialResult *t, size_t i) { return t->epochs_trained; }
static double c_parent(const Hpt__TrialResult *t, size_t i)
{
    return t->parent ? (double)t->parent : NAN;
}
static double c_std_train(const Hpt__TrialResult *t, size_t i) { return t->std_train_score; }

static void json_col(FILE *f, const char *name, Hpt__TrialResult *const *rows, size_t n,
                     col_fn fn, size_t arg)
{
    fputc(',', f);
    hpt_json_str(f, name);
    fputs(":[", f);
    for (size_t j = 0; j < n; j++) {
        if (j)
            fputc(',', f);
        hpt_json_num(f, fn(rows[j], arg));
    }
    fputc(']', f);
}

int hpt_json_results(FILE *f, const Hpt__ResultsReply *r, Hpt__TrialResult *const *rows,
                     size_t n, hpt_json_extra_fn extra, void *arg)
{
    /* Splits per trial: folds x repeats, or the longest list sent; train
     * scores when any trial has them. */
    const Hpt__SweepInfo *s = r->sweep;
    size_t k = s && s->folds ? (size_t)s->folds * (s->repeats ? s->repeats : 1) : 0;
    bool train = false;
    for (size_t i = 0; i < r->n_trials; i++) {
        if (r->trials[i]->n_split_scores > k)
            k = r->trials[i]->n_split_scores;
        train = train || r->trials[i]->n_split_train_scores;
    }
    /* A sweep whose trials continue others (hyperband, asha promotions,
     * epoch families) has a parent_trial column. */
    const char *method = s && s->method ? s->method : "";
    bool parents = strcmp(method, "hyperband") == 0 || strcmp(method, "asha") == 0;
    for (size_t j = 0; j < n && !parents; j++)
        parents = rows[j]->parent != 0;

    fputs("{\"sweep\":", f);
    if (s)
        hpt_json_sweep(f, s);
    else
        fputs("null", f);
    fputs(",\"cv_results\":{\"trial\":[", f);
    for (size_t j = 0; j < n; j++)
        fprintf(f, "%s%llu", j ? "," : "", (unsigned long long)rows[j]->trial);
    fputc(']', f);
    for (size_t i = 0; i < r->n_param_names; i++) {
        char col[300];
        snprintf(col, sizeof col, "param_%s", r->param_names[i]);
        fputc(',', f);
        hpt_json_str(f, col);
        fputs(":[", f);
        for (size_t j = 0; j < n; j++) {
            if (j)
                fputc(',', f);
            json_param(f, hpt_json_trial_param(rows[j], r->param_names[i], i));
        }
        fputc(']', f);
    }
    fputs(",\"params\":[", f);
    for (size_t j = 0; j < n; j++) {
        fputs(j ? ",{" : "{", f);
        for (size_t i = 0; i < r->n_param_names; i++) {
            if (i)
                fputc(',', f);
            hpt_json_str(f, r->param_names[i]);
            fputc(':', f);
            json_param(f, hpt_json_trial_param(rows[j], r->param_names[i], i));
        }
        fputc('}', f);
    }
    fputc(']', f);
    char col[64];
    for (size_t i = 0; i < k; i++) {
        snprintf(col, sizeof col, "split%zu_test_score", i);
        json_col(f, col, rows, n, c_split, i);
    }
    json_col(f, "mean_test_score", rows, n, c_mean, 0);
    json_col(f, "std_test_score", rows, n, c_std, 0);
    json_col(f, "rank_test_score", rows, n, c_rank, 0);
    json_col(f, "mean_fit_time", rows, n, c_fit, 0);
    json_col(f, "std_fit_time", rows, n, c_fit_std, 0);
    json_col(f, "p_vs_best", rows, n, c_p_best, 0);
    if (train) {
        for (size_t i = 0; i < k; i++) {
            snprintf(col, sizeof col, "split%zu_train_score", i);
            json_col(f, col, rows, n, c_split_train, i);
        }
        json_col(f, "mean_train_score", rows, n, c_mean_train, 0);
        json_col(f, "std_train_score", rows, n, c_std_train, 0);
    }
    if (parents)   // null for a new configuration
        json_col(f, "parent_trial", rows, n, c_parent, 0);
    json_col(f, "epochs_trained", rows, n, c_epochs_trained, 0);
    json_col(f, "finished_unix", rows, n, c_finished, 0);
    fputs(",\"state\":[", f);
    for (size_t j = 0; j < n; j++) {
        if (j)
            fputc(',', f);
        hpt_json_str(f, rows[j]->state);
    }
    fputs("]}", f);
    if (extra)
        extra(f, arg);
    fputs("}\n", f);
    return ferror(f) ? -EIO : 0;
}

// --- the workers document ---------------------------------------------------

int hpt_json_workers(FILE *f, const Hpt__WorkersReply *r, hpt_json_worker_extra_fn extra,
                     void *arg)
{
    unsigned slots = 0, busy = 0;
    fputs("{\"workers\":[", f);
    for (size_t i = 0; i < r->n_workers; i++) {
        const Hpt__WorkerInfo *w = r->workers[i];
        bool known = w->rate_window_s > 0;   // rates need a window to be rates
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        hpt_json_str(f, w->name);
        fputs(",\"id\":", f);
        hpt_json_str(f, w->id);
        fputs(",\"host\":", f);
        hpt_json_str(f, w->host);
        fputs(",\"version\":", f);
        hpt_json_str(f, w->version);
        fputs(",\"state\":", f);
        hpt_json_str(f, w->state);
        fprintf(f, ",\"slots\":%u,\"busy\":%u,\"datasets\":[", w->slots, w->busy);
        for (size_t d = 0; d < w->n_datasets; d++) {
            fputs(d ? ",{\"name\":" : "{\"name\":", f);
            hpt_json_str(f, w->datasets[d]->name);
            fputs(",\"fingerprint\":", f);
            hpt_json_str(f, w->datasets[d]->fingerprint);
            fputc('}', f);
        }
        fputs("],\"last_seen_s\":", f);
        hpt_json_num(f, w->last_seen_ago);
        fputs(",\"connected_unix\":", f);
        hpt_json_num(f, w->connected_unix > 0 ? w->connected_unix : NAN);
        fprintf(f, ",\"tasks_done\":%u,\"tasks_failed\":%u,\"epochs_done\":%llu",
                w->tasks_done, w->tasks_failed, (unsigned long long)w->epochs_done);
        fputs(",\"tasks_per_min\":", f);
        hpt_json_num(f, known ? w->tasks_per_min : NAN);
        fputs(",\"epochs_per_s\":", f);
        hpt_json_num(f, known ? w->epochs_per_s : NAN);
        fputs(",\"rate_window_s\":", f);
        hpt_json_num(f, known ? w->rate_window_s : NAN);
        if (extra)
            extra(f, i, arg);
        fputc('}', f);
        slots += w->slots;
        busy += w->busy;
    }
    fprintf(f, "],\"slots\":%u,\"slots_busy\":%u}\n", slots, busy);
    return ferror(f) ? -EIO : 0;
}
