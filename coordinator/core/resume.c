/*
 * resume.c: rebuilding the core from the journal after a restart, and the
 * orphaned leases that come with it.
 *
 * Rows come through a coord_journal_reader_t (journal.h), in the order the
 * store keeps them.  Each sweep is rebuilt by replaying its search (the
 * suggestions and observations in their journaled interleaving, through the
 * same hpt__trial_next the scheduler uses), then its tasks.  A task that was
 * leased when the coordinator stopped becomes an orphan: its worker may
 * still be training it, so the lease waits a while for the worker to say
 * Hello again and deliver, rather than recompute the fold.
 *
 * A finished sweep whose summary was journaled with its end (coord_jsum_t)
 * is not rebuilt at all: it is created unloaded, straight from its sweeps
 * row and summary (its spec parsed, no search, trials or tasks), as
 * coord_core_unload would leave it, and coord_core_load reads it back when
 * a client asks for its results.  One without a summary (a journal written
 * by an older build) is rebuilt, and its summary journaled then, so the
 * next start skips it too.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"

typedef struct resume_ctx {
    coord_core_t *k;
    const coord_journal_reader_t *rd;
    coord_sweep_t *s;
    int resumed;
    bool finished_sweep;     // the sweep being loaded had ended
    hpt_err *err;
    char bad[256];
    coord_task_t **race;     // the sweep's journaled race tasks (race.c), for
    size_t n_race, cap_race; //   hpt__race_resume after aggregate
} resume_ctx_t;

/* A journaled trial row, copied for the replay. */
typedef struct trial_row {
    uint64_t trial;
    char *params;
    double mean;
    long obs_before, obs_seq;
    bool cancelled;          // journaled as cancelled (a client cancelled its sweep)
} trial_row_t;

typedef struct trial_rows {
    trial_row_t *v;
    size_t n, cap;
} trial_rows_t;

static int collect_trial(const coord_jrow_trial_t *row, void *ud)
{
    trial_rows_t *rs = ud;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        trial_row_t *v = realloc(rs->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        rs->v = v;
        rs->cap = cap;
    }
    trial_row_t *t = &rs->v[rs->n];
    *t = (trial_row_t){.trial = row->trial, .params = strdup(row->params ? row->params : ""),
                       .mean = row->mean, .obs_before = row->obs_before, .obs_seq = row->obs_seq,
                       .cancelled = row->state && strcmp(row->state, "cancelled") == 0};
    if (!t->params)
        return -ENOMEM;
    rs->n++;
    return 0;
}

static void trial_rows_free(trial_rows_t *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->v[i].params);
    free(rs->v);
    *rs = (trial_rows_t){0};
}

static int by_obs_seq(const void *a, const void *b)
{
    const trial_row_t *x = *(trial_row_t *const *)a, *y = *(trial_row_t *const *)b;
    return (x->obs_seq > y->obs_seq) - (x->obs_seq < y->obs_seq);
}

/* 64 hex digits (a journaled SHA-256) into out; false for NULL or
 * anything else. */
static bool hex_decode32(const char *hex, uint8_t out[32])
{
    if (!hex || strlen(hex) != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            int d = c >= '0' && c <= '9' ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                return false;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

/* Replay the search: suggestions and observations in the journal's order.
 * The search is deterministic given its seed and that interleaving, so each
 * replayed suggestion must equal the journaled trial; r->bad says where it
 * does not. */
static int replay_search(resume_ctx_t *r, const trial_rows_t *rs)
{
    coord_sweep_t *s = r->s;
    size_t n_obs = 0;
    trial_row_t **obs = calloc(rs->n ? rs->n : 1, sizeof *obs);
    if (!obs)
        return -ENOMEM;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].obs_seq > 0)
            obs[n_obs++] = &rs->v[i];
    qsort(obs, n_obs, sizeof *obs, by_obs_seq);
    size_t next = 0;
    int rc = 0;
    for (size_t i = 0; i < rs->n && rc == 0; i++) {
        const trial_row_t *row = &rs->v[i];
        for (; next < n_obs && obs[next]->obs_seq <= row->obs_before; next++) {
            coord_trial_t *t = obs[next]->trial <= s->n_trials ? s->trials[obs[next]->trial - 1]
                                                                : NULL;
            if (!t) {
                snprintf(r->bad, sizeof r->bad,
                         "trial %llu was observed before trial %llu was suggested",
                         (unsigned long long)obs[next]->trial, (unsigned long long)row->trial);
                rc = -EINVAL;
                break;
            }
            coord_search_observe(s->search, t->number, obs[next]->mean);
            t->observed = true;
        }
        if (rc)
            break;
        char pj[2048];
        bool done;
        coord_trial_t *tr = hpt__trial_next(s, pj, sizeof pj, &done);
        if (!tr || tr->number != row->trial || strcmp(pj, row->params) != 0) {
            snprintf(r->bad, sizeof r->bad,
                     "trial %llu: the search replays %.90s where the journal has %.90s",
                     (unsigned long long)row->trial, tr ? pj : "nothing", row->params);
            rc = -EINVAL;
        }
    }
    for (; rc == 0 && next < n_obs; next++) {
        if (obs[next]->trial < 1 || obs[next]->trial > s->n_trials) {
            snprintf(r->bad, sizeof r->bad, "trial %llu was observed but never suggested",
                     (unsigned long long)obs[next]->trial);
            rc = -EINVAL;
            break;
        }
        coord_trial_t *t = s->trials[obs[next]->trial - 1];
        coord_search_observe(s->search, t->number, obs[next]->mean);
        t->observed = true;
    }
    free(obs);
    return rc;
}

static coord_task_t *resume_task_new(coord_core_t *k, coord_trial_t *tr, int index,
                                     const coord_jrow_task_t *row)
{
    coord_task_t *t = hpt__task_alloc(tr, index, row->refit);
    if (!t)
        return NULL;
    t->id = row->id;
    t->attempt = (uint16_t)(row->attempt > UINT16_MAX ? UINT16_MAX : row->attempt);
    t->failures = (uint8_t)(row->failures > UINT8_MAX ? UINT8_MAX : row->failures);
    if (row->error)
        hpt__str_set(&t->error, row->error);
    if (hpt__map_put(k, t) < 0) {
        hpt__task_free(t);
        return NULL;
    }
    if (t->id >= k->next_task_id)
        k->next_task_id = t->id + 1;
    return t;
}

static int resume_task(const coord_jrow_task_t *row, void *ud)
{
    resume_ctx_t *r = ud;
    coord_core_t *k = r->k;
    coord_sweep_t *s = r->s;
    if (row->trial < 1 || row->trial > s->n_trials) {
        snprintf(r->bad, sizeof r->bad, "task %llu names trial %llu, which does not exist",
                 (unsigned long long)row->id, (unsigned long long)row->trial);
        return -EINVAL;
    }
    if (hpt__map_get(k, row->id)) {
        snprintf(r->bad, sizeof r->bad, "task %llu appears twice", (unsigned long long)row->id);
        return -EINVAL;
    }
    coord_trial_t *tr = s->trials[row->trial - 1];
    int seeds = s->spec->seeds;
    int split = row->repeat * s->spec->cv.folds + row->fold;
    int index = split * seeds + row->seed_rep;
    /* A repeat past the spec's is a race task (race.c): at most
     * select.max_repeats of them, of a trial that has search tasks. */
    bool race = !row->refit && row->repeat >= s->spec->cv.repeats && tr->n_tasks > 0 &&
                row->repeat - s->spec->cv.repeats < s->spec->race.max_repeats;
    if (!row->refit && (row->fold < 0 || row->fold >= s->spec->cv.folds || split < 0 ||
                        row->seed_rep < 0 || row->seed_rep >= seeds ||
                        (index >= tr->n_tasks && !race) ||
                        (!race && tr->tasks[index]))) {
        snprintf(r->bad, sizeof r->bad,
                 "task %llu: split %d (seed %d) of trial %llu is invalid or twice",
                 (unsigned long long)row->id, split, row->seed_rep,
                 (unsigned long long)row->trial);
        return -EINVAL;
    }
    coord_task_t *t = resume_task_new(k, tr, index, row);
    if (!t)
        return -ENOMEM;
    if (row->refit) {
        if (s->refit_task) {
            hpt__map_del(k, s->refit_task->id);
            hpt__task_free(s->refit_task);
        }
        s->refit_task = t;
        s->best = tr;
        s->state = SWEEP_REFITTING;
    } else if (race) {
        if (r->n_race == r->cap_race) {
            size_t cap = r->cap_race ? r->cap_race * 2 : 64;
            coord_task_t **v = realloc(r->race, cap * sizeof *v);
            if (!v) {
                hpt__map_del(k, t->id);
                hpt__task_free(t);
                return -ENOMEM;
            }
            r->race = v;
            r->cap_race = cap;
        }
        r->race[r->n_race++] = t;
    } else {
        tr->tasks[index] = t;
    }
    uint8_t hash[32];
    const char *st = row->state;
    if (strcmp(st, "done") == 0) {
        coord_task_result_t *res = hpt__task_result_new(t);
        if (!res)
            return -ENOMEM;
        coord_result_t rr = row->r;
        rr.resumed_from = row->resumed_from;
        hpt__task_result_set(res, &rr, isnan(row->finished) ? 0 : row->finished,
                             row->worker ? hpt__intern(k, row->worker) : NULL);
        if (row->refit) {   // the sweep's refit figures (used once has_refit is set)
            s->refit_score = rr.score;
            s->refit_accuracy = rr.accuracy;
            s->refit_n_test = rr.n_eval;
        }
        t->res = res;
        t->state = TASK_DONE;
        s->tasks_done++;
        if (rr.epochs >= rr.resumed_from && rr.resumed_from >= 0) {
            s->epochs_trained += (uint64_t)(rr.epochs - rr.resumed_from);
            s->epochs_scratch += (uint64_t)rr.epochs;
        }
        if (!row->refit && !race)
            tr->done++;
    } else if (strcmp(st, "failed") == 0) {
        t->state = TASK_FAILED;
        s->tasks_failed++;
    } else if (strcmp(st, "cancelled") == 0) {
        t->state = TASK_CANCELLED;
    } else if (r->finished_sweep) {
        t->state = TASK_CANCELLED;   // a finished sweep runs nothing more
    } else if (strcmp(st, "leased") == 0 && row->worker &&
               hex_decode32(row->worker_secret, hash)) {
        /* Its worker may still be training it: keep the lease for a while so
         * the worker can re-attach and deliver, rather than recompute.  Only
         * a worker that proves it is the holder (its session secret, whose
         * hash its workers row keeps, and its key) may take it back; a
         * holder with no hash journaled (an older build) could never prove
         * it, so that task is simply queued again. */
        double deadline =
            k->now + 2.0 * k->cfg.hb_ivl_ms * 1e-3 * k->cfg.hb_liveness + 1.0;
        if (hpt__lease_orphan(k, t, row->worker, hash, row->worker_key, deadline) < 0)
            hpt__q_push(k, t, false);
    } else {
        hpt__q_push(k, t, false);
    }
    return 0;
}

/* Free the journaled race tasks no race took (a rebuild that failed): out
 * of the queue, their lease, the task map. */
static void pending_race_drop(resume_ctx_t *r)
{
    for (size_t i = 0; i < r->n_race; i++) {
        coord_task_t *t = r->race[i];
        if (!t)
            continue;
        if (t->state == TASK_QUEUED)
            hpt__q_remove(t);
        if (t->lease)
            hpt__lease_end(r->k, t);
        if (hpt__map_get(r->k, t->id) == t)
            hpt__map_del(r->k, t->id);
        hpt__task_free(t);
    }
    free(r->race);
    r->race = NULL;
    r->n_race = r->cap_race = 0;
}

/* Rebuild s's trials and tasks from the journal: its trial rows (kept in
 * *rows for aggregate; the caller frees them), the search replayed over
 * them, then its tasks.  Returns 0, -ENOMEM, or -EINVAL with r->bad saying
 * where the journal and the replay disagree. */
static int rebuild(resume_ctx_t *r, coord_sweep_t *s, trial_rows_t *rows)
{
    r->s = s;
    r->bad[0] = '\0';
    int rc = r->rd->each_trial(r->rd->ud, s->id, collect_trial, rows);
    if (rc == 0)
        rc = replay_search(r, rows);
    if (rc == 0)
        rc = r->rd->each_task(r->rd->ud, s->id, resume_task, r);
    return rc;
}

/* After rebuild: trials whose tasks were all done (or that failed) are
 * aggregated again, which also replays their observations into the search
 * in trial order; tasks the journal lacks are created.  In a finished
 * sweep a trial the journal says was cancelled (its sweep was) is
 * cancelled again rather than left running, as it was before the restart.
 * Returns the number of done trials, or -ENOMEM. */
static int aggregate(resume_ctx_t *r, coord_sweep_t *s, const trial_rows_t *rows)
{
    coord_core_t *k = r->k;
    int done_trials = 0;
    for (size_t i = 0; i < s->n_trials; i++) {
        coord_trial_t *tr = s->trials[i];
        bool failed = tr->n_tasks == 0;
        for (int j = 0; j < tr->n_tasks && !failed; j++)
            failed = tr->tasks[j] && tr->tasks[j]->state == TASK_FAILED;
        if (failed) {
            for (int j = 0; j < tr->n_tasks; j++)
                if (tr->tasks[j] && tr->tasks[j]->state == TASK_FAILED)
                    hpt__trial_error(tr, "split %d: %.200s",
                             coord_task_split(tr->tasks[j]),
                             tr->tasks[j]->error ? tr->tasks[j]->error : "");
            hpt__trial_abandon(k, tr, NULL);
            hpt__trial_finish(k, tr);
        } else if (tr->done == tr->n_tasks) {
            hpt__trial_finish(k, tr);
            done_trials++;
        }
        for (int j = 0; j < tr->n_tasks; j++)
            if (!tr->tasks[j]) {
                /* The crash came between the trial and its tasks being
                 * journaled: create the missing ones. */
                coord_task_t *t = hpt__task_new(k, tr, j, false);
                if (!t)
                    return -ENOMEM;
                tr->tasks[j] = t;
                if (r->finished_sweep)
                    t->state = TASK_CANCELLED;
                else
                    hpt__q_push(k, t, false);
            }
        /* replay_search matched trial i with row i. */
        if (r->finished_sweep && tr->state == TRIAL_RUNNING && i < rows->n &&
            rows->v[i].cancelled)
            tr->state = TRIAL_CANCELLED;
    }
    /* The race (race.c) from its journaled tasks, once the trials it
     * raced are aggregated; a refit journaled after it names the winner
     * again below (resume_task set s->best from it, aggregate reset it). */
    coord_trial_t *refit_best = s->refit_task ? s->refit_task->trial : NULL;
    int rc = hpt__race_resume(k, s, r->race, r->n_race, r->finished_sweep, r->bad,
                              sizeof r->bad);
    pending_race_drop(r);   // those it took are NULL in r->race now
    if (rc < 0)
        return rc;
    if (refit_best)
        s->best = refit_best;
    return done_trials;
}

/* After aggregate, in a sweep that goes on: a queued task whose parent
 * trial's task of the same split is still pending waits for it again, as
 * it did before the restart.  Trials in order, so each parent is settled
 * before its kids. */
static void settle_waiting(coord_sweep_t *s)
{
    for (size_t i = 0; i < s->n_trials; i++) {
        coord_trial_t *tr = s->trials[i];
        if (!tr->parent)
            continue;
        for (int j = 0; j < tr->n_tasks; j++) {
            coord_task_t *t = tr->tasks[j];
            if (t && t->state == TASK_QUEUED && hpt__task_should_wait(t)) {
                hpt__q_remove(t);
                hpt__wait(t);
            }
        }
    }
}

// --- summaries --------------------------------------------------------------------

/* The longest encoding of one value: "1 " (absent), a %a double (at most 24
 * bytes), " 31:" and 31 bytes of text, ";". */
#define VAL_TXT 72

/* vals (n of them) as text that reads back bit for bit (vals_decode): per
 * value "ABSENT NUM LEN:STR;", NUM in C99 hex-float form.  The journal's
 * params JSON has six digits, so it cannot stand in for it. */
static void vals_encode(const coord_pval_t *vals, int n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && at < len; i++) {
        size_t sl = strnlen(vals[i].str, sizeof vals[i].str - 1);
        int w = snprintf(buf + at, len - at, "%d %a %zu:%.*s;", vals[i].absent ? 1 : 0,
                         vals[i].num, sl, (int)sl, vals[i].str);
        at += w > 0 ? (size_t)w : 0;
    }
}

/* Read n values written by vals_encode into vals (zeroed by the caller).
 * Returns 0, or -EINVAL when txt does not hold exactly n of them. */
static int vals_decode(const char *txt, coord_pval_t *vals, int n)
{
    const char *p = txt;
    for (int i = 0; i < n; i++) {
        char *end;
        long absent = strtol(p, &end, 10);
        if (end == p || (absent != 0 && absent != 1) || *end != ' ')
            return -EINVAL;
        p = end + 1;
        double num = strtod(p, &end);
        if (end == p || *end != ' ')
            return -EINVAL;
        p = end + 1;
        long sl = strtol(p, &end, 10);
        if (end == p || *end != ':' || sl < 0 || sl >= (long)sizeof vals[i].str ||
            strnlen(end + 1, (size_t)sl) < (size_t)sl || end[1 + sl] != ';')
            return -EINVAL;
        memcpy(vals[i].str, end + 1, (size_t)sl);
        vals[i].str[sl] = '\0';
        vals[i].absent = absent == 1;
        vals[i].num = num;
        p = end + 2 + sl;
    }
    return *p == '\0' ? 0 : -EINVAL;
}

/* An empty summary for a sweep of np parameters: one block, the best
 * trial's values after the struct.  NULL when out of memory. */
static coord_sweep_sum_t *sum_new(size_t np)
{
    _Static_assert(sizeof(coord_sweep_sum_t) % _Alignof(coord_pval_t) == 0,
                   "the best trial's values follow the summary aligned");
    coord_sweep_sum_t *sum = calloc(1, sizeof *sum + np * sizeof(coord_pval_t));
    if (sum) {
        sum->best_vals = (coord_pval_t *)(sum + 1);
        sum->best_mean = sum->best_std = NAN;
    }
    return sum;
}

void hpt__j_summary(coord_core_t *k, const coord_sweep_t *s)
{
    int np = s->spec->n_params;
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    char txt[COORD_SPEC_MAX_PARAMS * VAL_TXT];
    coord_jsum_t j = {
        .best_mean = NAN, .best_std = NAN,
        .tasks_total = s->tasks_total, .tasks_done = s->tasks_done,
        .tasks_failed = s->tasks_failed, .trials_done = s->trials_done,
        .trials_failed = s->trials_failed, .epochs_trained = s->epochs_trained,
        .epochs_scratch = s->epochs_scratch, .results_gen = s->results_gen,
        .has_refit = s->has_refit, .refit_score = s->refit_score,
        .refit_accuracy = s->refit_accuracy, .refit_n_test = s->refit_n_test,
    };
    const coord_pval_t *best_vals = NULL;
    if (s->sum) {   // unloaded already: what it kept
        j.trials_total = s->sum->trials_total;
        j.n_trials = s->sum->n_trials;
        j.best = s->sum->best;
        j.best_mean = s->sum->best_mean;
        j.best_std = s->sum->best_std;
        best_vals = s->sum->best ? s->sum->best_vals : NULL;
    } else {
        j.trials_total = s->search ? coord_search_total(s->search) : 0;
        j.n_trials = s->n_trials;
        if (s->best) {
            j.best = s->best->number;
            j.best_mean = s->best->mean;
            j.best_std = s->best->std;
            coord_trial_values(s->best, vals);
            best_vals = vals;
        }
    }
    if (best_vals) {
        vals_encode(best_vals, np, txt, sizeof txt);
        j.best_values = txt;
    }
    if (s->race_verdict[0])   // so status has it after a restart, before any load
        j.race_verdict = s->race_verdict;
    hpt__j_sweep_summary(k, s->id, &j);
}

/* Make s (spec, times and error set from its row) a finished sweep in state
 * `final` that is unloaded from the start, from the journaled summary js.
 * Returns 0, -ENOMEM, or -EINVAL when the summary does not fit its spec (s
 * is then unchanged and is rebuilt instead). */
static int start_unloaded(coord_sweep_t *s, coord_sweep_state_t final, const coord_jsum_t *js)
{
    int np = s->spec->n_params;
    if (js->best > js->n_trials || js->tasks_total < 0 || js->tasks_done < 0 ||
        js->tasks_failed < 0 || js->trials_done < 0 || js->trials_failed < 0 ||
        (js->best && !js->best_values))
        return -EINVAL;
    coord_sweep_sum_t *sum = sum_new((size_t)np);
    if (!sum)
        return -ENOMEM;
    if (js->best && vals_decode(js->best_values, sum->best_vals, np) < 0) {
        free(sum);
        return -EINVAL;
    }
    sum->trials_total = js->trials_total;
    sum->n_trials = (size_t)js->n_trials;
    sum->best = js->best;
    sum->best_mean = js->best_mean;
    sum->best_std = js->best_std;
    s->sum = sum;
    s->state = final;
    s->tasks_total = js->tasks_total;
    s->tasks_done = js->tasks_done;
    s->tasks_failed = js->tasks_failed;
    s->trials_done = js->trials_done;
    s->trials_failed = js->trials_failed;
    s->epochs_trained = js->epochs_trained;
    s->epochs_scratch = js->epochs_scratch;
    s->results_gen = js->results_gen;
    s->has_refit = js->has_refit;
    s->refit_score = js->refit_score;
    s->refit_accuracy = js->refit_accuracy;
    s->refit_n_test = js->refit_n_test;
    if (js->race_verdict)
        snprintf(s->race_verdict, sizeof s->race_verdict, "%s", js->race_verdict);
    return 0;
}

static int resume_sweep(const coord_jrow_sweep_t *row, void *ud)
{
    resume_ctx_t *r = ud;
    coord_core_t *k = r->k;
    hpt_err perr = {0};
    coord_spec_t *spec = NULL;
    const char *path = row->path ? row->path : "spec";
    int rc = coord_spec_parse(row->spec, strlen(row->spec), path, &spec, &perr);
    coord_sweep_t *s = rc < 0 ? NULL : calloc(1, sizeof *s);
    if (!s) {
        coord_spec_destroy(&spec);
        /* A spec that parsed when it was submitted but not now (an older
         * build's dialect): end the sweep rather than refuse to start. */
        hpt__event(k, COORD_EV_SWEEP_RESUME_FAILED, -1, row->id, "sweep=%llu error=%s",
                   (unsigned long long)row->id,
                   hpt__q(k, perr.msg[0] ? perr.msg : "out of memory"));
        hpt__j_sweep_state(k, row->id, "failed", hpt__unix(k), perr.msg);
        if (row->id >= k->next_sweep_id)
            k->next_sweep_id = row->id + 1;
        return 0;
    }
    s->spec = spec;
    s->spec_text = strdup(row->spec);
    s->id = row->id;
    snprintf(s->owner, sizeof s->owner, "%s", row->owner ? row->owner : "");
    s->created = row->created == row->created ? row->created : hpt__unix(k);
    s->started = row->started == row->started ? row->started : 0;
    coord_sweep_state_t final = SWEEP_RUNNING;
    for (int i = SWEEP_DONE; i <= SWEEP_CANCELLED; i++)
        if (strcmp(row->state, coord_sweep_state_name((coord_sweep_state_t)i)) == 0)
            final = (coord_sweep_state_t)i;
    s->state = strcmp(row->state, "queued") == 0 ? SWEEP_QUEUED : SWEEP_RUNNING;
    r->finished_sweep = final >= SWEEP_DONE;
    snprintf(s->fingerprint, sizeof s->fingerprint, "%s", row->fingerprint ? row->fingerprint : "");
    /* The canonical dataset name the shell resolved at submission (journals
     * of older builds have none: the spec's own, as typed). */
    if (row->dataset && row->dataset[0] && strlen(row->dataset) < sizeof spec->dataset)
        snprintf(spec->dataset, sizeof spec->dataset, "%s", row->dataset);
    if (r->finished_sweep) {
        s->finished = row->finished == row->finished ? row->finished : hpt__unix(k);
        snprintf(s->error, sizeof s->error, "%s", row->error ? row->error : "");
    }
    /* A finished sweep with its summary: created unloaded, nothing rebuilt
     * (no search, trials or tasks in memory; coord_core_load reads them
     * when a client asks for its results). */
    rc = r->finished_sweep && row->sum && s->spec_text ? start_unloaded(s, final, row->sum)
                                                        : -EINVAL;
    if (rc == 0) {
        if (k->sweeps_tail)
            k->sweeps_tail->next = s;
        else
            k->sweeps = s;
        k->sweeps_tail = s;
        if (s->id >= k->next_sweep_id)
            k->next_sweep_id = s->id + 1;
        hpt__event(k, COORD_EV_SWEEP_LOADED, -1, s->id,
                   "sweep=%llu name=%s state=%s trials=%zu trials_done=%d tasks_done=%d "
                   "unloaded=true",
                   (unsigned long long)s->id, hpt__q(k, spec->name),
                   coord_sweep_state_name(s->state), s->sum->n_trials, s->trials_done, s->tasks_done);
        return 0;
    }
    if (!s->spec_text || rc == -ENOMEM || coord_search_new(&s->search, spec, &perr) < 0) {
        coord_spec_destroy(&s->spec);
        free(s->spec_text);
        free(s);
        return hpt_err_set(r->err, -ENOMEM, "sweep %llu: %s", (unsigned long long)row->id,
                           perr.msg[0] ? perr.msg : "out of memory");
    }
    long total = coord_search_total(s->search);
    int splits = spec->cv.folds * spec->cv.repeats * spec->seeds;   // tasks per trial
    if (total > 0)
        s->tasks_total = (int64_t)total * splits;
    if (k->sweeps_tail)
        k->sweeps_tail->next = s;
    else
        k->sweeps = s;
    k->sweeps_tail = s;
    if (s->id >= k->next_sweep_id)
        k->next_sweep_id = s->id + 1;
    trial_rows_t rows = {0};
    rc = rebuild(r, s, &rows);
    if (rc == 0) {
        if (total < 0)
            s->tasks_total = (int64_t)s->n_trials * splits;
        rc = aggregate(r, s, &rows);
    }
    trial_rows_free(&rows);
    int done_trials = rc;
    if (rc < 0) {
        pending_race_drop(r);
        if (rc == -ENOMEM)
            return hpt_err_set(r->err, rc, "out of memory resuming sweep %llu",
                               (unsigned long long)s->id);
        snprintf(s->error, sizeof s->error, "cannot resume: %.200s", r->bad);
        hpt__event(k, COORD_EV_SWEEP_RESUME_FAILED, -1, s->id, "sweep=%llu error=%s",
                   (unsigned long long)s->id, hpt__q(k, r->bad));
        /* Nothing of it runs: its queue and leases are dropped. */
        while (s->qhead) {
            coord_task_t *t = s->qhead;
            hpt__q_remove(t);
            t->state = TASK_CANCELLED;
        }
        for (size_t i = 0; i < s->n_trials; i++)
            for (int j = 0; j < s->trials[i]->n_tasks; j++)
                if (s->trials[i]->tasks[j] && s->trials[i]->tasks[j]->lease) {
                    hpt__lease_end(k, s->trials[i]->tasks[j]);
                    s->trials[i]->tasks[j]->state = TASK_CANCELLED;
                }
        if (s->refit_task && s->refit_task->lease) {
            hpt__lease_end(k, s->refit_task);
            s->refit_task->state = TASK_CANCELLED;
        }
        hpt__race_cancel(k, s, "the sweep cannot resume");
        hpt__sweep_finish(k, s, SWEEP_FAILED);
        return 0;
    }
    if (final >= SWEEP_DONE) {
        /* A finished sweep without a summary (an older build ended it) is
         * loaded for its results only, and unloaded after the first
         * commit; its summary is journaled now, so the next start creates
         * it unloaded. */
        s->state = final;
        if (s->refit_task && s->refit_task->state == TASK_DONE) {
            s->has_refit = true;   // refit_score etc. were set from its task's row
        }
        while (s->qhead) {
            coord_task_t *t = s->qhead;
            hpt__q_remove(t);
            t->state = TASK_CANCELLED;
        }
        hpt__j_summary(k, s);
        hpt__event(k, COORD_EV_SWEEP_LOADED, -1, s->id,
                   "sweep=%llu name=%s state=%s trials=%zu trials_done=%d tasks_done=%d",
                   (unsigned long long)s->id, hpt__q(k, spec->name),
                   coord_sweep_state_name(s->state), s->n_trials, done_trials, s->tasks_done);
        return 0;
    }
    settle_waiting(s);
    if (s->state == SWEEP_REFITTING && s->refit_task && s->refit_task->state == TASK_FAILED) {
        snprintf(s->error, sizeof s->error, "refit failed: %.200s",
                 s->refit_task->error ? s->refit_task->error : "");
        hpt__sweep_finish(k, s, SWEEP_FAILED);
    }
    r->resumed++;
    hpt__event(k, COORD_EV_SWEEP_RESUMED, -1, s->id,
               "sweep=%llu name=%s state=%s trials=%zu trials_done=%d tasks_done=%d queued=%d "
               "leases_awaiting_workers=%d",
               (unsigned long long)s->id, hpt__q(k, spec->name), coord_sweep_state_name(s->state),
               s->n_trials, done_trials, s->tasks_done, s->n_queued, s->tasks_running);
    return 0;
}

int coord_core_resume(coord_core_t *k, double now, const coord_journal_reader_t *rd,
                      hpt_err *err)
{
    k->now = now;
    resume_ctx_t r = {.k = k, .rd = rd, .err = err};
    k->replaying = true;
    int rc = rd->each_sweep(rd->ud, resume_sweep, &r);
    k->replaying = false;
    return rc < 0 ? rc : r.resumed;
}

// --- unloading finished sweeps ------------------------------------------------------

/* Free what coord_core_load rebuilds: the trials with their tasks (out of
 * the task map), the refit task, the enum values and the search.  s's
 * tasks hold no lease and sit in no queue (a finished sweep's). */
static void loaded_free(coord_core_t *k, coord_sweep_t *s)
{
    hpt__race_free(k, s, true);   // before the trials its tasks belong to
    for (size_t i = 0; i < s->n_trials; i++) {
        coord_trial_t *tr = s->trials[i];
        for (int j = 0; j < tr->n_tasks; j++) {
            coord_task_t *t = tr->tasks[j];
            if (!t)
                continue;
            /* Only its own entry: a task that never entered the map (a
             * rebuild that failed) must not take another's with its id. */
            if (hpt__map_get(k, t->id) == t)
                hpt__map_del(k, t->id);
            hpt__task_free(t);
        }
        free(tr->error);
        free(tr);   // its tasks, results and values live in the same block
    }
    free(s->trials);
    s->trials = NULL;
    s->n_trials = s->cap_trials = 0;
    free(s->fam);
    s->fam = NULL;
    s->fam_len = s->fam_cap = 0;
    if (s->refit_task) {
        if (hpt__map_get(k, s->refit_task->id) == s->refit_task)
            hpt__map_del(k, s->refit_task->id);
        hpt__task_free(s->refit_task);
        s->refit_task = NULL;
    }
    free(s->pvals);
    s->pvals = NULL;
    s->n_pvals = s->cap_pvals = 0;
    coord_search_destroy(&s->search);
    s->best = NULL;
}

int coord_core_unload(coord_core_t *k, coord_sweep_t *s)
{
    if (!coord_sweep_loaded(s))
        return 0;
    if (s->state < SWEEP_DONE || s->qhead || s->tasks_running > 0)
        return -EBUSY;
    coord_sweep_sum_t *sum = sum_new((size_t)s->spec->n_params);
    if (!sum)
        return -ENOMEM;
    sum->trials_total = coord_search_total(s->search);
    sum->n_trials = s->n_trials;
    if (s->best) {
        sum->best = s->best->number;
        sum->best_mean = s->best->mean;
        sum->best_std = s->best->std;
        coord_trial_values(s->best, sum->best_vals);
    }
    loaded_free(k, s);
    hpt__map_compact(k);
    s->sum = sum;
    return 0;
}

int coord_core_forget(coord_core_t *k, double now, coord_sweep_t *s, const char *why)
{
    k->now = now;
    if (s->state < SWEEP_DONE || s->qhead || s->tasks_running > 0)
        return -EBUSY;
    if (coord_sweep_loaded(s)) {
        loaded_free(k, s);
        hpt__map_compact(k);
    }
    coord_sweep_t *prev = NULL;
    for (coord_sweep_t *x = k->sweeps; x && x != s; x = x->next)
        prev = x;
    if (prev)
        prev->next = s->next;
    else if (k->sweeps == s)
        k->sweeps = s->next;
    if (k->sweeps_tail == s)
        k->sweeps_tail = prev;
    hpt__j_sweep_delete(k, s->id);
    hpt__event(k, COORD_EV_SWEEP_DELETED, -1, s->id,
               "sweep=%llu name=%s state=%s finished_unix=%.0f reason=\"%s\"",
               (unsigned long long)s->id, s->spec->name, coord_sweep_state_name(s->state),
               s->finished, why ? why : "");
    hpt__sweep_free(s);
    return 0;
}

int coord_core_load(coord_core_t *k, double now, const coord_journal_reader_t *rd,
                    coord_sweep_t *s, hpt_err *err)
{
    if (coord_sweep_loaded(s))
        return 0;
    k->now = now;
    /* The rebuild runs in a scratch sweep that borrows s's spec, so that s
     * keeps its counters, times and refit figures as they were (a rebuild
     * recounts some of them differently: a trial abandoned live lowered
     * tasks_total, one rebuilt does not), and whatever goes wrong leaves s
     * as it was.  Its records and events are dropped from the outbox: the
     * journal has them already. */
    size_t mark = k->out.n;
    hpt_err perr = {0};
    coord_sweep_t *t = calloc(1, sizeof *t);
    int rc = t ? coord_search_new(&t->search, s->spec, &perr) : -ENOMEM;
    resume_ctx_t r = {.k = k, .rd = rd, .err = err, .finished_sweep = true};
    trial_rows_t rows = {0};
    if (rc == 0) {
        t->id = s->id;
        t->spec = s->spec;
        t->state = SWEEP_RUNNING;   // so the replay suggests its trials
        k->replaying = true;
        rc = rebuild(&r, t, &rows);
        if (rc == 0)
            rc = aggregate(&r, t, &rows);
        k->replaying = false;
        if (rc > 0)
            rc = 0;
    }
    pending_race_drop(&r);
    trial_rows_free(&rows);
    if (rc == 0 && t->n_trials != s->sum->n_trials) {
        snprintf(r.bad, sizeof r.bad, "the journal has %zu trials where %zu were unloaded",
                 t->n_trials, s->sum->n_trials);
        rc = -EINVAL;
    }
    k->out.n = mark;
    if (rc < 0) {
        if (t) {
            loaded_free(k, t);
            t->spec = NULL;   // s's
            free(t);
        }
        return hpt_err_set(err, rc, "sweep %llu: cannot read it back from the journal: %s",
                           (unsigned long long)s->id,
                           r.bad[0] ? r.bad : perr.msg[0] ? perr.msg : hpt_strerror(rc));
    }
    s->search = t->search;
    s->trials = t->trials;
    s->n_trials = t->n_trials;
    s->cap_trials = t->cap_trials;
    s->pvals = t->pvals;
    s->n_pvals = t->n_pvals;
    s->cap_pvals = t->cap_pvals;
    s->fam = t->fam;
    s->fam_len = t->fam_len;
    s->fam_cap = t->fam_cap;
    s->refit_task = t->refit_task;
    s->race = t->race;
    if (!s->race_verdict[0])   // a restart started it unloaded: the verdict as decided
        memcpy(s->race_verdict, t->race_verdict, sizeof s->race_verdict);
    for (size_t i = 0; i < s->n_trials; i++)
        s->trials[i]->sweep = s;
    /* The best as it was: live, ties went to the trial that finished first;
     * a rebuild breaks them in trial order. */
    s->best = s->sum->best >= 1 ? s->trials[s->sum->best - 1] : NULL;
    free(s->sum);
    s->sum = NULL;
    free(t);
    return 0;
}

// --- orphans --------------------------------------------------------------------

const coord_orphan_t *hpt__orphan_of(const coord_core_t *k, const char *worker_id)
{
    for (const coord_task_t *t = k->orphans; t; t = t->lease->wnext)
        if (strcmp(t->lease->orphan->worker, worker_id) == 0)
            return t->lease->orphan;
    return NULL;
}

void hpt__orphans_adopt(coord_core_t *k, coord_worker_t *w)
{
    int adopted = 0;
    for (coord_task_t *t = k->orphans, *tn; t; t = tn) {
        tn = t->lease->wnext;
        if (strcmp(t->lease->orphan->worker, w->id) != 0)
            continue;
        hpt__lease_adopt(k, t, w);
        adopted++;
    }
    if (adopted)
        hpt__event(k, COORD_EV_LEASES_REATTACHED, -1, 0, "worker=%s leases=%d", hpt__q(k, w->id),
                   adopted);
}

void hpt__orphans_expire(coord_core_t *k)
{
    for (coord_task_t *t = k->orphans, *tn; t; t = tn) {
        tn = t->lease->wnext;
        if (t->lease->orphan_deadline > k->now)
            continue;
        char why[320];
        snprintf(why, sizeof why, "worker %.200s did not re-attach after the restart",
                 t->lease->orphan->worker);
        hpt__requeue(k, t, why);
    }
}
