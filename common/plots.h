/*
 * plots.h: the plots of a sweep, defined in one place.  `hptune report`
 * (coordinator/cli/cli_report.c) writes them into its HTML report and the
 * coordinator's HTTP server (coordinator/coord_http.c) serves them to the
 * dashboard, both from a ResultsReply, so the two views cannot drift apart.
 *
 * A plot set holds, in this order:
 *   - "param-<NAME>": the score against each parameter that varied, one
 *     plot per parameter in param_names order (points per finished trial,
 *     mean +- std per value, the best trial ringed).  A parameter with one
 *     value in every trial (such as `epochs: 4`) gets no plot: it is listed
 *     in the set's constants and its note instead.  Which ones those are
 *     comes from the spec (ResultsReply.param_fixed); a reply without it is
 *     judged by its trials (one value in every trial that has one), and with
 *     fewer than two trials there is then no parameter plot, which the note
 *     says;
 *   - "best-so-far": each trial's score when it finished and the best score
 *     so far as a step line, in minutes since the sweep started;
 *   - "parallel-coordinates": an axis per plotted parameter plus the score,
 *     a line per finished trial coloured by its score;
 *   - "race", only when the sweep raced its leaders (SweepInfo.race_leaders):
 *     each leader's mean and 95 % interval at every look (look 0: the
 *     search's splits; look r: after race round r), a line per leader up
 *     to the look that dropped it, the winner ringed.
 * A trial counts once it is done (state "done" and a finite mean score).
 *
 * Cost.  Above max_points finished trials a plot draws a deterministic
 * subsample (every k-th finished trial in trial order, the best always),
 * and its caption says so; statistics (means, std, the best-so-far line,
 * axis ranges) still use every trial.  Building a set is O(T log T + P T)
 * for T trials and P parameters, so 200,000 trials take well under a
 * second.
 *
 * Everything is copied: a set borrows nothing from the reply it was built
 * from, so it can be cached after the reply is gone.  Nothing here keeps
 * state; any thread may build and read its own sets.
 */
#ifndef HPT_PLOTS_H
#define HPT_PLOTS_H

#include <stdbool.h>
#include <stddef.h>

#include "hptune.pb-c.h"

#define HPT_PLOTS_MAX_POINTS 2000   // marks per plot before subsampling (default)

typedef enum hpt_plot_kind {
    HPT_PLOT_PARAM,      // score against one parameter
    HPT_PLOT_PROGRESS,   // best so far over time
    HPT_PLOT_PARALLEL,   // parallel coordinates
    HPT_PLOT_RACE,       // the race of the leaders (select: race): mean +- CI per look
} hpt_plot_kind_t;

/* One rendered plot: plain data owned by its set. */
typedef struct hpt_plot {
    hpt_plot_kind_t kind;
    char name[160];       // "param-units", "best-so-far", "parallel-coordinates": the
                          // report's file name without ".svg" and the HTTP plot name;
                          // letters, digits, '_', '-' and '.' only
    char param[128];      // HPT_PLOT_PARAM: the parameter's name; else ""
    char title[300];      // the document's accessible name
    char caption[768];    // one or two plain-text sentences for under the figure
    size_t points;        // finished trials the plot stands for
    size_t drawn;         // of which drawn as marks (< points when subsampled)
    const char *svg;      // the SVG document, NUL-terminated (owned by the set)
    size_t len;           // its length in bytes
} hpt_plot_t;

/* A parameter left unplotted because it never varied. */
typedef struct hpt_plot_const {
    char name[128];
    char value[64];       // its one value as the results show it ("" before any trial)
} hpt_plot_const_t;

typedef struct hpt_plots hpt_plots_t;

/* Build and render every plot of r (borrowed; nothing of it is kept).  now
 * is the time of the view in unix seconds (the best-so-far line of a sweep
 * still running runs on to it); max_points caps the marks of a plot (0:
 * HPT_PLOTS_MAX_POINTS).  Returns 0 or -ENOMEM; *out is owned by the
 * caller (hpt_plots_destroy). */
int hpt_plots_new(hpt_plots_t **out, const Hpt__ResultsReply *r, double now,
                  size_t max_points);

/* Free the set; accepts NULL and sets *p = NULL. */
void hpt_plots_destroy(hpt_plots_t **p);

/* The number of plots, and plot i (0 <= i < count; borrowed from the set). */
size_t hpt_plots_count(const hpt_plots_t *p);
const hpt_plot_t *hpt_plots_get(const hpt_plots_t *p, size_t i);

/* The plot called name (with or without ".svg"), or NULL. */
const hpt_plot_t *hpt_plots_find(const hpt_plots_t *p, const char *name);

/* The unplotted constant parameters: their count and entry i (borrowed). */
size_t hpt_plots_n_constants(const hpt_plots_t *p);
const hpt_plot_const_t *hpt_plots_constant(const hpt_plots_t *p, size_t i);

/* One sentence naming the constant parameters and their values ("Not
 * plotted, one value in every trial: epochs = 4, batch_size = 64."), or ""
 * when there are none.  Borrowed from the set. */
const char *hpt_plots_note(const hpt_plots_t *p);

#endif
