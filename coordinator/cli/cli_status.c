/*
 * cli_status.c: `hptune status [SWEEP] [--watch]`: the table of sweeps, and
 * the live progress view that `hptune launch --wait` shares (cli_watch).
 *
 * The watch polls StatusRequest every 0.5 s.  On a terminal it redraws one
 * progress line per sweep in place (cursor up, erase line), each cut to the
 * terminal's width so no line wraps and the cursor arithmetic stays right.
 * Elsewhere (a pipe, a log file) it prints a plain line per sweep only when
 * the sweep's progress changed, at most every 2 s, and always on the change
 * that ends it.  Once the coordinator has answered, a later silence (a
 * restart) is reported once and waited out: a coordinator that comes back
 * resumes its sweeps from the journal.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_format.h"

#define WATCH_TICK_S 0.5       // poll period
#define WATCH_PLAIN_S 2.0      // at most one plain line per sweep this often
#define WATCH_MAX 256          // sweeps shown by one watch

static void print_help(FILE *f)
{
    fputs("Usage: hptune status [SWEEP] [--watch] [OPTIONS]\n"
          "\n"
          "Show the coordinator's sweeps: one table row per sweep, then a line with the\n"
          "connected workers and their busy slots.  With SWEEP, only that sweep, followed\n"
          "by its details (metric, CV, times, best trial and its parameters, refit score,\n"
          "error).\n"
          "\n"
          "Columns: ID, NAME, STATE (queued | running | refitting | done | failed |\n"
          "cancelled), METHOD, DATASET, TASKS done/total (CV fold tasks plus the refit;\n"
          "failed ones in parentheses), TRIALS done/total ('?' while open-ended), BEST\n"
          "(the best mean cross-validated score \u00b1 its standard deviation over the\n"
          "folds, '-' when none yet), ETA (e.g. 1m05s; '-' when unknown or ended).  A sweep\n"
          "that no connected worker can serve gets a line after the table saying why (for\n"
          "example: no connected worker has its dataset with its fingerprint; 2 workers\n"
          "are fetching it), and so does its progress line with --watch.\n"
          "\n"
          "Options:\n"
          "  -w, --watch             follow progress until the sweep ends (without SWEEP:\n"
          "                          until every sweep running now or submitted meanwhile\n"
          "                          has ended).  On a terminal, a bar per sweep is redrawn\n"
          "                          every 0.5 s: tasks done/total, trials done, best so\n"
          "                          far \u00b1 std, ETA, busy slots.  Otherwise one plain line\n"
          "                          per sweep is printed, at most every 2 s, when its\n"
          "                          progress changed.  If the coordinator stops answering\n"
          "                          after the first reply, the watch says so once and\n"
          "                          keeps waiting for it.\n"
          CLI_CONN_HELP
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 ok (with --watch: the sweep ended done); 1 the sweep failed or\n"
          "was cancelled (with SWEEP, with or without --watch), or there is no such sweep;\n"
          "2 bad flag; 3 coordinator unreachable; 130 interrupted by Ctrl-C during --watch.\n"
          "\n"
          "Examples:\n"
          "  hptune status\n"
          "  hptune status 3 --watch && echo 'sweep 3 done'\n",
          f);
}

// --- Ctrl-C --------------------------------------------------------------------

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* SIGINT sets a flag and, without SA_RESTART, interrupts zmq_poll and
 * nanosleep, so the watch can end its line before exiting.  The previous
 * disposition is saved in *old for the caller to restore. */
static void catch_sigint(struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old);
}

// --- one sweep ----------------------------------------------------------------

static bool ended(const char *state)
{
    return strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 ||
           strcmp(state, "cancelled") == 0;
}

/* 0 done, 1 failed or cancelled (call only when ended). */
static int sweep_status(const Hpt__SweepInfo *s)
{
    return strcmp(s->state, "done") == 0 ? HPT_EXIT_OK : HPT_EXIT_FAIL;
}

static const char *fmt_tasks(const Hpt__SweepInfo *s, char *buf, size_t len)
{
    if (s->tasks_failed)
        snprintf(buf, len, "%u/%u (%u failed)", s->tasks_done, s->tasks_total,
                 s->tasks_failed);
    else
        snprintf(buf, len, "%u/%u", s->tasks_done, s->tasks_total);
    return buf;
}

static const char *fmt_trials(const Hpt__SweepInfo *s, char *buf, size_t len)
{
    if (s->trials_total)
        snprintf(buf, len, "%u/%u", s->trials_done, s->trials_total);
    else
        snprintf(buf, len, "%u/?", s->trials_done);
    return buf;
}

static const char *fmt_eta(const Hpt__SweepInfo *s, char *buf, size_t len)
{
    if (ended(s->state))
        return snprintf(buf, len, "-"), buf;
    return cli_fmt_duration(s->eta_seconds, buf, len);
}

/* "batch_size=32 epochs=10 units=32" */
static const char *fmt_params(Hpt__Param *const *ps, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < len; i++) {
        int w = snprintf(buf + o, len - o, "%s%s=%s", i ? " " : "", ps[i]->name, ps[i]->text);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    return buf;
}

static void print_details(const Hpt__SweepInfo *s)
{
    char a[64], b[64], c[64], d[64];
    printf("\nsweep %llu '%s': %s\n", (unsigned long long)s->id, s->name, s->state);
    printf("  metric    %s (%s)\n", s->metric, s->maximize ? "maximize" : "minimize");
    if (s->folds)
        printf("  cv        %u folds x %u repeat%s\n", s->folds, s->repeats ? s->repeats : 1,
               s->repeats > 1 ? "s" : "");
    printf("  created   %s\n", cli_fmt_time(s->created_unix, a, sizeof a));
    if (s->started_unix > 0)
        printf("  started   %s\n", cli_fmt_time(s->started_unix, a, sizeof a));
    if (s->finished_unix > 0)
        printf("  finished  %s (took %s)\n", cli_fmt_time(s->finished_unix, a, sizeof a),
               cli_fmt_duration(s->started_unix > 0 ? s->finished_unix - s->started_unix : -1,
                                b, sizeof b));
    printf("  tasks     %s, %u running\n", fmt_tasks(s, c, sizeof c), s->tasks_running);
    printf("  trials    %s, %u failed\n", fmt_trials(s, d, sizeof d), s->trials_failed);
    if (s->epochs_from_scratch)
        printf("  epochs    %llu trained, %llu from scratch\n",
               (unsigned long long)s->epochs_trained, (unsigned long long)s->epochs_from_scratch);
    if (s->best_trial) {
        char ms[64], ps[1024];
        printf("  best      trial %llu: %s %s  %s\n", (unsigned long long)s->best_trial,
               s->metric, cli_fmt_mean_std(s->best_mean, s->best_std, ms, sizeof ms),
               fmt_params(s->best_params, s->n_best_params, ps, sizeof ps));
    } else {
        printf("  best      -\n");
    }
    if (s->has_refit) {
        printf("  refit     test %s %s", s->metric, cli_fmt_score(s->refit_score, a, sizeof a));
        if (strcmp(s->metric, "accuracy") != 0)
            printf(" (accuracy %s)", cli_fmt_score(s->refit_accuracy, b, sizeof b));
        putchar('\n');
    }
    if (s->race && s->race[0])
        printf("  race      %s\n", s->race);
    if (!ended(s->state))
        printf("  eta       %s\n", cli_fmt_duration(s->eta_seconds, a, sizeof a));
    if (s->waiting && s->waiting[0])
        printf("  waiting   %s\n", s->waiting);
    if (s->error && s->error[0])
        printf("  error     %s\n", s->error);
}

static void print_table(const Hpt__StatusReply *r)
{
    static const char *const hdr[] = {"ID", "NAME", "STATE", "METHOD", "DATASET",
                                      "TASKS", "TRIALS", "BEST", "ETA"};
    cli_table_t *t = NULL;
    if (cli_table_new(&t, 9, hdr) < 0) {
        fputs("hptune status: out of memory\n", stderr);
        return;
    }
    cli_table_right(t, 0);
    for (size_t i = 0; i < r->n_sweeps; i++) {
        const Hpt__SweepInfo *s = r->sweeps[i];
        char a[64], b[64], c[64], d[64];
        cli_table_cell(t, "%llu", (unsigned long long)s->id);
        cli_table_cell(t, "%s", s->name);
        cli_table_cell(t, "%s", s->state);
        cli_table_cell(t, "%s", s->method);
        cli_table_cell(t, "%s", s->dataset);
        cli_table_cell(t, "%s", fmt_tasks(s, a, sizeof a));
        cli_table_cell(t, "%s", fmt_trials(s, b, sizeof b));
        cli_table_cell(t, "%s", cli_fmt_mean_std(s->best_mean, s->best_std, c, sizeof c));
        cli_table_cell(t, "%s", fmt_eta(s, d, sizeof d));
    }
    if (r->n_sweeps)
        cli_table_print(t, stdout);
    else
        puts("no sweeps (submit one with hptune launch SPEC)");
    cli_table_destroy(&t);
    printf("workers: %u connected, %u/%u slots busy\n", r->workers, r->slots_busy, r->slots);
    // Racing sweeps: where their race stands (select: race).
    for (size_t i = 0; i < r->n_sweeps; i++)
        if (r->sweeps[i]->race_outcome && strcmp(r->sweeps[i]->race_outcome, "running") == 0)
            printf("sweep %llu race: %s\n", (unsigned long long)r->sweeps[i]->id,
                   r->sweeps[i]->race);
    // Why a sweep cannot run: no worker can serve its dataset.
    for (size_t i = 0; i < r->n_sweeps; i++)
        if (r->sweeps[i]->waiting && r->sweeps[i]->waiting[0])
            printf("sweep %llu %s: %s\n", (unsigned long long)r->sweeps[i]->id,
                   r->sweeps[i]->state, r->sweeps[i]->waiting);
}

// --- watch --------------------------------------------------------------------

typedef struct watch {
    bool tty;
    int lines;                    // lines drawn last time (tty)
    size_t n;                     // watched sweeps
    uint64_t ids[WATCH_MAX];
    char key[WATCH_MAX][640];     // progress last printed (plain), with why it waits
    double printed[WATCH_MAX];    // when (monotonic s)
    bool done[WATCH_MAX];         // its end was printed (plain)
} watch_t;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const Hpt__SweepInfo *find(const Hpt__StatusReply *r, uint64_t id)
{
    for (size_t i = 0; i < r->n_sweeps; i++)
        if (r->sweeps[i]->id == id)
            return r->sweeps[i];
    return NULL;
}

static int watch_index(const watch_t *w, uint64_t id)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->ids[i] == id)
            return (int)i;
    return -1;
}

/* The plain progress line (not a terminal):
 *   sweep 3 blog-grid: running   45/136 tasks, 9/27 trials, best ..., ETA 1m05s, 4/4 slots busy
 * and, when no worker can serve the sweep, why:
 *   sweep 3 blog-grid: queued    0/136 tasks, ..., 0/4 slots busy; waiting: no connected
 *   worker has dataset mnist with fingerprint e9914cff2ade; 2 workers are fetching it */
static void plain_line(const Hpt__SweepInfo *s, const Hpt__StatusReply *r, char *buf,
                       size_t len)
{
    char tk[64], tr[64], best[64], eta[32];
    bool wait = s->waiting && s->waiting[0];
    bool race = s->race_outcome && s->race_outcome[0];
    snprintf(buf, len,
             "sweep %llu %s: %-9s %s tasks, %s trials, best %s, ETA %s, %u/%u slots busy%s%s%s%s",
             (unsigned long long)s->id, s->name, s->state, fmt_tasks(s, tk, sizeof tk),
             fmt_trials(s, tr, sizeof tr),
             cli_fmt_mean_std(s->best_mean, s->best_std, best, sizeof best),
             fmt_eta(s, eta, sizeof eta), r->slots_busy, r->slots, race ? "; race: " : "",
             race ? s->race : "", wait ? "; waiting: " : "", wait ? s->waiting : "");
}

/* The terminal form of a sweep's progress, fitted to `cols` columns: one line
 * when the terminal is wide enough for a bar of at least 10 cells,
 *   #3 blog-grid running   [#####.....] 45/136 tasks  9/27 trials  best ...  ETA 1m05s
 * else two, the second indented:
 *   #3 blog-grid running   [#####.....] 45/136 tasks
 *      9/27 trials  best 0.9712 ± 0.0031  ETA 1m05s
 * The bar takes the room left, up to 30 cells.  l2 is "" in the one-line form. */
static void tty_lines(const Hpt__SweepInfo *s, int cols, char *l1, char *l2, size_t len)
{
    char tk[64], tr[64], best[64], eta[32];
    fmt_tasks(s, tk, sizeof tk);
    fmt_trials(s, tr, sizeof tr);
    cli_fmt_mean_std(s->best_mean, s->best_std, best, sizeof best);
    fmt_eta(s, eta, sizeof eta);
    char name[128];
    cli_fit(s->name, 24, name, sizeof name - 4);
    if (cli_text_width(s->name) > 24) { // shorten with an ellipsis
        cli_fit(s->name, 23, name, sizeof name - 4);
        strcat(name, "\u2026");
    }
    char head[192], tasks[96], rest[256];
    snprintf(head, sizeof head, "#%llu %s %-9s ", (unsigned long long)s->id, name, s->state);
    snprintf(tasks, sizeof tasks, " %s tasks", tk);
    snprintf(rest, sizeof rest, "%s trials  best %s  ETA %s", tr, best, eta);
    int fixed = (int)(cli_text_width(head) + cli_text_width(tasks)) + 2; // + "[]"
    int one = cols - fixed - 2 - (int)cli_text_width(rest);
    bool wide = one >= 10;
    int room = wide ? one : cols - fixed;
    double frac = s->tasks_total ? (double)(s->tasks_done + s->tasks_failed) / s->tasks_total
                                 : 0;
    if (strcmp(s->state, "done") == 0)
        frac = 1;
    char bar[40] = "", bb[32];
    if (room >= 4)
        snprintf(bar, sizeof bar, "[%s]", cli_fmt_bar(frac, room > 30 ? 30 : room, bb,
                                                       sizeof bb));
    if (wide) {
        snprintf(l1, len, "%s%s%s  %s", head, bar, tasks, rest);
        l2[0] = '\0';
    } else {
        snprintf(l1, len, "%s%s%s", head, bar, tasks);
        snprintf(l2, len, "   %s", rest);
    }
}

static void draw_tty(watch_t *w, const Hpt__StatusReply *r)
{
    int cols = cli_term_width(STDOUT_FILENO) - 1;
    if (w->lines > 0)
        printf("\r\033[%dA", w->lines);
    int lines = 0;
    char l1[1024], l2[1024], fit[1024];
    for (size_t i = 0; i < w->n; i++) {
        const Hpt__SweepInfo *s = find(r, w->ids[i]);
        if (s) {
            tty_lines(s, cols, l1, l2, sizeof l1);
        } else {
            snprintf(l1, sizeof l1, "#%llu gone", (unsigned long long)w->ids[i]);
            l2[0] = '\0';
        }
        printf("\033[K%s\n", cli_fit(l1, cols, fit, sizeof fit));
        lines++;
        if (l2[0]) {
            printf("\033[K%s\n", cli_fit(l2, cols, fit, sizeof fit));
            lines++;
        }
        if (s && s->waiting && s->waiting[0]) {   // why no worker can serve it
            snprintf(l2, sizeof l2, "   waiting: %s", s->waiting);
            printf("\033[K%s\n", cli_fit(l2, cols, fit, sizeof fit));
            lines++;
        }
    }
    if (w->n == 0) {
        printf("\033[Kno sweep is running\n");
        lines++;
    }
    snprintf(l1, sizeof l1, "workers: %u connected, %u/%u slots busy", r->workers,
             r->slots_busy, r->slots);
    printf("\033[K%s\n\033[J", cli_fit(l1, cols, fit, sizeof fit));
    lines++;
    fflush(stdout);
    w->lines = lines;
}

static void draw_plain(watch_t *w, const Hpt__StatusReply *r, double now)
{
    for (size_t i = 0; i < w->n; i++) {
        const Hpt__SweepInfo *s = find(r, w->ids[i]);
        if (!s || w->done[i])
            continue;
        char key[640];
        snprintf(key, sizeof key, "%s %u %u %u %.17g %.500s", s->state, s->tasks_done,
                 s->tasks_failed, s->trials_done, s->best_mean, s->waiting ? s->waiting : "");
        bool fin = ended(s->state);
        if (strcmp(key, w->key[i]) == 0 || (!fin && now - w->printed[i] < WATCH_PLAIN_S))
            continue;
        char line[2048];
        plain_line(s, r, line, sizeof line);
        puts(line);
        snprintf(w->key[i], sizeof w->key[i], "%s", key);
        w->printed[i] = now;
        w->done[i] = fin;
    }
    fflush(stdout);
}

/* Add the sweeps this watch follows: `only`, or every sweep not ended when
 * the watch starts (first) and every sweep submitted after. */
static void track(watch_t *w, const Hpt__StatusReply *r, uint64_t only, bool first,
                  uint64_t *max_id)
{
    for (size_t i = 0; i < r->n_sweeps && w->n < WATCH_MAX; i++) {
        const Hpt__SweepInfo *s = r->sweeps[i];
        bool want = only ? s->id == only : (first ? !ended(s->state) : s->id > *max_id);
        if (want && watch_index(w, s->id) < 0)
            w->ids[w->n++] = s->id;
    }
    for (size_t i = 0; i < r->n_sweeps; i++)
        if (r->sweeps[i]->id > *max_id)
            *max_id = r->sweeps[i]->id;
}

/* Print why each watched sweep that did not end done ended so. */
static int report_end(const watch_t *w, const Hpt__StatusReply *r, const char *cmd)
{
    int status = HPT_EXIT_OK;
    for (size_t i = 0; i < w->n; i++) {
        const Hpt__SweepInfo *s = find(r, w->ids[i]);
        if (!s) {
            fprintf(stderr, "hptune %s: sweep %llu is no longer known to the coordinator\n",
                    cmd, (unsigned long long)w->ids[i]);
            status = HPT_EXIT_FAIL;
        } else if (sweep_status(s) != HPT_EXIT_OK) {
            fprintf(stderr, "hptune %s: sweep %llu '%s' %s%s%s\n", cmd,
                    (unsigned long long)s->id, s->name, s->state,
                    s->error && s->error[0] ? ": " : "", s->error ? s->error : "");
            status = HPT_EXIT_FAIL;
        }
    }
    return status;
}

int cli_watch(cli_client_t *c, const char *cmd, uint64_t sweep)
{
    watch_t w = {0};
    w.tty = isatty(STDOUT_FILENO);
    interrupted = 0;
    struct sigaction old_int;
    catch_sigint(&old_int);
    bool answered = false, warned = false;
    uint64_t max_id = 0;
    int status = HPT_EXIT_OK;
    for (;;) {
        double t0 = mono_now();
        Hpt__StatusRequest q = HPT__STATUS_REQUEST__INIT;
        q.sweep = sweep;
        hpt_env_t req = HPT__ENVELOPE__INIT;
        req.body_case = HPT__ENVELOPE__BODY_STATUS;
        req.status = &q;
        hpt_env_t *env = NULL;
        int rc = cli_client_request_all(c, &req, &env);
        if (interrupted || rc == -EINTR) {
            status = HPT_EXIT_INTERRUPTED;
            break;
        }
        if (rc == -ETIMEDOUT && !answered) {
            status = cli_client_unreachable(c);
            break;
        }
        if (rc == -ETIMEDOUT) {
            if (!warned) {
                w.lines = 0; // the message goes below the bars; redraw under it
                fprintf(stderr, "hptune %s: the coordinator at %s stopped answering; still "
                                "waiting (Ctrl-C to stop)\n", cmd, cli_client_addr(c));
            }
            warned = true;
            continue;
        }
        if (rc < 0) {
            fprintf(stderr, "hptune %s: talking to %s: %s\n", cmd, cli_client_addr(c),
                    hpt_strerror(rc));
            status = HPT_EXIT_FAIL;
            break;
        }
        if (env->body_case != HPT__ENVELOPE__BODY_STATUS_REPLY) {
            status = cli_client_reply_error(c, cmd, env);
            hpt_proto_free(&env);
            break;
        }
        if (warned)
            fprintf(stderr, "hptune %s: the coordinator answers again\n", cmd);
        warned = false;
        const Hpt__StatusReply *r = env->status_reply;
        track(&w, r, sweep, !answered, &max_id);
        answered = true;
        double now = mono_now();
        if (w.tty)
            draw_tty(&w, r);
        else
            draw_plain(&w, r, now);
        bool all_ended = true;
        for (size_t i = 0; i < w.n; i++) {
            const Hpt__SweepInfo *s = find(r, w.ids[i]);
            all_ended &= !s || ended(s->state);
        }
        if (all_ended) {
            if (w.n == 0 && !w.tty)
                puts("no sweep is running");
            status = report_end(&w, r, cmd);
            hpt_proto_free(&env);
            break;
        }
        hpt_proto_free(&env);
        double left = WATCH_TICK_S - (mono_now() - t0);
        if (left > 0) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(left * 1e9)};
            nanosleep(&ts, NULL);
        }
        if (interrupted) {
            status = HPT_EXIT_INTERRUPTED;
            break;
        }
    }
    fflush(stdout);
    sigaction(SIGINT, &old_int, NULL);
    return status;
}

// --- the command ----------------------------------------------------------------

static const struct option long_opts[] = {
    {"watch", no_argument, NULL, 'w'},
    {"help", no_argument, NULL, 'h'},
    CLI_CONN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

int cli_status(int argc, char **argv)
{
    const char *cmd = "status";
    cli_opt_parser_t op = CLI_OPT_PARSER(cmd, ":wh", long_opts, print_help);
    bool watch = false;
    int opt;
    while ((opt = cli_opt_next(&op, argc, argv)) > 0) {
        switch (opt) {
        case 'w': watch = true; break;
        }
    }
    if (opt == CLI_OPT_STOP)
        return op.status;
    uint64_t sweep = 0;
    if (optind < argc && cli_parse_sweep(cmd, "SWEEP", argv[optind++], &sweep))
        return HPT_EXIT_USAGE;
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);

    cli_client_t *c = NULL;
    int status = cli_client_new(&c, &op.conn, cmd);
    if (status)
        return status;
    if (watch) {
        status = cli_watch(c, cmd, sweep);
        cli_client_destroy(&c);
        return status;
    }
    Hpt__StatusRequest q = HPT__STATUS_REQUEST__INIT;
    q.sweep = sweep;
    hpt_env_t req = HPT__ENVELOPE__INIT;
    req.body_case = HPT__ENVELOPE__BODY_STATUS;
    req.status = &q;
    hpt_env_t *env = NULL;
    status = cli_client_call(c, cmd, &req, HPT__ENVELOPE__BODY_STATUS_REPLY, &env);
    if (status == HPT_EXIT_OK) {
        const Hpt__StatusReply *r = env->status_reply;
        print_table(r);
        const Hpt__SweepInfo *s = sweep ? find(r, sweep) : NULL;
        if (s) {
            print_details(s);
            if (ended(s->state))
                status = sweep_status(s);
        }
    }
    hpt_proto_free(&env);
    cli_client_destroy(&c);
    return status;
}
