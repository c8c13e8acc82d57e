/*
 * test_svg.c: unit tests of common/svg.c and common/plots.c, the one
 * renderer of hptune's plots (`hptune report` and the dashboard): nice
 * steps, linear/log/categorical scales and their ticks and labels, the
 * log-axis rule, mapping to pixels, escaping, colours, categorical labels
 * that never overlap, and plot sets built from a ResultsReply: constant
 * parameters get no plot, every document is well-formed XML, a sweep of
 * 200,000 trials is subsampled and rendered fast, and the output is
 * deterministic.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "hpt_test.h"
#include "plots.h"
#include "svg.h"

static void expect_ticks(const hpt_svg_scale_t *s, const double *want, int n)
{
    double t[64];
    int k = hpt_svg_ticks(s, t, 64);
    if (k != n) {
        fprintf(stderr, "ticks:");
        for (int i = 0; i < k; i++)
            fprintf(stderr, " %.17g", t[i]);
        fputc('\n', stderr);
    }
    ASSERT_EQ(k, n);
    for (int i = 0; i < n; i++)
        ASSERT_NEAR(t[i], want[i], fabs(want[i]) * 1e-12 + 1e-15);
}

static const char *label(const hpt_svg_scale_t *s, double v)
{
    static char buf[64];
    return hpt_svg_tick_label(s, v, buf, sizeof buf);
}

HPT_TEST(nice_step)
{
    ASSERT_NEAR(hpt_svg_nice_step(1, 5), 0.2, 1e-15);
    ASSERT_NEAR(hpt_svg_nice_step(10, 5), 2, 1e-15);
    ASSERT_NEAR(hpt_svg_nice_step(0.0896, 5), 0.02, 1e-15);    // raw 0.0179 -> 2e-2
    ASSERT_NEAR(hpt_svg_nice_step(0.0123, 5), 0.002, 1e-15);   // raw 0.00246 -> 2e-3
    ASSERT_NEAR(hpt_svg_nice_step(7, 2), 5, 1e-15);            // raw 3.5 -> 5
    ASSERT_NEAR(hpt_svg_nice_step(900, 1), 1000, 1e-12);       // raw 900 -> 10e2
    ASSERT_NEAR(hpt_svg_nice_step(140, 10), 10, 1e-12);        // raw 14 -> 1e1
    ASSERT_NEAR(hpt_svg_nice_step(0, 5), 1, 0);                // degenerate
    ASSERT_NEAR(hpt_svg_nice_step(NAN, 5), 1, 0);
    ASSERT_NEAR(hpt_svg_nice_step(1, 0), 1, 0);
}

HPT_TEST(linear_scale)
{
    hpt_svg_scale_t s;
    hpt_svg_scale_linear(&s, 0.8273, 0.9169, 5, 0, 100);
    ASSERT_EQ(s.kind, HPT_SVG_LINEAR);
    ASSERT_NEAR(s.step, 0.02, 1e-15);
    ASSERT_NEAR(s.lo, 0.82, 1e-12);
    ASSERT_NEAR(s.hi, 0.92, 1e-12);
    static const double want[] = {0.82, 0.84, 0.86, 0.88, 0.90, 0.92};
    expect_ticks(&s, want, 6);
    ASSERT(strcmp(label(&s, 0.88), "0.88") == 0);
    ASSERT(strcmp(label(&s, 0.90), "0.90") == 0);
    /* Pixels: lo -> p0, hi -> p1, linear in between. */
    ASSERT_NEAR(hpt_svg_map(&s, 0.82), 0, 1e-9);
    ASSERT_NEAR(hpt_svg_map(&s, 0.92), 100, 1e-9);
    ASSERT_NEAR(hpt_svg_map(&s, 0.87), 50, 1e-9);

    /* Bounds on ticks already stay: [0, 1] does not grow to [0, 1.2]. */
    hpt_svg_scale_linear(&s, 0, 1, 5, 0, 1);
    ASSERT_NEAR(s.lo, 0, 0);
    ASSERT_NEAR(s.hi, 1, 1e-12);
    ASSERT(strcmp(label(&s, 0.6000000000000001), "0.6") == 0);

    /* Integers: no decimals; reversed bounds are swapped; negatives. */
    hpt_svg_scale_linear(&s, 512, 8, 5, 300, 0);
    ASSERT_NEAR(s.step, 100, 0);
    ASSERT_NEAR(s.lo, 0, 0);
    ASSERT_NEAR(s.hi, 600, 0);
    ASSERT(strcmp(label(&s, 500), "500") == 0);
    ASSERT_NEAR(hpt_svg_map(&s, 0), 300, 1e-9);   // a y axis: lo at the bottom
    ASSERT_NEAR(hpt_svg_map(&s, 600), 0, 1e-9);
    hpt_svg_scale_linear(&s, -0.3, 0.3, 6, 0, 1);
    static const double sym[] = {-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3};
    expect_ticks(&s, sym, 7);
    ASSERT(strcmp(label(&s, -1e-17), "0.0") == 0);   // never "-0.0"
    ASSERT(strcmp(label(&s, -0.1), "-0.1") == 0);

    /* One value: widened around it; zero: widened by 1; NaN: [0, 1]. */
    hpt_svg_scale_linear(&s, 0.5, 0.5, 5, 0, 1);
    ASSERT(s.lo < 0.5 && s.hi > 0.5);
    ASSERT(s.lo >= 0.45 - 1e-12 && s.hi <= 0.55 + 1e-12);
    hpt_svg_scale_linear(&s, 0, 0, 5, 0, 1);
    ASSERT(s.lo <= -1 && s.hi >= 1);
    hpt_svg_scale_linear(&s, NAN, 3, 5, 0, 1);
    ASSERT_NEAR(s.lo, 0, 0);
    ASSERT_NEAR(s.hi, 1, 1e-12);

    /* Big and tiny magnitudes switch to %g. */
    hpt_svg_scale_linear(&s, 0, 3e7, 3, 0, 1);
    ASSERT(strcmp(label(&s, 2e7), "2e+07") == 0);
    hpt_svg_scale_linear(&s, 1e-6, 5e-6, 4, 0, 1);
    ASSERT(strcmp(label(&s, 2e-6), "2e-06") == 0);

    /* Minutes of a quick sweep: 0 .. 0.37 -> 0.1 steps. */
    hpt_svg_scale_linear(&s, 0, 0.37, 4, 0, 1);
    ASSERT_NEAR(s.step, 0.1, 1e-15);
    ASSERT_NEAR(s.hi, 0.4, 1e-12);
    ASSERT(strcmp(label(&s, 0.30000000000000004), "0.3") == 0);
}

HPT_TEST(log_scale)
{
    hpt_svg_scale_t s;
    hpt_svg_scale_log(&s, 1e-4, 1e-1, 0, 300);
    ASSERT_EQ(s.kind, HPT_SVG_LOG);
    ASSERT_NEAR(s.lo, 1e-4, 1e-18);
    ASSERT_NEAR(s.hi, 1e-1, 1e-15);
    static const double dec[] = {1e-4, 1e-3, 1e-2, 1e-1};   // 3 decades: no 2x, 5x
    expect_ticks(&s, dec, 4);
    ASSERT(strcmp(label(&s, 1e-4), "0.0001") == 0);
    ASSERT(strcmp(label(&s, 1e-1), "0.1") == 0);
    ASSERT_NEAR(hpt_svg_map(&s, 1e-3), 100, 1e-9);   // one decade = a third
    ASSERT_NEAR(hpt_svg_map(&s, sqrt(1e-3 * 1e-2)), 150, 1e-9);

    /* Widened to whole decades; at most 2 decades get 2x and 5x ticks. */
    hpt_svg_scale_log(&s, 3, 250, 0, 1);
    ASSERT_NEAR(s.lo, 1, 1e-15);
    ASSERT_NEAR(s.hi, 1000, 1e-9);
    static const double three[] = {1, 10, 100, 1000};
    expect_ticks(&s, three, 4);
    hpt_svg_scale_log(&s, 2, 40, 0, 1);
    static const double minor[] = {1, 2, 5, 10, 20, 50, 100};
    expect_ticks(&s, minor, 7);

    /* Exactly a power of ten stays; one value gets one decade. */
    hpt_svg_scale_log(&s, 0.01, 0.01, 0, 1);
    ASSERT_NEAR(s.lo, 0.01, 1e-17);
    ASSERT_NEAR(s.hi, 0.1, 1e-16);

    /* Many decades: a tick every k decades (at most ~9 ticks). */
    hpt_svg_scale_log(&s, 1e-10, 1e10, 0, 1);
    ASSERT_NEAR(s.step, 3, 0);
    double t[64];
    int n = hpt_svg_ticks(&s, t, 64);
    ASSERT(n >= 6 && n <= 9);
    ASSERT_NEAR(t[1] / t[0], 1000, 1e-6);

    /* Not positive: linear instead. */
    hpt_svg_scale_log(&s, 0, 100, 0, 1);
    ASSERT_EQ(s.kind, HPT_SVG_LINEAR);
    ASSERT(hpt_svg_map(&s, -5) < hpt_svg_map(&s, 0));   // outside the range, no crash
}

HPT_TEST(wants_log)
{
    static const double lr[] = {1e-4, 1e-3, 1e-2, 1e-1};
    ASSERT(hpt_svg_wants_log(lr, 4));
    static const double batch[] = {32, 64, 512};   // 16x: 1.2 decades
    ASSERT(!hpt_svg_wants_log(batch, 3));
    static const double units[] = {8, 16, 32};
    ASSERT(!hpt_svg_wants_log(units, 3));
    static const double edge_in[] = {1, 32};       // 32 > 10^1.5 = 31.62
    ASSERT(hpt_svg_wants_log(edge_in, 2));
    static const double edge_out[] = {1, 31};
    ASSERT(!hpt_svg_wants_log(edge_out, 2));
    static const double zero[] = {0, 10, 1000};
    ASSERT(!hpt_svg_wants_log(zero, 3));
    static const double neg[] = {-1, 10, 1000};
    ASSERT(!hpt_svg_wants_log(neg, 3));
    static const double absent[] = {NAN, 1e-3, NAN, 1};   // conditional: absent skipped
    ASSERT(hpt_svg_wants_log(absent, 4));
    static const double one[] = {NAN, 5};
    ASSERT(!hpt_svg_wants_log(one, 2));
    ASSERT(!hpt_svg_wants_log(NULL, 0));
}

HPT_TEST(cat_scale)
{
    hpt_svg_scale_t s;
    hpt_svg_scale_cat(&s, 3, 0, 300);
    static const double want[] = {0, 1, 2};
    expect_ticks(&s, want, 3);
    ASSERT_NEAR(hpt_svg_map(&s, 0), 50, 1e-9);    // band centres
    ASSERT_NEAR(hpt_svg_map(&s, 1), 150, 1e-9);
    ASSERT_NEAR(hpt_svg_map(&s, 2), 250, 1e-9);
    hpt_svg_scale_cat(&s, 0, 0, 10);   // clamped to one band
    ASSERT_EQ(s.n_cats, 1);
}

HPT_TEST(escape)
{
    char *e = hpt_svg_escape("a<b & \"c\" 'd' >");
    ASSERT(strcmp(e, "a&lt;b &amp; &quot;c&quot; &#39;d&#39; &gt;") == 0);
    free(e);
    e = hpt_svg_escape("\xC2\xB1 ok\x01\x1f\ttab");   // ± kept, controls dropped, tab kept
    ASSERT(strcmp(e, "\xC2\xB1 ok\ttab") == 0);
    free(e);
    e = hpt_svg_escape("bad\xFF\xC3(\xED\xA0\x80");   // invalid bytes, a surrogate -> U+FFFD
    ASSERT(strcmp(e, "bad\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") == 0);
    free(e);
    e = hpt_svg_escape(NULL);
    ASSERT(strcmp(e, "") == 0);
    free(e);
}

HPT_TEST(color)
{
    char b[16];
    ASSERT(strcmp(hpt_svg_color(0, b, sizeof b), "#440154") == 0);
    ASSERT(strcmp(hpt_svg_color(1, b, sizeof b), "#fde725") == 0);
    ASSERT(strcmp(hpt_svg_color(2, b, sizeof b), "#fde725") == 0);   // clamped
    ASSERT(strcmp(hpt_svg_color(0.5, b, sizeof b), "#21918c") == 0);
    ASSERT(strcmp(hpt_svg_color(NAN, b, sizeof b), "#999999") == 0);
}

HPT_TEST(document)
{
    hpt_svg_t *s = NULL;
    ASSERT_OK(hpt_svg_new(&s, 200, 100, "a <title> & more"));
    hpt_svg_scale_t x, y;
    hpt_svg_scale_log(&x, 1e-4, 1e-1, 40, 190);
    hpt_svg_scale_linear(&y, 0.5, 0.9, 4, 80, 10);
    hpt_svg_axis(s, &x, HPT_SVG_BOTTOM, 80, 80, 10, NULL, "learning_rate");
    hpt_svg_axis(s, &y, HPT_SVG_LEFT, 40, 40, 190, NULL, "score");
    double xs[] = {50, 55, NAN, 60, 70}, ys[] = {20, 25, 30, 40, 45};
    hpt_svg_path(s, xs, ys, 5, "pc", "#123456", "trial 1");
    double lone_x[] = {50, NAN, 60}, lone_y[] = {20, 30, 40};
    hpt_svg_path(s, lone_x, lone_y, 3, "pc", NULL, NULL);   // no segment: nothing
    hpt_svg_circle(s, 50, 50, 3, "pt", NULL, "trial <2>");
    hpt_svg_text(s, 10, 10, "start", 0, NULL, 5, "abcdefgh");
    static const hpt_svg_legend_item_t items[] = {{HPT_SVG_KEY_POINT, NULL, "trial"},
                                                  {HPT_SVG_KEY_LINE, "step", "best"}};
    hpt_svg_legend(s, 100, 10, items, 2);
    size_t len = 0;
    const char *doc = hpt_svg_finish(s, &len);
    ASSERT(doc != NULL);
    ASSERT_EQ(strlen(doc), len);
    ASSERT(strncmp(doc, "<svg xmlns=\"http://www.w3.org/2000/svg\" ", 40) == 0);
    ASSERT_STR_CONTAINS(doc, "<title>a &lt;title&gt; &amp; more</title>");
    ASSERT_STR_CONTAINS(doc, "<title>trial &lt;2&gt;</title>");
    ASSERT_STR_CONTAINS(doc, "abcd\xE2\x80\xA6</text>");   // cut at 5 code points
    ASSERT_STR_CONTAINS(doc, ">0.001</text>");
    /* A NaN breaks a path into pieces; a path without a segment is left out. */
    ASSERT_STR_CONTAINS(doc, "<path d=\"M50.0 20.0L55.0 25.0M60.0 40.0L70.0 45.0\" "
                             "class=\"pc\" style=\"stroke:#123456\"><title>trial 1</title>");
    ASSERT(strstr(strstr(doc, "<path") + 1, "<path") == NULL);
    ASSERT(strcmp(doc + len - 7, "</svg>\n") == 0);
    ASSERT(hpt_svg_finish(s, NULL) == doc);   // idempotent
    hpt_svg_destroy(&s);
    ASSERT(s == NULL);
    hpt_svg_destroy(&s);   // NULL is fine
}

// --- categorical labels ------------------------------------------------------------

/* Whether two labels of the layout lay, drawn at centres `gap` px apart
 * with texts a and b, overlap under svg.h's metrics. */
static bool labels_overlap(const hpt_svg_cat_layout_t *lay, double gap, const char *a,
                           const char *b, bool horizontal)
{
    size_t na = strlen(a), nb = strlen(b);   // ASCII in these tests
    if (lay->max_chars) {
        na = na > lay->max_chars ? lay->max_chars : na;
        nb = nb > lay->max_chars ? lay->max_chars : nb;
    }
    if (!horizontal)
        return gap < HPT_SVG_LINE_H;
    if (lay->rotate == 0)   // centred: half of each on either side
        return gap < ((double)na + (double)nb) / 2 * HPT_SVG_CHAR_W;
    return gap * fabs(sin(lay->rotate * 3.14159265358979 / 180)) < HPT_SVG_LINE_H;
}

static const char *const OPTIMIZERS[] = {"sgd", "nesterov", "rmsprop", "adagrad",
                                         "adadelta", "adam", "adamax", "nadam"};

HPT_TEST(cat_labels_never_overlap)
{
    /* The dashboard's complaint: "sgdrmspropadagrad..." on a narrow axis. */
    for (double width = 60; width <= 1200; width *= 1.3) {
        for (int horiz = 0; horiz <= 1; horiz++) {
            hpt_svg_cat_layout_t lay;
            double band = width / 8;
            hpt_svg_cat_layout(band, OPTIMIZERS, 8, horiz, &lay);
            ASSERT(lay.every >= 1);
            for (int i = 0; i + lay.every < 8; i += lay.every)
                if (labels_overlap(&lay, band * lay.every, OPTIMIZERS[i],
                                   OPTIMIZERS[i + lay.every], horiz)) {
                    fprintf(stderr, "width %.0f horiz %d: %s / %s overlap (every %d, rot %g, "
                                    "max %zu)\n", width, horiz, OPTIMIZERS[i],
                            OPTIMIZERS[i + lay.every], lay.every, lay.rotate, lay.max_chars);
                    ASSERT(0);
                }
        }
    }
    /* Wide bands: all labels, upright, whole. */
    hpt_svg_cat_layout_t lay;
    hpt_svg_cat_layout(100, OPTIMIZERS, 8, true, &lay);
    ASSERT(lay.rotate == 0 && lay.every == 1 && lay.max_chars == 0);
    /* Narrow bands: rotated, thinned out. */
    hpt_svg_cat_layout(8, OPTIMIZERS, 8, true, &lay);
    ASSERT(lay.rotate != 0 && lay.every >= 3);
    /* Many categories on a vertical axis: thinned to a line apart. */
    hpt_svg_cat_layout(3, NULL, 100, false, &lay);
    ASSERT(lay.every * 3 >= HPT_SVG_LINE_H);
}

/* The x (and rotation) of every tick label under a horizontal axis at y =
 * at, from a document's text. */
static int axis_labels(const char *doc, double at, double *xs, double *rot, int max)
{
    int n = 0;
    for (const char *p = doc; (p = strstr(p, "<text x=\"")) && n < max; p++) {
        double x, y;
        if (sscanf(p, "<text x=\"%lf\" y=\"%lf\"", &x, &y) != 2 || y < at + 5 || y > at + 20)
            continue;
        const char *r = strstr(p, "rotate(");
        const char *end = strchr(p, '>');
        rot[n] = r && r < end ? -45 : 0;
        xs[n++] = x;
    }
    return n;
}

HPT_TEST(cat_axis_document)
{
    for (double w = 80; w <= 800; w += 90) {
        hpt_svg_t *s = NULL;
        ASSERT_OK(hpt_svg_new(&s, w + 20, 200, "axis"));
        hpt_svg_scale_t x;
        hpt_svg_scale_cat(&x, 8, 10, 10 + w);
        hpt_svg_axis(s, &x, HPT_SVG_BOTTOM, 100, 100, 10, OPTIMIZERS, "optimizer");
        const char *doc = hpt_svg_finish(s, NULL);
        ASSERT(doc != NULL);
        double xs[16], rot[16];
        int n = axis_labels(doc, 100, xs, rot, 16);
        ASSERT(n >= 1);
        hpt_svg_cat_layout_t lay;
        hpt_svg_cat_layout(w / 8, OPTIMIZERS, 8, true, &lay);
        ASSERT_EQ(n, (8 + lay.every - 1) / lay.every);
        for (int i = 0; i + 1 < n; i++)
            ASSERT(!labels_overlap(&lay, xs[i + 1] - xs[i], OPTIMIZERS[i * lay.every],
                                   OPTIMIZERS[(i + 1) * lay.every], true));
        /* The title sits below the labels (rotated ones reach further down). */
        double depth = hpt_svg_axis_depth(&x, OPTIMIZERS);
        ASSERT(depth >= 40);
        if (lay.rotate != 0)
            ASSERT(depth > 10 + 4 * HPT_SVG_CHAR_W * 0.7);
        hpt_svg_destroy(&s);
    }
}

// --- well-formed XML ----------------------------------------------------------------

/* A small check that doc is one well-formed element tree: tags balance,
 * attribute values are quoted, no raw '<' or '&' outside markup and
 * entities.  Returns NULL or what is wrong. */
static const char *xml_check(const char *doc)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    for (const char *p = doc; *p; p++) {
        if (*p == '&') {
            const char *semi = strchr(p, ';');
            if (!semi || semi - p > 8)
                return "a bare '&'";
            continue;
        }
        if (*p != '<')
            continue;
        bool closing = p[1] == '/';
        const char *q = p + 1 + closing;
        size_t nl = strcspn(q, " \t\n/>");
        if (nl == 0 || nl >= 32)
            return "a bad tag name";
        const char *end = q + nl;
        char quote = 0;
        for (; *end && (quote || *end != '>'); end++)
            if (*end == '"' || *end == '\'')
                quote = quote == *end ? 0 : quote ? quote : *end;
            else if (!quote && *end == '<')
                return "a '<' inside a tag";
        if (!*end)
            return "an unclosed tag";
        bool self = end[-1] == '/';
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], q, nl) != 0 ||
                stack[depth - 1][nl] != '\0')
                return "mismatched closing tag";
            depth--;
        } else if (!self) {
            if (depth == 0)
                roots++;
            if (depth == 64)
                return "too deep";
            memcpy(stack[depth], q, nl);
            stack[depth++][nl] = '\0';
        }
        p = end;
    }
    return depth ? "unclosed elements" : roots != 1 ? "not one root element" : NULL;
}

// --- plot sets ------------------------------------------------------------------------

/* A synthetic ResultsReply: n trials (every `fail`-th failed), parameters
 * lr (log-spread numbers), optimizer (8 names), epochs (always 4) and
 * momentum (only with sgd). */
typedef struct fake {
    Hpt__ResultsReply r;
    Hpt__SweepInfo s;
    Hpt__TrialResult *t, **tp;
    Hpt__Param *p, **pp;
    char (*txt)[32];
    char *names[4];
} fake_t;

static void fake_free(fake_t *f)
{
    free(f->t);
    free(f->tp);
    free(f->p);
    free(f->pp);
    free(f->txt);
}

static void fake_build(fake_t *f, size_t n, bool running)
{
    static char n0[] = "lr", n1[] = "optimizer", n2[] = "epochs", n3[] = "momentum";
    *f = (fake_t){.names = {n0, n1, n2, n3}};
    hpt__results_reply__init(&f->r);
    hpt__sweep_info__init(&f->s);
    f->s.id = 7;
    f->s.name = (char *)"fake";
    f->s.state = (char *)(running ? "running" : "done");
    f->s.metric = (char *)"accuracy";
    f->s.maximize = true;
    f->s.started_unix = 1e9;
    f->s.finished_unix = running ? 0 : 1e9 + (double)n + 10;
    f->t = calloc(n, sizeof *f->t);
    f->tp = calloc(n, sizeof *f->tp);
    f->p = calloc(n * 4, sizeof *f->p);
    f->pp = calloc(n * 4, sizeof *f->pp);
    f->txt = calloc(n * 4, sizeof *f->txt);
    ASSERT(f->t && f->tp && f->p && f->pp && f->txt);
    double best = -1;
    for (size_t i = 0; i < n; i++) {
        Hpt__TrialResult *t = &f->t[i];
        hpt__trial_result__init(t);
        t->trial = i + 1;
        t->state = (char *)(i % 97 == 5 ? "failed" : "done");
        double lr = pow(10, -4 + 3.0 * (double)((i * 7919) % 1000) / 1000);
        const char *opt = OPTIMIZERS[(i * 31) % 8];
        t->mean_test_score = i % 97 == 5 ? NAN : 0.5 + 0.4 * sin((double)i) * sin(lr * 10);
        t->std_test_score = 0.01;
        t->finished_unix = i % 97 == 5 ? NAN : 1e9 + (double)i;
        for (int k = 0; k < 4; k++) {
            Hpt__Param *p = &f->p[i * 4 + k];
            hpt__param__init(p);
            p->name = f->names[k];
            p->text = f->txt[i * 4 + k];
            f->pp[i * 4 + k] = p;
        }
        Hpt__Param *p = &f->p[i * 4];
        p[0].numeric = true;
        p[0].number = lr;
        snprintf(p[0].text, 32, "%.6g", lr);
        snprintf(p[1].text, 32, "%s", opt);
        p[2].numeric = true;
        p[2].number = 4;
        snprintf(p[2].text, 32, "4");
        if (strcmp(opt, "sgd") == 0) {
            p[3].numeric = true;
            p[3].number = (i / 8) % 2 ? 0.9 : 0.5;
            snprintf(p[3].text, 32, "%g", p[3].number);
        }
        t->n_params = 4;
        t->params = &f->pp[i * 4];
        f->tp[i] = t;
        if (isfinite(t->mean_test_score) && t->mean_test_score > best) {
            best = t->mean_test_score;
            f->s.best_trial = t->trial;
        }
    }
    f->r.sweep = &f->s;
    f->r.n_param_names = 4;
    f->r.param_names = f->names;
    f->r.n_trials = n;
    f->r.trials = f->tp;
}

HPT_TEST(plots_constant_parameter)
{
    fake_t f;
    fake_build(&f, 300, false);
    hpt_plots_t *ps = NULL;
    ASSERT_OK(hpt_plots_new(&ps, &f.r, 1e9 + 400, 0));
    /* lr, optimizer and momentum vary; epochs (always 4) gets no plot. */
    ASSERT_EQ(hpt_plots_count(ps), 5);
    ASSERT(hpt_plots_find(ps, "param-epochs") == NULL);
    ASSERT(hpt_plots_find(ps, "param-lr.svg") != NULL);
    ASSERT(hpt_plots_find(ps, "param-optimizer") != NULL);
    ASSERT(hpt_plots_find(ps, "best-so-far") != NULL);
    ASSERT(hpt_plots_find(ps, "parallel-coordinates") != NULL);
    ASSERT_EQ(hpt_plots_n_constants(ps), 1);
    ASSERT(strcmp(hpt_plots_constant(ps, 0)->name, "epochs") == 0);
    ASSERT(strcmp(hpt_plots_constant(ps, 0)->value, "4") == 0);
    ASSERT(strcmp(hpt_plots_note(ps), "Not plotted, one value in every trial: epochs = 4.") == 0);
    const hpt_plot_t *mom = hpt_plots_find(ps, "param-momentum");
    ASSERT(mom && mom->kind == HPT_PLOT_PARAM && strcmp(mom->param, "momentum") == 0);
    ASSERT_STR_CONTAINS(mom->caption, "without this parameter");
    /* Parallel coordinates: an axis per plotted parameter, none for epochs. */
    const hpt_plot_t *pc = hpt_plots_find(ps, "parallel-coordinates");
    ASSERT(strstr(pc->svg, ">epochs</text>") == NULL);
    ASSERT_STR_CONTAINS(pc->svg, ">optimizer</text>");
    for (size_t i = 0; i < hpt_plots_count(ps); i++) {
        const hpt_plot_t *pl = hpt_plots_get(ps, i);
        const char *bad = xml_check(pl->svg);
        if (bad)
            fprintf(stderr, "%s: %s\n", pl->name, bad);
        ASSERT(bad == NULL);
        ASSERT_EQ(strlen(pl->svg), pl->len);
        ASSERT(pl->drawn == pl->points || pl->kind == HPT_PLOT_PARALLEL);
        ASSERT(strstr(pl->caption, "Drawn:") == NULL);   // 300 trials: all drawn
    }
    hpt_plots_destroy(&ps);
    ASSERT(ps == NULL);

    /* One trial: nothing varies yet, so no parameter plot, and a note. */
    f.r.n_trials = 1;
    ASSERT_OK(hpt_plots_new(&ps, &f.r, 1e9 + 400, 0));
    ASSERT_EQ(hpt_plots_count(ps), 2);
    ASSERT_EQ(hpt_plots_n_constants(ps), 0);
    ASSERT_STR_CONTAINS(hpt_plots_note(ps), "only one trial");
    for (size_t i = 0; i < hpt_plots_count(ps); i++)
        ASSERT(xml_check(hpt_plots_get(ps, i)->svg) == NULL);
    hpt_plots_destroy(&ps);
    /* None: the same, and the empty plots say so. */
    f.r.n_trials = 0;
    ASSERT_OK(hpt_plots_new(&ps, &f.r, 1e9 + 400, 0));
    ASSERT_EQ(hpt_plots_count(ps), 2);
    ASSERT_STR_CONTAINS(hpt_plots_get(ps, 0)->svg, "no finished trials yet");
    hpt_plots_destroy(&ps);
    /* When the reply says which parameters the spec fixes, that decides,
     * trials or not: here epochs and (wrongly, to tell the rules apart)
     * momentum. */
    protobuf_c_boolean fixed[4] = {0, 0, 1, 1};
    f.r.n_param_fixed = 4;
    f.r.param_fixed = fixed;
    ASSERT_OK(hpt_plots_new(&ps, &f.r, 1e9 + 400, 0));
    ASSERT_EQ(hpt_plots_count(ps), 4);   // lr, optimizer, best-so-far, parallel
    ASSERT_STR_CONTAINS(hpt_plots_get(ps, 0)->svg, "no finished trials yet");
    ASSERT(strcmp(hpt_plots_note(ps), "Not plotted, one value in every trial: epochs, "
                                      "momentum.") == 0);
    hpt_plots_destroy(&ps);
    f.r.n_trials = 300;
    ASSERT_OK(hpt_plots_new(&ps, &f.r, 1e9 + 400, 0));
    ASSERT(hpt_plots_find(ps, "param-momentum") == NULL);
    ASSERT_STR_CONTAINS(hpt_plots_note(ps), "epochs = 4, momentum = 0.5.");
    hpt_plots_destroy(&ps);
    hpt_plots_destroy(&ps);   // NULL is fine
    fake_free(&f);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

HPT_TEST(plots_200k_trials)
{
    fake_t f;
    fake_build(&f, 200000, true);
    double t0 = mono_s();
    hpt_plots_t *ps = NULL;
    ASSERT_OK(hpt_plots_new(&ps, &f.r, 1e9 + 250000, 0));
    double took = mono_s() - t0;
    fprintf(stderr, "200000 trials: %zu plots in %.3f s\n", hpt_plots_count(ps), took);
    /* The coordinator renders on its loop thread: far below a second
     * (sanitizer builds are several times slower, hence the margin). */
    ASSERT(took < 2.0);
    ASSERT_EQ(hpt_plots_count(ps), 5);
    for (size_t i = 0; i < hpt_plots_count(ps); i++) {
        const hpt_plot_t *pl = hpt_plots_get(ps, i);
        ASSERT(pl->points > HPT_PLOTS_MAX_POINTS);
        ASSERT(pl->drawn <= HPT_PLOTS_MAX_POINTS + 1);   // the best is always drawn
        ASSERT(pl->drawn >= HPT_PLOTS_MAX_POINTS / 2);
        ASSERT_STR_CONTAINS(pl->caption, "Drawn: ");
        ASSERT(pl->len < 1500000);
        ASSERT(xml_check(pl->svg) == NULL);
    }
    /* Deterministic: the same reply gives the same documents. */
    hpt_plots_t *again = NULL;
    ASSERT_OK(hpt_plots_new(&again, &f.r, 1e9 + 250000, 0));
    for (size_t i = 0; i < hpt_plots_count(ps); i++)
        ASSERT(strcmp(hpt_plots_get(ps, i)->svg, hpt_plots_get(again, i)->svg) == 0);
    hpt_plots_destroy(&again);
    hpt_plots_destroy(&ps);
    /* A cap of 100 marks. */
    ASSERT_OK(hpt_plots_new(&ps, &f.r, 1e9 + 250000, 100));
    ASSERT(hpt_plots_find(ps, "param-lr")->drawn <= 101);
    ASSERT_STR_CONTAINS(hpt_plots_find(ps, "best-so-far")->caption, "Drawn: ");
    hpt_plots_destroy(&ps);
    fake_free(&f);
}

HPT_TEST_MAIN()
