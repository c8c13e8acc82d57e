/*
 * cli_results.h: the parts of `hptune results` (cli_results.c) that
 * `hptune report` (cli_report.c) reuses, so that both say the same thing
 * the same way: the fetch, the row order, the score shown for a trial that
 * has not finished, the CSV export, and the summary sentences about the
 * winner's significance and the refit test score.
 *
 * Everything here runs on the CLI's single thread; the reply passed in is
 * borrowed.
 */
#ifndef HPT_CLI_RESULTS_H
#define HPT_CLI_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "proto_io.h"

/* Ask for sweep `sweep`'s ResultsReply.  Returns HPT_EXIT_OK with *env owned
 * by the caller (hpt_proto_free), or an exit status after printing why (1 no
 * such sweep, 3 unreachable; see cli_client_call).  c: borrowed. */
int cli_results_fetch(cli_client_t *c, const char *cmd, uint64_t sweep, hpt_env_t **env);

/* The trials to show, in order: by rank (ties by trial number, unranked ones
 * after in trial order) when ranked, else in trial order; the first `top`
 * (0 = all).  Returns an owned array (free()) of pointers borrowed from r,
 * with the count in *n; NULL when out of memory. */
Hpt__TrialResult **cli_results_rows(const Hpt__ResultsReply *r, bool ranked, int top,
                                    size_t *n);

/* Trial t's value of parameter `name`, found by name (i is the likely index,
 * param_names order); NULL when the trial has none.  Borrowed from t. */
const Hpt__Param *cli_results_param(const Hpt__TrialResult *t, const char *name, size_t i);

/* The mean and std `hptune results` shows for trial t: its mean and std
 * over the splits once done; for a trial not done (and not failed), those of
 * the splits done so far, in which case it returns true (the table marks
 * them with '*').  NaN when there is nothing to show. */
bool cli_results_shown_score(const Hpt__TrialResult *t, double *mean, double *std);

/* Write r as `hptune results --format csv --top top` does, to f. Returns an
 * exit status (0, or 1 when out of memory). */
int cli_results_csv(FILE *f, const Hpt__ResultsReply *r, int top);

/* The summary's sentences about how the winner compares with the rest (the
 * winner versus the runner-up with the p-value of the corrected resampled
 * t-test, and how many trials are statistically indistinguishable from it),
 * each line ending in '\n', into buf; "" when there is no comparison yet.
 * Returns buf. */
const char *cli_results_significance(const Hpt__SweepInfo *s, char *buf, size_t len);

/* The summary's line about the refit test score with its 95% Wilson interval
 * (ending in '\n') into buf; "" when the sweep has no refit score.  Returns
 * buf. */
const char *cli_results_refit(const Hpt__SweepInfo *s, char *buf, size_t len);
/* "epochs trained: N (from scratch ... M; P% saved ...)\n", or "" before any
 * task has finished. */
const char *cli_results_epochs(const Hpt__SweepInfo *s, char *buf, size_t len);

#endif
