/*
 * cli_format.c: output and flag helpers of the hptune client commands; see
 * cli_format.h.
 */
#include "cli_format.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"

// --- flags --------------------------------------------------------------------

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hptune %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see hptune %s --help)\n", cmd);
    va_end(ap);
    return HPT_EXIT_USAGE;
}

int cli_parse_sweep(const char *cmd, const char *what, const char *s, uint64_t *out)
{
    const char *p = s[0] == '#' ? s + 1 : s;
    char *end;
    errno = 0;
    unsigned long long v = (*p >= '0' && *p <= '9') ? strtoull(p, &end, 10) : 0;
    if (*p < '0' || *p > '9' || errno || *end != '\0' || v == 0)
        return cli_usage_error(cmd, "%s: '%s' is not a sweep id (a positive integer, as "
                                    "printed by hptune launch)", what, s);
    *out = v;
    return 0;
}

int cli_only_sweep(const char *cmd, int argc, char **argv, int first, uint64_t *out)
{
    if (first >= argc)
        return cli_usage_error(cmd, "missing SWEEP (the id printed by hptune launch)");
    if (cli_parse_sweep(cmd, "SWEEP", argv[first], out))
        return HPT_EXIT_USAGE;
    if (first + 1 < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[first + 1]);
    return 0;
}

int cli_parse_long(const char *cmd, const char *flag, const char *s, long lo, long hi,
                   long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return cli_usage_error(cmd, "%s: '%s' is not an integer (allowed %ld..%ld)", flag, s,
                               lo, hi);
    if (v < lo || v > hi)
        return cli_usage_error(cmd, "%s: %ld is out of range (allowed %ld..%ld)", flag, v, lo,
                               hi);
    *out = v;
    return 0;
}

int cli_parse_seconds(const char *cmd, const char *flag, const char *s, double lo, double hi,
                      double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v))
        return cli_usage_error(cmd, "%s: '%s' is not a number of seconds (allowed (%g, %g])",
                               flag, s, lo, hi);
    if (v <= lo || v > hi)
        return cli_usage_error(cmd, "%s: %g is out of range (allowed (%g, %g])", flag, v, lo,
                               hi);
    *out = v;
    return 0;
}

// --- numbers and durations ----------------------------------------------------

const char *cli_fmt_duration(double s, char *buf, size_t len)
{
    if (!(s >= 0)) // also NaN
        snprintf(buf, len, "-");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else if (s < 1e9)
        snprintf(buf, len, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
    else
        snprintf(buf, len, "-");
    return buf;
}

const char *cli_fmt_score(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.4f", v);
    return buf;
}

const char *cli_fmt_mean_std(double mean, double std, char *buf, size_t len)
{
    if (isnan(mean))
        snprintf(buf, len, "-");
    else if (isnan(std))
        snprintf(buf, len, "%.4f", mean);
    else
        snprintf(buf, len, "%.4f \u00b1 %.4f", mean, std);
    return buf;
}

const char *cli_fmt_exact(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "%s", "");
        return buf;
    }
    if (isinf(v)) {
        snprintf(buf, len, "%s", v > 0 ? "inf" : "-inf");
        return buf;
    }
    /* %.17g always round-trips; a shorter form is preferred when it does
     * too, so 0.1 prints as 0.1 rather than 0.10000000000000001. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

const char *cli_fmt_time(double unix_s, char *buf, size_t len)
{
    if (!(unix_s > 0)) {
        snprintf(buf, len, "-");
        return buf;
    }
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, len, "%.0f", unix_s);
    return buf;
}

size_t cli_text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80; // count lead bytes, not continuations
    return n;
}

// --- aligned text tables -------------------------------------------------------

struct cli_table {
    int ncols;
    const char *const *headers;  // borrowed
    bool right[64];              // per column: right-aligned
    char **cells;                // row-major, owned
    size_t n_cells, cap_cells;
};

int cli_table_new(cli_table_t **out, int ncols, const char *const *headers)
{
    *out = NULL;
    if (ncols < 1 || ncols > 64)
        return -EINVAL;
    cli_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->ncols = ncols;
    t->headers = headers;
    *out = t;
    return 0;
}

void cli_table_destroy(cli_table_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->n_cells; i++)
        free((*p)->cells[i]);
    free((*p)->cells);
    free(*p);
    *p = NULL;
}

void cli_table_right(cli_table_t *t, int col)
{
    if (col >= 0 && col < t->ncols)
        t->right[col] = true;
}

int cli_table_cell(cli_table_t *t, const char *fmt, ...)
{
    if (t->n_cells == t->cap_cells) {
        size_t cap = t->cap_cells ? t->cap_cells * 2 : 64;
        char **c = realloc(t->cells, cap * sizeof *c);
        if (!c)
            return -ENOMEM;
        t->cells = c;
        t->cap_cells = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    if (!s)
        return -ENOMEM;
    t->cells[t->n_cells++] = s;
    return 0;
}

static void print_row(const cli_table_t *t, FILE *f, const char *const *row, size_t ncells,
                      const size_t *w)
{
    /* The last cell is not padded, so lines carry no trailing blanks. */
    size_t last = ncells;
    while (last > 0 && !t->right[last - 1] && row[last - 1][0] == '\0')
        last--;
    for (size_t c = 0; c < last; c++) {
        size_t tw = cli_text_width(row[c]);
        size_t pad = w[c] > tw ? w[c] - tw : 0;
        if (c)
            fputs("  ", f);
        if (t->right[c])
            fprintf(f, "%*s", (int)pad, "");
        fputs(row[c], f);
        if (!t->right[c] && c + 1 < last)
            fprintf(f, "%*s", (int)pad, "");
    }
    fputc('\n', f);
}

void cli_table_print(const cli_table_t *t, FILE *f)
{
    size_t w[64] = {0};
    size_t nc = (size_t)t->ncols;
    for (size_t c = 0; c < nc; c++)
        w[c] = cli_text_width(t->headers[c]);
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t tw = cli_text_width(t->cells[i]);
        if (tw > w[i % nc])
            w[i % nc] = tw;
    }
    print_row(t, f, t->headers, nc, w);
    for (size_t r = 0; r * nc < t->n_cells; r++) {
        size_t n = t->n_cells - r * nc < nc ? t->n_cells - r * nc : nc;
        print_row(t, f, (const char *const *)&t->cells[r * nc], n, w);
    }
}

// --- CSV -----------------------------------------------------------------------

void cli_csv_str(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void cli_csv_num(FILE *f, double v)
{
    char b[40];
    fputs(cli_fmt_exact(v, b, sizeof b), f);
}

// --- logfmt -------------------------------------------------------------------

bool cli_logfmt_next(const char **p, const char **key, size_t *key_len, char *val, size_t vlen)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    if (!*s)
        return false;
    const char *k = s;
    while (*s && *s != '=' && *s != ' ')
        s++;
    *key = k;
    *key_len = (size_t)(s - k);
    size_t o = 0;
    if (*s == '=' && s[1] == '"') {
        /* Quoted: up to the first quote that is not escaped.  An unclosed
         * quote (a cut line) runs to the end rather than failing. */
        for (s += 2; *s && *s != '"'; s++) {
            char c = *s;
            if (c == '\\' && s[1])
                c = *++s == 'n' ? '\n' : *s;
            if (o + 1 < vlen)
                val[o++] = c;
        }
        if (*s == '"')
            s++;
    } else if (*s == '=') {
        for (s++; *s && *s != ' '; s++)   // bare: '=' inside is part of the value
            if (o + 1 < vlen)
                val[o++] = *s;
    }
    if (vlen)
        val[o] = '\0';
    *p = s;
    return true;
}

int cli_logfmt_json(FILE *f, const char *fields)
{
    if (!fields)
        fields = "";
    /* A value is never longer than the string, and there are at most
     * len / 2 + 1 pairs (each takes a key byte and a separator). */
    size_t len = strlen(fields);
    char *val = malloc(len + 1), *key = malloc(len + 1);
    const char **seen = malloc((len / 2 + 1) * sizeof *seen);
    size_t *seen_len = malloc((len / 2 + 1) * sizeof *seen_len);
    int rc = 0;
    if (!val || !key || !seen || !seen_len) {
        rc = -ENOMEM;
        goto out;
    }
    fputc('{', f);
    size_t n = 0;
    const char *p = fields, *k;
    size_t kl;
    while (cli_logfmt_next(&p, &k, &kl, val, len + 1)) {
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = seen_len[i] == kl && memcmp(seen[i], k, kl) == 0;
        if (dup)
            continue;
        seen[n] = k;
        seen_len[n] = kl;
        memcpy(key, k, kl);
        key[kl] = '\0';
        if (n++)
            fputc(',', f);
        hpt_json_str(f, key);
        fputc(':', f);
        hpt_json_str(f, val);
    }
    fputc('}', f);
out:
    free(val);
    free(key);
    free(seen);
    free(seen_len);
    return rc;
}

// --- terminal -------------------------------------------------------------------

const char *cli_fmt_bar(double frac, int width, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    if (!(frac >= 0))
        frac = 0;
    if (frac > 1)
        frac = 1;
    if ((size_t)width >= len)
        width = (int)len - 1;
    int filled = (int)(frac * width);
    for (int i = 0; i < width; i++)
        buf[i] = i < filled ? '#' : '.';
    buf[width] = '\0';
    return buf;
}

int cli_term_width(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
        return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    long n = cols ? strtol(cols, NULL, 10) : 0;
    return n > 10 && n < 10000 ? (int)n : 80;
}

const char *cli_fit(const char *s, int cols, char *buf, size_t len)
{
    size_t o = 0;
    int w = 0;
    for (; *s && o + 1 < len; s++) {
        bool lead = ((unsigned char)*s & 0xC0) != 0x80;
        if (lead && ++w > cols)
            break;
        buf[o++] = *s;
    }
    /* Do not leave half a UTF-8 sequence behind when buf filled up. */
    while (o > 0 && *s && ((unsigned char)*s & 0xC0) == 0x80 &&
           ((unsigned char)buf[o - 1] & 0x80)) {
        bool lead = ((unsigned char)buf[o - 1] & 0xC0) == 0xC0;
        o--;
        if (lead)
            break;
    }
    buf[o] = '\0';
    return buf;
}
