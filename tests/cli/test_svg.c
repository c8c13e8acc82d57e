/*
 * test_svg.c: unit tests of coordinator/cli/svg.c, the plotting module of
 * `hptune report`: nice steps, linear/log/categorical scales and their
 * ticks and labels, the log-axis rule, mapping to pixels, escaping, colours
 * and the well-formedness of a small document.
 */
#include <math.h>
#include <string.h>

#include "hpt_test.h"
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

HPT_TEST_MAIN()
