/*
 * svg.c: scales, ticks and an SVG writer for hptune's plots; see svg.h.
 *
 * The document is one growing buffer.  An allocation failure sets a flag
 * rather than being reported by every drawing call: hpt_svg_finish()
 * returns NULL, and the caller reports it once.  Coordinates are written
 * with one decimal: a tenth of a pixel is below what a screen shows and
 * keeps a plot of thousands of trials small.
 */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// --- scales ---------------------------------------------------------------------

double hpt_svg_nice_step(double span, int target)
{
    if (!(span > 0) || !isfinite(span) || target < 1)
        return 1;
    double raw = span / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    /* Thresholds between 1, 2, 5 and 10 at roughly their geometric means,
     * so the tick count stays near target. */
    double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return nf * mag;
}

void hpt_svg_scale_linear(hpt_svg_scale_t *s, double lo, double hi, int target, double p0,
                          double p1)
{
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi == lo) {
        double pad = lo != 0 ? fabs(lo) * 0.05 : 1;
        lo -= pad;
        hi += pad;
    }
    if (target < 2)
        target = 2;
    double step = hpt_svg_nice_step(hi - lo, target);
    /* The small slack keeps a bound that is a tick already (0.9 / 0.1 is
     * 8.999...) from growing by a whole step. */
    double nlo = floor(lo / step + 1e-9) * step;
    double nhi = ceil(hi / step - 1e-9) * step;
    if (nhi <= nlo)
        nhi = nlo + step;
    *s = (hpt_svg_scale_t){.kind = HPT_SVG_LINEAR, .lo = nlo, .hi = nhi, .p0 = p0, .p1 = p1,
                           .step = step};
}

void hpt_svg_scale_log(hpt_svg_scale_t *s, double lo, double hi, double p0, double p1)
{
    if (!(lo > 0) || !(hi > 0) || !isfinite(lo) || !isfinite(hi)) {
        hpt_svg_scale_linear(s, lo, hi, 5, p0, p1);
        return;
    }
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    double dlo = floor(log10(lo) + 1e-12), dhi = ceil(log10(hi) - 1e-12);
    if (dhi <= dlo)
        dhi = dlo + 1;
    double decades = dhi - dlo;
    *s = (hpt_svg_scale_t){.kind = HPT_SVG_LOG, .lo = pow(10, dlo), .hi = pow(10, dhi),
                           .p0 = p0, .p1 = p1, .step = decades > 8 ? ceil(decades / 8) : 1};
}

void hpt_svg_scale_cat(hpt_svg_scale_t *s, int n, double p0, double p1)
{
    if (n < 1)
        n = 1;
    *s = (hpt_svg_scale_t){.kind = HPT_SVG_CAT, .lo = -0.5, .hi = n - 0.5, .p0 = p0, .p1 = p1,
                           .step = 1, .n_cats = n};
}

double hpt_svg_map(const hpt_svg_scale_t *s, double v)
{
    double f;
    if (s->kind == HPT_SVG_LOG)
        f = v > 0 ? (log10(v) - log10(s->lo)) / (log10(s->hi) - log10(s->lo)) : 0;
    else
        f = (v - s->lo) / (s->hi - s->lo);
    return s->p0 + f * (s->p1 - s->p0);
}

int hpt_svg_ticks(const hpt_svg_scale_t *s, double *ticks, int max)
{
    int n = 0;
    if (s->kind == HPT_SVG_CAT) {
        for (int i = 0; i < s->n_cats && n < max; i++)
            ticks[n++] = i;
    } else if (s->kind == HPT_SVG_LOG) {
        double dlo = round(log10(s->lo)), dhi = round(log10(s->hi));
        bool minor = dhi - dlo <= 2 && s->step == 1;
        for (double d = dlo; d <= dhi + 1e-9 && n < max; d += s->step) {
            double p = pow(10, d);
            ticks[n++] = p;
            if (minor && d < dhi) {
                if (n < max)
                    ticks[n++] = 2 * p;
                if (n < max)
                    ticks[n++] = 5 * p;
            }
        }
    } else {
        long k = lround((s->hi - s->lo) / s->step);
        for (long i = 0; i <= k && n < max; i++) {
            /* Computed from the index, not accumulated, then snapped to a
             * multiple of step: 0.82 + 3 * 0.02 prints as 0.88. */
            double v = round((s->lo + (double)i * s->step) / s->step) * s->step;
            ticks[n++] = fabs(v) < s->step * 1e-9 ? 0 : v;
        }
    }
    return n;
}

const char *hpt_svg_tick_label(const hpt_svg_scale_t *s, double v, char *buf, size_t len)
{
    if (s->kind == HPT_SVG_CAT) {
        snprintf(buf, len, "%.0f", v);
        return buf;
    }
    if (s->kind == HPT_SVG_LOG) {
        snprintf(buf, len, "%g", v);
        return buf;
    }
    if (fabs(v) < s->step * 1e-6)
        v = 0;   // never "-0"
    double a = fabs(v);
    if ((a >= 1e6 || s->step < 1e-4) && v != 0) {
        snprintf(buf, len, "%.6g", v);
        return buf;
    }
    int dec = s->step >= 1 ? 0 : (int)ceil(-log10(s->step) - 1e-9);
    snprintf(buf, len, "%.*f", dec, v);
    if (strcmp(buf, "-0") == 0 || (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1)))
        memmove(buf, buf + 1, strlen(buf));
    return buf;
}

bool hpt_svg_wants_log(const double *v, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        if (v[i] <= 0)
            return false;
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
        k++;
    }
    return k >= 2 && hi > lo * pow(10, 1.5);
}

// --- text -----------------------------------------------------------------------

/* Length of the valid UTF-8 sequence XML allows at p (1..4), or 0 when it
 * is not one (bad bytes, overlong forms, surrogates, U+FFFE/U+FFFF, beyond
 * U+10FFFF). */
static int utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    int n;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;   // also stops at the terminating NUL
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE ||
        cp == 0xFFFF)
        return 0;
    return n;
}

char *hpt_svg_escape(const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    char *out = malloc(6 * n + 1);   // "&quot;" is the longest replacement of one byte
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int k = utf8_len(p);
        if (k == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);   // U+FFFD for each bad byte
            o += 3;
            p++;
            continue;
        }
        if (k > 1) {
            memcpy(out + o, p, (size_t)k);
            o += (size_t)k;
            p += k;
            continue;
        }
        const char *rep = NULL;
        switch (*p) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            size_t r = strlen(rep);
            memcpy(out + o, rep, r);
            o += r;
        } else if (*p >= 0x20 || *p == '\t' || *p == '\n') {
            out[o++] = (char)*p;
        }   // other control characters are not allowed in XML 1.0: dropped
        p++;
    }
    out[o] = '\0';
    return out;
}

int hpt_svg_fputs(FILE *f, const char *s)
{
    char *e = hpt_svg_escape(s);
    if (!e)
        return -ENOMEM;
    fputs(e, f);
    free(e);
    return 0;
}

// --- colours --------------------------------------------------------------------

const char *hpt_svg_color(double t, char *buf, size_t len)
{
    /* Five stops of matplotlib's viridis: perceptually uniform, readable in
     * grey and by most colour-blind readers. */
    static const unsigned char stops[5][3] = {
        {0x44, 0x01, 0x54}, {0x3b, 0x52, 0x8b}, {0x21, 0x91, 0x8c},
        {0x5e, 0xc9, 0x62}, {0xfd, 0xe7, 0x25},
    };
    if (isnan(t)) {
        snprintf(buf, len, "#999999");
        return buf;
    }
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double x = t * 4;
    int i = x >= 4 ? 3 : (int)x;
    double f = x - i;
    int rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (int)lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k]));
    snprintf(buf, len, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
    return buf;
}

// --- documents ------------------------------------------------------------------

struct hpt_svg {
    char *buf;          // the text so far, NUL-terminated
    size_t len, cap;
    bool oom;           // an append failed: finish returns NULL
    bool finished;      // "</svg>" written
};

static void append(hpt_svg_t *s, const char *p, size_t n)
{
    if (s->oom || s->finished)
        return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->oom = true;
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static void appendf(hpt_svg_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(hpt_svg_t *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        s->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        append(s, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        s->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    append(s, big, (size_t)n);
    free(big);
}

static void append_escaped(hpt_svg_t *s, const char *text)
{
    char *e = hpt_svg_escape(text);
    if (!e) {
        s->oom = true;
        return;
    }
    append(s, e, strlen(e));
    free(e);
}

/* ` class="cls"` and ` style="prop:color"` attributes. */
static void attrs(hpt_svg_t *s, const char *cls, const char *prop, const char *color)
{
    if (cls)
        appendf(s, " class=\"%s\"", cls);
    if (color)
        appendf(s, " style=\"%s:%s\"", prop, color);
}

/* Close an element, with a <title> child when tip is given. */
static void close_tip(hpt_svg_t *s, const char *elem, const char *tip)
{
    if (!tip) {
        append(s, "/>", 2);
        return;
    }
    append(s, "><title>", 8);
    append_escaped(s, tip);
    appendf(s, "</title></%s>", elem);
}

/* The style sheet.  Rules are scoped to svg so that inlined documents do
 * not restyle the HTML page around them; class rules (unlike presentation
 * attributes) are why per-mark colours use style="".  Text gets a white
 * halo (a stroke painted under its fill) so that labels stay readable where
 * lines cross them, as on parallel coordinates' axes. */
static const char style_sheet[] =
    "<style>"
    "svg text{font-family:sans-serif;font-size:11px;fill:#333;paint-order:stroke;"
    "stroke:#fff;stroke-width:3px;stroke-linejoin:round}"
    "svg .title{font-size:13px;font-weight:bold}"
    "svg .label{font-size:12px}"
    /* Its own size: inlined in `hptune report`'s page, whose .note class
     * is larger, the note would otherwise grow into the tick labels. */
    "svg .note{fill:#888;font-style:italic;font-size:11px}"
    "svg .axis,svg .tick{stroke:#555;stroke-width:1}"
    "svg .grid{stroke:#e8e8e8;stroke-width:1}"
    "svg .frame{fill:#fff;stroke:#ddd}"
    "svg .legend{fill:#fff;fill-opacity:0.9;stroke:#ccc}"
    "svg .pt{fill:#4c78a8;fill-opacity:0.5;stroke:none}"
    "svg .mean{fill:#222;stroke:none}"
    "svg .err{stroke:#222;stroke-width:1.5}"
    "svg .trend{fill:none;stroke:#222;stroke-width:1;stroke-dasharray:4 3}"
    "svg .best{fill:none;stroke:#d62728;stroke-width:2}"
    "svg .step{fill:none;stroke:#e45756;stroke-width:2}"
    "svg .pc{fill:none;stroke:#999;stroke-width:1;stroke-opacity:0.6}"
    "svg .pcbest{fill:none;stroke:#d62728;stroke-width:3}"
    "svg .bar{stroke:none}"
    "</style>\n";

int hpt_svg_new(hpt_svg_t **out, double width, double height, const char *title)
{
    *out = NULL;
    hpt_svg_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    appendf(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" role=\"img\"",
            width, height, width, height);
    if (title) {
        append(s, " aria-label=\"", 13);
        append_escaped(s, title);
        append(s, "\"", 1);
    }
    append(s, ">\n", 2);
    if (title) {
        append(s, "<title>", 7);
        append_escaped(s, title);
        append(s, "</title>\n", 9);
    }
    append(s, style_sheet, sizeof style_sheet - 1);
    appendf(s, "<rect class=\"frame\" x=\"0.5\" y=\"0.5\" width=\"%.0f\" height=\"%.0f\"/>\n",
            width - 1, height - 1);
    if (s->oom) {
        hpt_svg_destroy(&s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

void hpt_svg_destroy(hpt_svg_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->buf);
    free(*p);
    *p = NULL;
}

const char *hpt_svg_finish(hpt_svg_t *s, size_t *len)
{
    if (!s->finished) {
        append(s, "</svg>\n", 7);
        s->finished = true;
    }
    if (s->oom)
        return NULL;
    if (len)
        *len = s->len;
    return s->buf;
}

// --- marks ----------------------------------------------------------------------

void hpt_svg_line(hpt_svg_t *s, double x1, double y1, double x2, double y2, const char *cls)
{
    appendf(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", x1, y1, x2, y2);
    attrs(s, cls, "stroke", NULL);
    append(s, "/>\n", 3);
}

void hpt_svg_circle(hpt_svg_t *s, double cx, double cy, double r, const char *cls,
                    const char *color, const char *tip)
{
    appendf(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", cx, cy, r);
    attrs(s, cls, "fill", color);
    close_tip(s, "circle", tip);
    append(s, "\n", 1);
}

void hpt_svg_rect(hpt_svg_t *s, double x, double y, double w, double h, const char *cls,
                  const char *color)
{
    appendf(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", x, y, w, h);
    attrs(s, cls, "fill", color);
    append(s, "/>\n", 3);
}

void hpt_svg_path(hpt_svg_t *s, const double *xs, const double *ys, size_t n, const char *cls,
                  const char *color, const char *tip)
{
    /* Count the drawable pieces first: a path with no segment is left out
     * (an empty d="" is an error in some viewers). */
    size_t segs = 0;
    for (size_t i = 1; i < n; i++)
        segs += isfinite(xs[i]) && isfinite(ys[i]) && isfinite(xs[i - 1]) &&
                isfinite(ys[i - 1]);
    if (segs == 0)
        return;
    append(s, "<path d=\"", 9);
    bool pen = false;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(xs[i]) || !isfinite(ys[i])) {
            pen = false;
            continue;
        }
        bool next_ok = i + 1 < n && isfinite(xs[i + 1]) && isfinite(ys[i + 1]);
        if (!pen && !next_ok)
            continue;   // an isolated point
        appendf(s, "%s%.1f %.1f", pen ? "L" : "M", xs[i], ys[i]);
        pen = true;
    }
    append(s, "\"", 1);
    attrs(s, cls, "stroke", color);
    close_tip(s, "path", tip);
    append(s, "\n", 1);
}

void hpt_svg_text(hpt_svg_t *s, double x, double y, const char *anchor, double rotate,
                  const char *cls, size_t max_chars, const char *text)
{
    if (!text)
        text = "";
    /* Cut at a code point boundary when too long. */
    size_t cps = 0, cut = 0;
    for (const char *p = text; *p; p++)
        if (((unsigned char)*p & 0xC0) != 0x80) {
            if (max_chars && cps == max_chars - 1)
                cut = (size_t)(p - text);
            cps++;
        }
    bool shorten = max_chars && cps > max_chars;
    appendf(s, "<text x=\"%.1f\" y=\"%.1f\"", x, y);
    if (anchor && strcmp(anchor, "start") != 0)
        appendf(s, " text-anchor=\"%s\"", anchor);
    if (rotate != 0)
        appendf(s, " transform=\"rotate(%.0f %.1f %.1f)\"", rotate, x, y);
    attrs(s, cls, "fill", NULL);
    append(s, ">", 1);
    if (shorten) {
        char *head = strndup(text, cut);
        if (!head) {
            s->oom = true;
            return;
        }
        append(s, "<title>", 7);
        append_escaped(s, text);
        append(s, "</title>", 8);
        append_escaped(s, head);
        append(s, "\xE2\x80\xA6", 3);   // …
        free(head);
    } else {
        append_escaped(s, text);
    }
    append(s, "</text>\n", 8);
}

// --- axes and legends -----------------------------------------------------------

#define MAX_TICKS 64
#define SIN45 0.70710678118654752   // sin(45 degrees): rotated labels

/* Code points of s (NULL -> 0). */
static size_t cps(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The longest of the n labels in code points (the index's digits when cats
 * is NULL). */
static size_t longest_label(const char *const *cats, int n)
{
    size_t m = 0;
    for (int i = 0; i < n; i++) {
        char buf[24];
        size_t k = cats ? cps(cats[i]) : (size_t)snprintf(buf, sizeof buf, "%d", i);
        m = k > m ? k : m;
    }
    return m;
}

void hpt_svg_cat_layout(double band, const char *const *cats, int n, bool horizontal,
                        hpt_svg_cat_layout_t *out)
{
    if (!(band > 0))
        band = 1;
    size_t longest = longest_label(cats, n);
    *out = (hpt_svg_cat_layout_t){.rotate = 0, .every = 1, .max_chars = 0};
    if (!horizontal) {
        /* Stacked upright labels: one line of text apart. */
        out->max_chars = 14;
        out->every = (int)ceil(HPT_SVG_LINE_H / band - 1e-9);
    } else if ((double)longest * HPT_SVG_CHAR_W + 4 <= band) {
        out->every = 1;   // every label fits its band
    } else if ((band - 4) / HPT_SVG_CHAR_W >= 6) {
        /* Upright and cut to the band: still readable, and no two touch. */
        out->max_chars = (size_t)floor((band - 4) / HPT_SVG_CHAR_W);
    } else {
        /* Rotated: parallel baselines k bands apart are k * band * sin(45)
         * apart, which must hold a line of text. */
        out->rotate = -45;
        out->max_chars = 14;
        out->every = (int)ceil(HPT_SVG_LINE_H / (band * SIN45) - 1e-9);
    }
    if (out->every < 1)
        out->every = 1;
    if (out->max_chars && out->max_chars >= longest)
        out->max_chars = 0;
}

double hpt_svg_axis_depth(const hpt_svg_scale_t *sc, const char *const *cats)
{
    if (sc->kind != HPT_SVG_CAT)
        return 34 + 6;   // labels at +16, the title's baseline at +34
    hpt_svg_cat_layout_t lay;
    double band = fabs(sc->p1 - sc->p0) / sc->n_cats;
    hpt_svg_cat_layout(band, cats, sc->n_cats, true, &lay);
    if (lay.rotate == 0)
        return 34 + 6;
    size_t k = longest_label(cats, sc->n_cats);
    if (lay.max_chars && k > lay.max_chars)
        k = lay.max_chars;
    /* A rotated label drops by its length times sin(45), from +10. */
    return 10 + (double)k * HPT_SVG_CHAR_W * SIN45 + 22 + 6;
}

void hpt_svg_axis(hpt_svg_t *s, const hpt_svg_scale_t *sc, hpt_svg_side_t side, double at,
                  double g0, double g1, const char *const *cats, const char *title)
{
    double ticks[MAX_TICKS];
    int n = hpt_svg_ticks(sc, ticks, MAX_TICKS);
    bool horiz = side == HPT_SVG_BOTTOM;
    double lo = fmin(sc->p0, sc->p1), hi = fmax(sc->p0, sc->p1);
    if (horiz)
        hpt_svg_line(s, lo, at, hi, at, "axis");
    else
        hpt_svg_line(s, at, lo, at, hi, "axis");
    /* Categorical labels are laid out so that none overlaps another
     * (hpt_svg_cat_layout); numeric ticks are few and short already. */
    hpt_svg_cat_layout_t lay = {.rotate = 0, .every = 1, .max_chars = 0};
    if (sc->kind == HPT_SVG_CAT)
        hpt_svg_cat_layout((hi - lo) / sc->n_cats, cats, sc->n_cats, horiz, &lay);
    bool rotated = lay.rotate != 0;
    for (int i = 0; i < n; i++) {
        double p = hpt_svg_map(sc, ticks[i]);
        if (g0 != g1) {
            if (horiz)
                hpt_svg_line(s, p, g0, p, g1, "grid");
            else
                hpt_svg_line(s, g0, p, g1, p, "grid");
        }
        if (horiz)
            hpt_svg_line(s, p, at, p, at + 4, "tick");
        else
            hpt_svg_line(s, at - 4, p, at, p, "tick");
        if (i % lay.every)
            continue;
        char buf[64];
        const char *label = sc->kind == HPT_SVG_CAT && cats
                                ? cats[i]
                                : hpt_svg_tick_label(sc, ticks[i], buf, sizeof buf);
        if (horiz && rotated)
            hpt_svg_text(s, p + 3, at + 10, "end", lay.rotate, NULL, lay.max_chars, label);
        else if (horiz)
            hpt_svg_text(s, p, at + 16, "middle", 0, NULL, lay.max_chars, label);
        else
            hpt_svg_text(s, at - 6, p + 4, "end", 0, NULL, lay.max_chars, label);
    }
    if (!title)
        return;
    if (side == HPT_SVG_BOTTOM)
        hpt_svg_text(s, (lo + hi) / 2, at + hpt_svg_axis_depth(sc, cats) - 6, "middle", 0,
                     "label", 60, title);
    else if (side == HPT_SVG_LEFT)
        hpt_svg_text(s, at - 46, (lo + hi) / 2, "middle", -90, "label", 48, title);
    else
        hpt_svg_text(s, at, lo - 12, "middle", 0, "label", 18, title);
}

void hpt_svg_legend(hpt_svg_t *s, double x, double y, const hpt_svg_legend_item_t *items,
                    int n)
{
    size_t longest = 0;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(items[i].label);
        longest = k > longest ? k : longest;
    }
    double w = 36 + 6.2 * (double)longest, h = 8 + 16 * n;
    hpt_svg_rect(s, x, y, w, h, "legend", NULL);
    for (int i = 0; i < n; i++) {
        double cy = y + 12 + 16 * i, cx = x + 14;
        switch (items[i].key) {
        case HPT_SVG_KEY_POINT: hpt_svg_circle(s, cx, cy, 3, "pt", NULL, NULL); break;
        case HPT_SVG_KEY_MEAN:
            hpt_svg_line(s, cx, cy - 6, cx, cy + 6, "err");
            hpt_svg_circle(s, cx, cy, 3.5, "mean", NULL, NULL);
            break;
        case HPT_SVG_KEY_LINE: hpt_svg_line(s, cx - 8, cy, cx + 8, cy, items[i].cls); break;
        case HPT_SVG_KEY_RING: hpt_svg_circle(s, cx, cy, 5, "best", NULL, NULL); break;
        }
        hpt_svg_text(s, x + 28, cy + 4, "start", 0, NULL, 0, items[i].label);
    }
}

void hpt_svg_colorbar(hpt_svg_t *s, const hpt_svg_scale_t *sc, double x, double w,
                      bool higher_better, const char *title)
{
    /* Small rectangles rather than a <linearGradient>, which would need an
     * id (and ids clash once several documents are inlined in one page). */
    enum { STEPS = 48 };
    for (int i = 0; i < STEPS; i++) {
        double v0 = sc->lo + (sc->hi - sc->lo) * i / STEPS;
        double v1 = sc->lo + (sc->hi - sc->lo) * (i + 1) / STEPS;
        double t = (i + 0.5) / STEPS;
        double y0 = hpt_svg_map(sc, v0), y1 = hpt_svg_map(sc, v1);
        char col[16];
        hpt_svg_color(higher_better ? t : 1 - t, col, sizeof col);
        hpt_svg_rect(s, x, fmin(y0, y1), w, fabs(y1 - y0) + 0.6, "bar", col);
    }
    double ticks[MAX_TICKS];
    int n = hpt_svg_ticks(sc, ticks, MAX_TICKS);
    for (int i = 0; i < n; i++) {
        double p = hpt_svg_map(sc, ticks[i]);
        char buf[64];
        hpt_svg_line(s, x + w, p, x + w + 4, p, "tick");
        hpt_svg_text(s, x + w + 6, p + 4, "start", 0, NULL, 0,
                     hpt_svg_tick_label(sc, ticks[i], buf, sizeof buf));
    }
    if (title)
        hpt_svg_text(s, x + w / 2, fmin(sc->p0, sc->p1) - 12, "middle", 0, "label", 18, title);
}
