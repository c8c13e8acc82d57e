/*
 * svg.h: the SVG plotting primitives behind every plot hptune draws (the
 * plots themselves are defined once, in plots.h, for `hptune report` and
 * the coordinator's dashboard alike): scales with nice
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
 *   - categorical tick labels never overlap: they are laid out by
 *     hpt_svg_cat_layout() (horizontal, rotated, thinned out or cut) from
 *     the character width and line height below.
 * The scale functions are pure (no allocation) and unit-tested
 * (tests/cli/test_svg.c).  Nothing here keeps state; every function may be
 * called from any thread on its own document.
 */
#ifndef HPT_HPT_SVG_H
#define HPT_HPT_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

// --- scales ---------------------------------------------------------------------

typedef enum hpt_svg_scale_kind {
    HPT_SVG_LINEAR,
    HPT_SVG_LOG,     // log10; the domain is positive
    HPT_SVG_CAT,     // categories 0..n_cats-1, each in the middle of an equal band
} hpt_svg_scale_kind_t;

/* A mapping from data values to pixels.  The domain [lo, hi] is widened to
 * tick values: multiples of `step` (linear), whole decades (log), or
 * [-0.5, n_cats - 0.5] (categorical).  lo maps to p0 and hi to p1, so a y
 * axis has p0 > p1 (SVG's y grows downwards). */
typedef struct hpt_svg_scale {
    hpt_svg_scale_kind_t kind;
    double lo, hi;      // the domain, data units
    double p0, p1;      // pixels of lo and hi
    double step;        // linear: tick spacing; log: decades between ticks; categorical: 1
    int n_cats;         // categorical: the number of categories
} hpt_svg_scale_t;

/* The "nice" tick spacing for a span to be cut into about `target` steps:
 * 1, 2 or 5 times a power of ten.  span > 0 and finite, target >= 1; else 1. */
double hpt_svg_nice_step(double span, int target);

/* A linear scale over [lo, hi] cut into about `target` steps by nice ticks.
 * lo == hi is widened by 5% of |lo| (by 1 when lo is 0) each way; non-finite
 * bounds give [0, 1]. */
void hpt_svg_scale_linear(hpt_svg_scale_t *s, double lo, double hi, int target, double p0,
                          double p1);

/* A log10 scale over [lo, hi], widened to whole decades (at least one);
 * bounds that are not positive and finite fall back to hpt_svg_scale_linear
 * with 5 ticks. */
void hpt_svg_scale_log(hpt_svg_scale_t *s, double lo, double hi, double p0, double p1);

/* A categorical scale of n >= 1 bands. */
void hpt_svg_scale_cat(hpt_svg_scale_t *s, int n, double p0, double p1);

/* The pixel of data value v (for a categorical scale, a category index).
 * Values outside the domain map outside [p0, p1]; on a log scale v <= 0
 * maps to p0. */
double hpt_svg_map(const hpt_svg_scale_t *s, double v);

/* Write the tick values of s into ticks[0..max-1] in increasing order:
 * multiples of step (linear); powers of ten every `step` decades, plus 2x
 * and 5x when the domain spans at most 2 decades (log); 0..n_cats-1
 * (categorical).  Returns the count written. */
int hpt_svg_ticks(const hpt_svg_scale_t *s, double *ticks, int max);

/* The label of tick v: as many decimals as step needs ("0.25", "10"), %g
 * for very large or small magnitudes or on a log scale ("1e-05", "0.001",
 * "100"), never "-0".  Returns buf. */
const char *hpt_svg_tick_label(const hpt_svg_scale_t *s, double v, char *buf, size_t len);

/* Whether values on a numeric axis call for a log scale: every finite value
 * is positive and the largest is more than 10^1.5 (1.5 decades) times the
 * smallest.  NaN entries (absent values) are ignored; fewer than 2 finite
 * values -> false. */
bool hpt_svg_wants_log(const double *v, size_t n);

// --- text -----------------------------------------------------------------------

/* s escaped for XML and HTML text and attribute values (see the invariants
 * above).  Returns an owned string (free()), or NULL when out of memory.  s
 * may be NULL (-> ""). */
char *hpt_svg_escape(const char *s);

/* Write s escaped as hpt_svg_escape does to f.  Returns 0 or -ENOMEM. */
int hpt_svg_fputs(FILE *f, const char *s);

// --- colours --------------------------------------------------------------------

/* The colour at t in [0, 1] (clamped; NaN -> grey) of a viridis-like map,
 * dark purple (0) to yellow (1), as "#rrggbb" into buf (at least 8 bytes).
 * Returns buf. */
const char *hpt_svg_color(double t, char *buf, size_t len);

// --- documents ------------------------------------------------------------------

typedef struct hpt_svg hpt_svg_t;

/* A document of width x height pixels whose accessible name (its <title>
 * and aria-label) is `title` (borrowed, copied; may be NULL).  Returns 0 or
 * -ENOMEM; *out is owned by the caller (hpt_svg_destroy). */
int hpt_svg_new(hpt_svg_t **out, double width, double height, const char *title);

/* Free the document; accepts NULL and sets *p = NULL. */
void hpt_svg_destroy(hpt_svg_t **p);

/* Close the document (once; later calls return the same text) and return
 * its text, owned by the document, with its length in *len (may be NULL).
 * Returns NULL when any earlier call ran out of memory. */
const char *hpt_svg_finish(hpt_svg_t *s, size_t *len);

/* Marks.  cls is a class of the document's style sheet (borrowed; NULL for
 * none): "axis", "grid", "tick", "label", "title", "pt", "mean", "err",
 * "trend", "best", "step", "pc", "pcbest", "frame", "note".  color, when
 * not NULL, sets the stroke (lines, paths) or fill (circles, rectangles)
 * and must be a "#rrggbb" string.  tip, when not NULL, becomes a <title>
 * child: the tooltip browsers show on hover (escaped). */
void hpt_svg_line(hpt_svg_t *s, double x1, double y1, double x2, double y2, const char *cls);
void hpt_svg_circle(hpt_svg_t *s, double cx, double cy, double r, const char *cls,
                    const char *color, const char *tip);
void hpt_svg_rect(hpt_svg_t *s, double x, double y, double w, double h, const char *cls,
                  const char *color);

/* A polyline through (xs[i], ys[i]); a NaN coordinate breaks it (the next
 * finite point starts a new piece), so a conditional parameter's absent
 * value leaves a gap.  Pieces of one point draw nothing. */
void hpt_svg_path(hpt_svg_t *s, const double *xs, const double *ys, size_t n, const char *cls,
                  const char *color, const char *tip);

/* Text anchored at (x, y): anchor is "start", "middle" or "end"; rotate in
 * degrees about (x, y) (0 for none).  text is escaped; when it is longer
 * than max_chars code points (0 = no limit) it is cut with "…" and the full
 * text becomes its tooltip. */
void hpt_svg_text(hpt_svg_t *s, double x, double y, const char *anchor, double rotate,
                  const char *cls, size_t max_chars, const char *text);

// --- axes and legends -----------------------------------------------------------

/* The text metrics the layout assumes for tick labels (11 px sans-serif):
 * an upper bound of the advance of one character (most are narrower) and
 * the spacing two parallel lines of text need not to touch. */
#define HPT_SVG_CHAR_W 6.5    // px per code point
#define HPT_SVG_LINE_H 14.0   // px between baselines

/* How the labels of a categorical axis are drawn. */
typedef struct hpt_svg_cat_layout {
    double rotate;      // degrees: 0, or -45 (a horizontal axis whose labels do not fit)
    int every;          // label every k-th category (1 = all), so that labels keep apart
    size_t max_chars;   // labels longer than this are cut with "…" (0 = no limit)
} hpt_svg_cat_layout_t;

/* The layout of n category labels cats[0..n-1] (borrowed; NULL -> the
 * indices) on bands `band` px wide: on a horizontal axis, upright when the
 * longest label fits its band, else upright and cut when at least 6
 * characters fit, else rotated by -45 degrees and cut to 14 characters; on
 * a vertical axis, upright and cut to 14 characters.  In every case `every`
 * is the smallest k for which labels k bands apart do not overlap under the
 * metrics above: upright horizontal labels need k * band >= their width,
 * rotated ones k * band * sin(45) >= HPT_SVG_LINE_H, stacked ones
 * k * band >= HPT_SVG_LINE_H.  Pure. */
void hpt_svg_cat_layout(double band, const char *const *cats, int n, bool horizontal,
                        hpt_svg_cat_layout_t *out);

/* How far below a horizontal (HPT_SVG_BOTTOM) axis of scale sc its tick
 * labels and title reach, in px: what the plot must leave under it.  cats
 * as for hpt_svg_axis.  Pure. */
double hpt_svg_axis_depth(const hpt_svg_scale_t *sc, const char *const *cats);

typedef enum hpt_svg_side {
    HPT_SVG_BOTTOM,   // horizontal axis at y = at; labels below; title below them
    HPT_SVG_LEFT,     // vertical axis at x = at; labels left; title rotated, further left
    HPT_SVG_PARALLEL, // vertical axis at x = at; labels left; title above the axis
} hpt_svg_side_t;

/* Draw the axis of scale sc on `side` at pixel `at`, with its ticks and
 * tick labels (cats[i] for a categorical scale, borrowed; NULL -> the
 * index), and its title (may be NULL).  Grid lines across the plot run
 * from g0 to g1 along the other direction (none when g0 == g1). */
void hpt_svg_axis(hpt_svg_t *s, const hpt_svg_scale_t *sc, hpt_svg_side_t side, double at,
                  double g0, double g1, const char *const *cats, const char *title);

typedef enum hpt_svg_key {
    HPT_SVG_KEY_POINT,   // a small circle of class "pt"
    HPT_SVG_KEY_MEAN,    // a mean marker with an error bar
    HPT_SVG_KEY_LINE,    // a line of the given class
    HPT_SVG_KEY_RING,    // the best trial's ring
} hpt_svg_key_t;

typedef struct hpt_svg_legend_item {
    hpt_svg_key_t key;
    const char *cls;     // class of the line (HPT_SVG_KEY_LINE), else NULL
    const char *label;   // borrowed
} hpt_svg_legend_item_t;

/* A legend box with its top-left corner at (x, y), one row per item. */
void hpt_svg_legend(hpt_svg_t *s, double x, double y, const hpt_svg_legend_item_t *items,
                    int n);

/* A vertical colour bar at (x, top)..(x + w, bottom) for scale sc (whose
 * p0/p1 must be bottom/top), coloured by hpt_svg_color: t = 0 at the worse
 * end, 1 at the better (higher_better says which end that is), with tick
 * labels to its right and title above. */
void hpt_svg_colorbar(hpt_svg_t *s, const hpt_svg_scale_t *sc, double x, double w,
                      bool higher_better, const char *title);

#endif
