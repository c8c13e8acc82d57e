/*
 * json.h: JSON output shared by the coordinator and the CLI: string and
 * number escaping, the results document of a sweep and the workers document.
 *
 * The results document is what `hptune results SWEEP --format json` prints
 * and what the coordinator's /api/sweeps/ID serves (the latter with extra
 * members for the dashboard): one writer, so the two cannot drift apart.
 *
 *   {"sweep": {summary} | null,
 *    "cv_results": {"trial": [...], "param_NAME": [...], "params": [{...}],
 *                   "splitK_test_score": [...], ..., "state": [...]}
 *    [, extra members]}
 *
 * The workers document is what `hptune workers --format json` prints and what
 * /api/workers serves (the latter with each worker's free slots and leases):
 *
 *   {"workers": [{"name", "id", "host", "version", "state", "slots", "busy",
 *                 "datasets": [{"name", "fingerprint"}], "last_seen_s",
 *                 "connected_unix", "tasks_done", "tasks_failed", "epochs_done",
 *                 "tasks_per_min", "epochs_per_s", "rate_window_s" [, extra]}],
 *    "slots": N, "slots_busy": N}
 *
 * Numbers are the shortest decimal that reads back as the double (%.15g to
 * %.17g); NaN and infinities are null.  Nothing here keeps state; every
 * function may be called from any thread.
 */
#ifndef HPT_JSON_H
#define HPT_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "hptune.pb-c.h"

/* Write s (borrowed; NULL as "") as a JSON string: " and \\ escaped, \n \t,
 * \u00XX for the other control characters (C0, DEL, C1) and \u2028/\u2029,
 * and \ufffd for each byte that is not UTF-8, so the document is valid JSON
 * whatever a peer put in the string. */
void hpt_json_str(FILE *f, const char *s);

/* Write v as a JSON number: the shortest decimal that reads back as v; NaN
 * and infinities as null. */
void hpt_json_num(FILE *f, double v);

/* Write the sweep summary s (borrowed) as a JSON object: the "sweep" member
 * of the results document, and one element of /api/sweeps. */
void hpt_json_sweep(FILE *f, const Hpt__SweepInfo *s);

/* The value of parameter `name` in trial t (borrowed; returns borrowed), or
 * NULL when the trial has none; i is where it is expected (the name's index
 * in ResultsReply.param_names). */
const Hpt__Param *hpt_json_trial_param(const Hpt__TrialResult *t, const char *name, size_t i);

/* Writes the document's extra members, each preceded by a comma
 * (`,"space":[...]`), after "cv_results" and before the closing brace. */
typedef void (*hpt_json_extra_fn)(FILE *f, void *arg);

/* Write the results document of r (borrowed) with the n trials rows[0..n)
 * (borrowed; usually r->trials, or a ranked subset of them) as cv_results
 * rows, in that order, then extra(f, arg) when extra is not NULL, and a
 * closing brace and newline.  Returns 0, or -EIO when f has an error. */
int hpt_json_results(FILE *f, const Hpt__ResultsReply *r, Hpt__TrialResult *const *rows,
                     size_t n, hpt_json_extra_fn extra, void *arg);

/* Writes worker i's extra members, each preceded by a comma, before the
 * closing brace of its object.  Called for i = 0, 1, ... in order. */
typedef void (*hpt_json_worker_extra_fn)(FILE *f, size_t i, void *arg);

/* Write the workers document of r (borrowed), calling extra(f, i, arg) for
 * each worker when extra is not NULL, and a newline.  A rate not known yet
 * (rate_window_s 0) and an unknown connection time are null.  Returns 0, or
 * -EIO when f has an error. */
int hpt_json_workers(FILE *f, const Hpt__WorkersReply *r, hpt_json_worker_extra_fn extra,
                     void *arg);

#endif
