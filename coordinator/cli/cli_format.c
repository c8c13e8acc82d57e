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
#include "text.h"

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

/* The value of hex digit c, or -1. */
static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

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
            if (c == '\\' && s[1]) {
                c = *++s;
                if (c == 'n')
                    c = '\n';
                else if (c == 'r')
                    c = '\r';
                else if (c == 't')
                    c = '\t';
                else if (c == 'x' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                    c = (char)(hexval(s[1]) << 4 | hexval(s[2]));
                    s += 2;
                } else if (c == 'u' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0 &&
                           hexval(s[3]) >= 0 && hexval(s[4]) >= 0) {
                    /* \u0080..\u009f (C1), as UTF-8. */
                    unsigned cp = (unsigned)(hexval(s[1]) << 12 | hexval(s[2]) << 8 |
                                             hexval(s[3]) << 4 | hexval(s[4]));
                    s += 4;
                    if (cp >= 0x80 && cp < 0x800) {
                        if (o + 1 < vlen)
                            val[o++] = (char)(0xC0 | cp >> 6);
                        c = (char)(0x80 | (cp & 0x3F));
                    } else {
                        c = cp < 0x80 ? (char)cp : '?';
                    }
                }
            }
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

// --- peer strings -----------------------------------------------------------------

/* *slot (a string of an unpacked message, owned by it) replaced by its
 * visible escape when it is not plain text.  The message was unpacked with
 * protobuf-c's default allocator (malloc), and free_unpacked frees a string
 * field unless it is the field's default, so the swap keeps ownership
 * right. */
static int sanitize_str(char **slot)
{
    if (!*slot || !hpt_text_needs_escape(*slot, 0))
        return 0;
    size_t n = hpt_text_escape(*slot, 0, NULL, 0);
    char *e = malloc(n + 1);
    if (!e)
        return -ENOMEM;
    hpt_text_escape(*slot, 0, e, n + 1);
    free(*slot);
    *slot = e;
    return 0;
}

int cli_sanitize(ProtobufCMessage *m)
{
    if (!m)
        return 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int rc = 0;
    for (unsigned i = 0; i < d->n_fields && rc == 0; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *base = (char *)m;
        /* Only the member of a oneof that is set may be read: the others
         * share its storage. */
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            void **arr = *(void ***)(base + f->offset);
            for (size_t k = 0; k < n && arr && rc == 0; k++)
                rc = f->type == PROTOBUF_C_TYPE_STRING ? sanitize_str((char **)&arr[k])
                                                       : cli_sanitize(arr[k]);
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            rc = sanitize_str((char **)(base + f->offset));
        } else {
            rc = cli_sanitize(*(ProtobufCMessage **)(base + f->offset));
        }
    }
    return rc;
}

const char *cli_esc(const char *s, char *buf, size_t len)
{
    hpt_text_escape(s ? s : "", 0, buf, len);
    return buf;
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
