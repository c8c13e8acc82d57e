/*
 * svg.h: a small SVG plotting module for `hptune report`: scales with nice
 * ticks (linear, log10, categorical), axes with tick labels and titles,
 * marks (lines, circles, paths, rectangles, text), legends, a colour map and
 * a colour bar, written into an in-memory document.
 *
 * Invariants of every document:
 *   - it is well-formed XML (one <svg> root in the SVG namespace) whether or
 *     not it is inlined in HTML: text is escaped (& < > " '), invalid UTF-8
 *     becomes U+FFFD and control characters other than tab and line feed
 *     are dropped (XML 1.0 does not allow them);
 *   - it uses no ids and no external resources (fonts, images, links), so
 *     several documents can be inlined into one HTML page and the page
 *     works offline;
 *   - its look comes from one <style> element with class rules, so marks
 *     carry a class rather than repeated presentation attributes.
 * The scale functions are pure (no allocation) and unit-tested
 * (tests/cli/test_svg.c).  Everything runs on the caller's thread.
 */
#ifndef HPT_CLI_SVG_H
#define HPT_CLI_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

// --- scales ---------------------------------------------------------------------

typedef enum cli_svg_scale_kind {
    CLI_SVG_LINEAR,
    CLI_SVG_LOG,     // log10; the domain is positive
    CLI_SVG_CAT,     // categories 0..n_cats-1, each in the middle of an equal band
} cli_svg_scale_kind_t;

/* A mapping from data values to pixels.  The domain [lo, hi] is widened to
 * tick values: multiples of `step` (linear), whole decades (log), or
 * [-0.5, n_cats - 0.5] (categorical).  lo maps to p0 and hi to p1, so a y
 * axis has p0 > p1 (SVG's y grows downwards). */
typedef struct cli_svg_scale {
    cli_svg_scale_kind_t kind;
    double lo, hi;      // the domain, data units
    double p0, p1;      // pixels of lo and hi
    double step;        // linear: tick spacing; log: decades between ticks; categorical: 1
    int n_cats;         // categorical: the number of categories
} cli_svg_scale_t;

/* The "nice" tick spacing for a span to be cut into about `target` steps:
 * 1, 2 or 5 times a power of ten.  span > 0 and finite, target >= 1; else 1. */
double cli_svg_nice_step(double span, int target);

/* A linear scale over [lo, hi] cut into about `target` steps by nice ticks.
 * lo == hi is widened by 5% of |lo| (by 1 when lo is 0) each way; non-finite
 * bounds give [0, 1]. */
void cli_svg_scale_linear(cli_svg_scale_t *s, double lo, double hi, int target, double p0,
                          double p1);

/* A log10 scale over [lo, hi], widened to whole decades (at least one);
 * bounds that are not positive and finite fall back to cli_svg_scale_linear
 * with 5 ticks. */
void cli_svg_scale_log(cli_svg_scale_t *s, double lo, double hi, double p0, double p1);

/* A categorical scale of n >= 1 bands. */
void cli_svg_scale_cat(cli_svg_scale_t *s, int n, double p0, double p1);

/* The pixel of data value v (for a categorical scale, a category index).
 * Values outside the domain map outside [p0, p1]; on a log scale v <= 0
 * maps to p0. */
double cli_svg_map(const cli_svg_scale_t *s, double v);

/* Write the tick values of s into ticks[0..max-1] in increasing order:
 * multiples of step (linear); powers of ten every `step` decades, plus 2x
 * and 5x when the domain spans at most 2 decades (log); 0..n_cats-1
 * (categorical).  Returns the count written. */
int cli_svg_ticks(const cli_svg_scale_t *s, double *ticks, int max);

/* The label of tick v: as many decimals as step needs ("0.25", "10"), %g
 * for very large or small magnitudes or on a log scale ("1e-05", "0.001",
 * "100"), never "-0".  Returns buf. */
const char *cli_svg_tick_label(const cli_svg_scale_t *s, double v, char *buf, size_t len);

/* Whether values on a numeric axis call for a log scale: every finite value
 * is positive and the largest is more than 10^1.5 (1.5 decades) times the
 * smallest.  NaN entries (absent values) are ignored; fewer than 2 finite
 * values -> false. */
bool cli_svg_wants_log(const double *v, size_t n);

// --- text -----------------------------------------------------------------------

/* s escaped for XML and HTML text and attribute values (see the invariants
 * above).  Returns an owned string (free()), or NULL when out of memory.  s
 * may be NULL (-> ""). */
char *cli_svg_escape(const char *s);

/* Write s escaped as cli_svg_escape does to f.  Returns 0 or -ENOMEM. */
int cli_svg_fputs(FILE *f, const char *s);

// --- colours --------------------------------------------------------------------

/* The colour at t in [0, 1] (clamped; NaN -> grey) of a viridis-like map,
 * dark purple (0) to yellow (1), as "#rrggbb" into buf (at least 8 bytes).
 * Returns buf. */
const char *cli_svg_color(double t, char *buf, size_t len);

// --- documents ------------------------------------------------------------------

typedef struct cli_svg cli_svg_t;

/* A document of width x height pixels whose accessible name (its <title>
 * and aria-label) is `title` (borrowed, copied; may be NULL).  Returns 0 or
 * -ENOMEM; *out is owned by the caller (cli_svg_destroy). */
int cli_svg_new(cli_svg_t **out, double width, double height, const char *title);

/* Free the document; accepts NULL and sets *p = NULL. */
void cli_svg_destroy(cli_svg_t **p);

/* Close the document (once; later calls return the same text) and return
 * its text, owned by the document, with its length in *len (may be NULL).
 * Returns NULL when any earlier call ran out of memory. */
const char *cli_svg_finish(cli_svg_t *s, size_t *len);

/* Marks.  cls is a class of the document's style sheet (borrowed; NULL for
 * none): "axis", "grid", "tick", "label", "title", "pt", "mean", "err",
 * "trend", "best", "step", "pc", "pcbest", "frame", "note".  color, when
 * not NULL, sets the stroke (lines, paths) or fill (circles, rectangles)
 * and must be a "#rrggbb" string.  tip, when not NULL, becomes a <title>
 * child: the tooltip browsers show on hover (escaped). */
void cli_svg_line(cli_svg_t *s, double x1, double y1, double x2, double y2, const char *cls);
void cli_svg_circle(cli_svg_t *s, double cx, double cy, double r, const char *cls,
                    const char *color, const char *tip);
void cli_svg_rect(cli_svg_t *s, double x, double y, double w, double h, const char *cls,
                  const char *color);

/* A polyline through (xs[i], ys[i]); a NaN coordinate breaks it (the next
 * finite point starts a new piece), so a conditional parameter's absent
 * value leaves a gap.  Pieces of one point draw nothing. */
void cli_svg_path(cli_svg_t *s, const double *xs, const double *ys, size_t n, const char *cls,
                  const char *color, const char *tip);

/* Text anchored at (x, y): anchor is "start", "middle" or "end"; rotate in
 * degrees about (x, y) (0 for none).  text is escaped; when it is longer
 * than max_chars code points (0 = no limit) it is cut with "…" and the full
 * text becomes its tooltip. */
void cli_svg_text(cli_svg_t *s, double x, double y, const char *anchor, double rotate,
                  const char *cls, size_t max_chars, const char *text);

// --- axes and legends -----------------------------------------------------------

typedef enum cli_svg_side {
    CLI_SVG_BOTTOM,   // horizontal axis at y = at; labels below; title below them
    CLI_SVG_LEFT,     // vertical axis at x = at; labels left; title rotated, further left
    CLI_SVG_PARALLEL, // vertical axis at x = at; labels left; title above the axis
} cli_svg_side_t;

/* Draw the axis of scale sc on `side` at pixel `at`, with its ticks and
 * tick labels (cats[i] for a categorical scale, borrowed; NULL -> the
 * index), and its title (may be NULL).  Grid lines across the plot run
 * from g0 to g1 along the other direction (none when g0 == g1). */
void cli_svg_axis(cli_svg_t *s, const cli_svg_scale_t *sc, cli_svg_side_t side, double at,
                  double g0, double g1, const char *const *cats, const char *title);

typedef enum cli_svg_key {
    CLI_SVG_KEY_POINT,   // a small circle of class "pt"
    CLI_SVG_KEY_MEAN,    // a mean marker with an error bar
    CLI_SVG_KEY_LINE,    // a line of the given class
    CLI_SVG_KEY_RING,    // the best trial's ring
} cli_svg_key_t;

typedef struct cli_svg_legend_item {
    cli_svg_key_t key;
    const char *cls;     // class of the line (CLI_SVG_KEY_LINE), else NULL
    const char *label;   // borrowed
} cli_svg_legend_item_t;

/* A legend box with its top-left corner at (x, y), one row per item. */
void cli_svg_legend(cli_svg_t *s, double x, double y, const cli_svg_legend_item_t *items,
                    int n);

/* A vertical colour bar at (x, top)..(x + w, bottom) for scale sc (whose
 * p0/p1 must be bottom/top), coloured by cli_svg_color: t = 0 at the worse
 * end, 1 at the better (higher_better says which end that is), with tick
 * labels to its right and title above. */
void cli_svg_colorbar(cli_svg_t *s, const cli_svg_scale_t *sc, double x, double w,
                      bool higher_better, const char *title);

#endif
