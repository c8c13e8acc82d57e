/*
 * coord_spec.c: sweep specifications, from YAML text to a coord_spec_t.
 *
 * Two stages.  First libfyaml's event parser turns the text into a small
 * tree of ynode_t (mapping, sequence, scalar, alias), each carrying the
 * 1-based line:column where it starts.  libfyaml 0.7.12, the version Debian 12
 * ships, has no public way to ask a document node for its position
 * (fy_node_get_start_mark arrived later), but every event carries a start
 * mark, so we build the tree ourselves from events.  Syntax errors come back
 * through a diag object that collects instead of printing.
 *
 * Second, the tree is checked key by key.  Every problem is reported, not
 * only the first, as "path:line:col: field: problem", with the allowed
 * values when there is a list and a suggestion for a near miss; a check
 * that reads a part already in error is skipped (pstate_t), so each
 * problem is reported once.  W&B's own keys and defaults are read by
 * coord_spec_wandb.c, names through coord_aliases.c's table.  Nothing here
 * trusts the input:
 * scalars may hold NULs (from "\0" escapes), keys may be mappings, a value
 * may be missing, and any node may be an alias (aliases are refused, which
 * also rules out "billion laughs" expansion).
 *
 * Invariants of a parsed spec: every parameter value is within its
 * hyperparameter's range, distributions are consistent with the parameter's
 * kind, a grid or coordinate spec has only enumerable parameters, a grid
 * has at most COORD_SPEC_MAX_GRID combinations (conditions counted), a
 * random, bayes or asha spec has max_trials > 0, an asha or hyperband spec
 * has at least 2 rungs and its last parameter is the `epochs` the parser
 * appends (spec->resource_param; -1 for the other methods), every when:
 * condition reads a parameter listed earlier (so conditions are acyclic and
 * decidable in spec order) and can hold, every start: is a value its form
 * can produce, and every enqueue row has a valid value for each active
 * parameter and `absent` for each inactive one (and, with asha or
 * hyperband, the first rung's epochs).  A numeric distribution's draws all
 * lie in [min, max] (for the normals, the parameter's range) and, when q >
 * 0, on q's lattice; an ARCH parameter's values index its arch rows.
 */
#include "coord_spec.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_aliases.h"
#include "coord_spec_int.h"
#include "dataset.h"
#include "text.h"
#include "train.h"

// ----------------------------------------------------------------------------
// YAML tree built from libfyaml events (its types: coord_spec_int.h)

/* printf into a new string (owned by the caller), never truncated; NULL when
 * out of memory. */
static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vformat(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat(fmt, ap);
    va_end(ap);
    return s;
}

/* Append a diagnostic whose text is `msg` (taken over; NULL means out of
 * memory).  Errors beyond COORD_SPEC_KEEP_ERRORS are counted, not kept. */
static int add_diag(const pctx_t *c, coord_diag_level_t level, int line, int col, char *msg)
{
    coord_diags_t *d = c->diags;
    if (!msg) {
        d->oom = true;
        return -ENOMEM;
    }
    /* A diagnostic is one line: a control character that reached the text
     * (from a key or value quoted with escapes) shows as '?'. */
    for (char *q = msg; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7F)
            *q = '?';
    if (level == COORD_DIAG_ERROR)
        d->n_errors++;
    else if (level == COORD_DIAG_WARNING)
        d->n_warnings++;
    else
        d->n_notes++;
    if (level == COORD_DIAG_ERROR && d->n_errors > COORD_SPEC_KEEP_ERRORS) {
        free(msg);
        return 0;
    }
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 16;
        coord_diag_t *v = realloc(d->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(msg);
            d->oom = true;
            return -ENOMEM;
        }
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = (coord_diag_t){.level = level, .line = line, .col = col, .text = msg};
    return 0;
}

/* Report an error at line:col as "path:line:col: field: problem" and return
 * -EINVAL (-ENOMEM when even that fails).  The message is never cut. */
static int fail(const pctx_t *c, int line, int col, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(const pctx_t *c, int line, int col, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    char *text = msg ? format("%s:%d:%d: %s: %s", c->path, line, col, field, msg) : NULL;
    free(msg);
    int rc = add_diag(c, COORD_DIAG_ERROR, line, col, text);
    return rc < 0 ? rc : -EINVAL;
}

/* A warning: "path:line:col: warning: field: problem"; returns 0 (or
 * -ENOMEM).  Warnings never make a spec invalid. */
static int warn(const pctx_t *c, int line, int col, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int warn(const pctx_t *c, int line, int col, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    char *text = msg ? format("%s:%d:%d: warning: %s: %s", c->path, line, col, field, msg)
                     : NULL;
    free(msg);
    return add_diag(c, COORD_DIAG_WARNING, line, col, text);
}

/* A note: how something was read ("path:line:col: note: field: remark");
 * returns 0 (or -ENOMEM). */
static int note(const pctx_t *c, int line, int col, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int note(const pctx_t *c, int line, int col, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    char *text = msg ? format("%s:%d:%d: note: %s: %s", c->path, line, col, field, msg) : NULL;
    free(msg);
    return add_diag(c, COORD_DIAG_NOTE, line, col, text);
}

/* Out of memory: recorded in the diagnostics, and -ENOMEM to return. */
static int oom(const pctx_t *c)
{
    c->diags->oom = true;
    return -ENOMEM;
}

/* fail() / warn() at a node (at the top-level mapping, or 1:1, when n is NULL). */
#define NODE_LINE(c, n) ((n) ? (n)->line : ((c)->top ? (c)->top->line : 1))
#define NODE_COL(c, n) ((n) ? (n)->col : ((c)->top ? (c)->top->col : 1))
#define FAIL_AT(c, n, field, ...) fail((c), NODE_LINE(c, n), NODE_COL(c, n), (field), __VA_ARGS__)
#define WARN_AT(c, n, field, ...) warn((c), NODE_LINE(c, n), NODE_COL(c, n), (field), __VA_ARGS__)
#define NOTE_AT(c, n, field, ...) note((c), NODE_LINE(c, n), NODE_COL(c, n), (field), __VA_ARGS__)

static void ytree_free(ytree_t *t)
{
    ynode_t *n = t->all;
    while (n) {
        ynode_t *next = n->next_alloc;
        free(n->text);
        free(n->kids);
        free(n);
        n = next;
    }
    t->all = t->root = NULL;
}

static ynode_t *ynew(ytree_t *t, ytype_t type, int line, int col)
{
    ynode_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    *n = (ynode_t){.type = type, .line = line, .col = col, .next_alloc = t->all};
    t->all = n;
    return n;
}

static int yadd(ynode_t *parent, ynode_t *kid)
{
    if (parent->n == parent->cap) {
        int cap = parent->cap ? parent->cap * 2 : 8;
        ynode_t **k = realloc(parent->kids, (size_t)cap * sizeof *k);
        if (!k)
            return -ENOMEM;
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

/* libfyaml prints nothing: errors are collected and read back. */
static void diag_sink(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

/* Check that text is YAML's character set: well-formed UTF-8 of printable
 * characters (tab, LF, CR, U+0020..U+007E, U+0085, U+00A0..U+D7FF,
 * U+E000..U+FFFD, U+10000..U+10FFFF).  YAML requires it, and libfyaml 0.7.12
 * can loop forever on malformed UTF-8 (in a % directive, for one), so
 * nothing else reaches it. */
static int check_chars(const pctx_t *c, const unsigned char *s, size_t len)
{
    int line = 1, col = 1, open = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char b = s[i];
        uint32_t cp;
        size_t n;
        if (b < 0x80) {
            cp = b;
            n = 1;
        } else if (b >= 0xC2 && b <= 0xDF) {
            cp = b & 0x1Fu;
            n = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            cp = b & 0x0Fu;
            n = 3;
        } else if (b >= 0xF0 && b <= 0xF4) {
            cp = b & 0x07u;
            n = 4;
        } else {
            return fail(c, line, col, "yaml", "invalid UTF-8 (byte 0x%02x)", b);
        }
        if (n > len - i)
            return fail(c, line, col, "yaml", "invalid UTF-8 (truncated character)");
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return fail(c, line, col, "yaml", "invalid UTF-8 (byte 0x%02x)", s[i + k]);
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        /* Overlong forms and values past U+10FFFF. */
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF)
            return fail(c, line, col, "yaml", "invalid UTF-8 (byte 0x%02x)", b);
        bool printable = cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) ||
                         cp == 0x85 || (cp >= 0xA0 && cp <= 0xD7FF) ||
                         (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000;
        if (!printable)
            return fail(c, line, col, "yaml", "character U+%04X is not allowed in YAML",
                        (unsigned)cp);
        /* Flow brackets, counted roughly (quotes and comments included):
         * libfyaml reads a whole run of "[" before its first event, about
         * 0.5 s a megabyte on the loop, so a hostile nest is refused here;
         * the parser's own limit (COORD_SPEC_MAX_DEPTH) is the exact one. */
        if (cp == '[' || cp == '{') {
            if (++open > 4 * COORD_SPEC_MAX_DEPTH)
                return fail(c, line, col, "yaml", "nested more than %d levels deep",
                            COORD_SPEC_MAX_DEPTH);
        } else if ((cp == ']' || cp == '}') && open > 0) {
            open--;
        }
        if (cp == 0x0A) {
            line++;
            col = 1;
        } else {
            col++;
        }
        i += n;
    }
    return 0;
}


/* The text of a single-quoted scalar between marks a and b of the input:
 * '' is one quote.  Multi-line single-quoted scalars (with YAML's line
 * folding) are refused with a hint to use double quotes.  *out is owned. */
static int single_quoted(const pctx_t *c, const char *text, size_t len, const struct fy_mark *a,
                         const struct fy_mark *b, int line, int col, char **out, size_t *olen)
{
    *out = NULL;
    *olen = 0;
    /* The token's marks span the content between the quotes. */
    if (!a || !b || b->input_pos > len || a->input_pos > b->input_pos)
        return fail(c, line, col, "yaml", "cannot read a single-quoted scalar");
    size_t from = a->input_pos, to = b->input_pos;
    char *o = malloc(to - from + 1);
    if (!o)
        return oom(c);
    size_t k = 0;
    for (size_t i = from; i < to; i++) {
        if (text[i] == '\n' || text[i] == '\r') {
            free(o);
            return fail(c, line, col, "yaml",
                        "multi-line single-quoted scalars are not supported; use double quotes");
        }
        o[k++] = text[i];
        if (text[i] == '\'' && i + 1 < to && text[i + 1] == '\'')
            i++;
    }
    o[k] = '\0';
    *out = o;
    *olen = k;
    return 0;
}

static int ytree_build(const pctx_t *c, const char *text, size_t len, ytree_t *t)
{
    int crc = check_chars(c, (const unsigned char *)text, len);
    if (crc)
        return crc;

    int rc = 0;
    struct fy_parser *p = NULL;
    ynode_t **stack = NULL;  // open mappings and sequences, innermost last
    int depth = 0, stack_cap = 0;

    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_sink;
    dcfg.user = NULL;
    dcfg.level = FYET_ERROR;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag)
        return oom(c);
    fy_diag_set_collect_errors(diag, true);

    struct fy_parse_cfg pcfg = {.flags = FYPCF_QUIET, .diag = diag};
    p = fy_parser_create(&pcfg);
    if (!p || fy_parser_set_string(p, len ? text : "", len) != 0) {
        rc = oom(c);
        goto out;
    }

    /* Empty scalars have no mark; they take the last position seen, which is
     * their key's. */
    int line = 1, col = 1, docs = 0;
    struct fy_event *ev;
    while (rc == 0 && (ev = fy_parser_parse(p)) != NULL) {
        const struct fy_mark *m = fy_event_start_mark(ev);
        if (m) {
            line = m->line + 1;
            col = m->column + 1;
        }
        ynode_t *n = NULL;
        switch (ev->type) {
        case FYET_DOCUMENT_START:
            if (++docs > 1)
                rc = fail(c, line, col, "yaml", "only one document is allowed");
            break;
        case FYET_MAPPING_START:
        case FYET_SEQUENCE_START:
            n = ynew(t, ev->type == FYET_MAPPING_START ? Y_MAP : Y_SEQ, line, col);
            break;
        case FYET_SCALAR:
        case FYET_ALIAS: {
            bool scalar = ev->type == FYET_SCALAR;
            struct fy_token *tok = scalar ? ev->scalar.value : ev->alias.anchor;
            size_t tlen = 0;
            enum fy_scalar_style st = scalar && tok ? fy_token_scalar_style(tok) : FYSS_PLAIN;
            const char *s = NULL;
            char *unq = NULL;
            if (st == FYSS_SINGLE_QUOTED) {
                /* libfyaml 0.7.12 leaks the buffer it unescapes a
                 * single-quoted scalar's '' into (fuzzing found it), so read
                 * those from the input ourselves. */
                const struct fy_mark *a = fy_token_start_mark(tok), *b = fy_token_end_mark(tok);
                rc = single_quoted(c, text, len, a, b, line, col, &unq, &tlen);
                if (rc < 0)
                    break;
                s = unq;
            } else if (tok) {
                s = fy_token_get_text(tok, &tlen);
            }
            n = ynew(t, scalar ? Y_SCALAR : Y_ALIAS, line, col);
            if (!n) {
                free(unq);
                break;
            }
            n->quoted = st != FYSS_PLAIN;
            /* libfyaml marks a quoted scalar at its first character inside
             * the quotes; point at the opening quote instead. */
            if ((st == FYSS_SINGLE_QUOTED || st == FYSS_DOUBLE_QUOTED) && n->col > 1)
                n->col--;
            n->text = malloc(tlen + 1);
            if (!n->text) {
                free(unq);
                n = NULL;
                break;
            }
            if (tlen)
                memcpy(n->text, s, tlen);
            n->text[tlen] = '\0';
            n->len = tlen;
            free(unq);
            break;
        }
        case FYET_MAPPING_END:
        case FYET_SEQUENCE_END:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        bool opens = ev->type == FYET_MAPPING_START || ev->type == FYET_SEQUENCE_START;
        bool makes = opens || ev->type == FYET_SCALAR || ev->type == FYET_ALIAS;
        fy_parser_event_free(p, ev);
        if (rc || !makes)
            continue;
        if (!n) {
            rc = oom(c);
            break;
        }
        if (depth > 0)
            rc = yadd(stack[depth - 1], n);
        else if (!t->root)
            t->root = n;
        if (rc == 0 && opens && depth >= COORD_SPEC_MAX_DEPTH) {
            /* A real spec nests 4-6 levels.  Stopping here also keeps a
             * hostile one (a megabyte of "[") from holding the loop while
             * libfyaml reads on: refused after the first 32 events. */
            rc = fail(c, line, col, "yaml", "nested more than %d levels deep",
                      COORD_SPEC_MAX_DEPTH);
            break;
        }
        if (rc == 0 && opens) {
            if (depth == stack_cap) {
                int cap = stack_cap ? stack_cap * 2 : 16;
                ynode_t **s2 = realloc(stack, (size_t)cap * sizeof *s2);
                if (!s2) {
                    rc = -ENOMEM;
                } else {
                    stack = s2;
                    stack_cap = cap;
                }
            }
            if (rc == 0)
                stack[depth++] = n;
        }
        if (rc == -ENOMEM)
            rc = oom(c);
    }

    if (rc == 0 && fy_parser_get_stream_error(p)) {
        /* Report libfyaml's first error with its position (already 1-based). */
        void *it = NULL;
        struct fy_diag_error *de = fy_diag_errors_iterate(diag, &it);
        if (de && de->msg)
            rc = fail(c, de->line > 0 ? de->line : 1, de->column > 0 ? de->column : 1, "yaml",
                      "%s", de->msg);
        else
            rc = fail(c, line, col, "yaml", "syntax error");
    }

out:
    free(stack);
    if (p)
        fy_parser_destroy(p);
    fy_diag_destroy(diag);
    return rc;
}

// ----------------------------------------------------------------------------
// Scalars

static bool is_null(const ynode_t *n)
{
    if (!n)
        return true;
    if (n->type != Y_SCALAR || n->quoted)
        return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

/* Copy at most 40 bytes of s for a message, replacing control characters
 * (a message is one line) and cutting on a UTF-8 character boundary. */
static const char *shown(const char *s, size_t len, char *buf, size_t size)
{
    size_t max = size - 4, n = len < max ? len : max;
    if (n < len)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[i] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
    }
    if (n < len)
        memcpy(buf + n, "...", 4);
    else
        buf[n] = '\0';
    return buf;
}

/* What a node is, for "expected X, got Y".  A scalar is shown the same way
 * whether it was quoted or not: 'text'. */
static const char *describe(const ynode_t *n, char *buf, size_t size)
{
    char s[72];
    if (is_null(n))
        return "null";
    switch (n->type) {
    case Y_MAP:
        return "a mapping";
    case Y_SEQ:
        return "a sequence";
    case Y_ALIAS:
        return "an alias (aliases are not supported)";
    case Y_SCALAR:
        break;
    }
    shown(n->text, n->len, s, sizeof s);
    snprintf(buf, size, "'%s'", s);
    return buf;
}

#define SHOWN(n, buf) shown((n)->text, (n)->len, (buf), sizeof(buf))

/* A string: any scalar style, not null, no NUL bytes, at most max bytes, and
 * plain text: a double-quoted scalar's escapes ("\e", "\x1b", "\n") must not
 * put a control character into a sweep's or dataset's name, which logs,
 * `hptune status` and the dashboard show. */
static int get_str(const pctx_t *c, const ynode_t *n, const char *field, size_t max,
                   const char **out)
{
    char d[96];
    if (is_null(n) || n->type != Y_SCALAR)
        return FAIL_AT(c, n, field, "expected a string, got %s", describe(n, d, sizeof d));
    if (memchr(n->text, '\0', n->len))
        return FAIL_AT(c, n, field, "must not contain a NUL character");
    if (n->len > max)
        return FAIL_AT(c, n, field, "longer than %zu characters", max);
    hpt_err te = {0};
    if (hpt_text_check(n->text, &te) < 0)
        return FAIL_AT(c, n, field, "%s (control characters are not allowed)", te.msg);
    *out = n->text;
    return 0;
}

/* Syntax of YAML 1.2 core-schema decimal integers and floats.  The checks are
 * ours so that strtod/strtoll never see hex, "inf", "nan" or trailing text. */
static bool int_syntax(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9')
        s++;
    return *s == '\0';
}

static bool float_syntax(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    int digits = 0;
    while (*s >= '0' && *s <= '9')
        s++, digits++;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9')
            s++, digits++;
    }
    if (!digits)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* A scalar that may hold a number or a bool.  Quoted text counts too: W&B
 * configs write "64" and their scripts convert it, so "64" is 64 wherever a
 * number is expected (and "true" a bool); a quoted "null" is not null. */
static bool plain_scalar(const ynode_t *n)
{
    return n && n->type == Y_SCALAR && (n->quoted || !is_null(n)) &&
           !memchr(n->text, '\0', n->len);
}

/* An integer in [lo, hi]; range_fmt says how the range is shown. */
static int get_int(const pctx_t *c, const ynode_t *n, const char *field, long long lo,
                   long long hi, long long *out)
{
    char d[96], s[48];
    if (!plain_scalar(n) || !int_syntax(n->text))
        return FAIL_AT(c, n, field, "expected an integer, got %s", describe(n, d, sizeof d));
    errno = 0;
    long long v = strtoll(n->text, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi)
        return FAIL_AT(c, n, field, "%s is out of range (%lld..%lld)", SHOWN(n, s), lo, hi);
    *out = v;
    return 0;
}

/* An unsigned 64-bit integer (seeds). */
static int get_u64(const pctx_t *c, const ynode_t *n, const char *field, uint64_t *out)
{
    char d[96], s[48];
    if (!plain_scalar(n) || !int_syntax(n->text))
        return FAIL_AT(c, n, field, "expected an integer, got %s", describe(n, d, sizeof d));
    errno = 0;
    unsigned long long v = strtoull(n->text, NULL, 10);
    if (n->text[0] == '-' || errno == ERANGE)
        return FAIL_AT(c, n, field, "%s is out of range (0..%llu)", SHOWN(n, s),
                       (unsigned long long)UINT64_MAX);
    *out = (uint64_t)v;
    return 0;
}

/* A finite number (an integer is a number too). */
static int get_num(const pctx_t *c, const ynode_t *n, const char *field, double *out)
{
    char d[96], s[48];
    if (!plain_scalar(n) || !float_syntax(n->text))
        return FAIL_AT(c, n, field, "expected a number, got %s", describe(n, d, sizeof d));
    double v = strtod(n->text, NULL);
    if (!isfinite(v))
        return FAIL_AT(c, n, field, "%s is out of range", SHOWN(n, s));
    *out = v;
    return 0;
}

static int get_bool(const pctx_t *c, const ynode_t *n, const char *field, bool *out)
{
    char d[96];
    static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False",
                                                                            "FALSE"};
    if (plain_scalar(n))
        for (int i = 0; i < 3; i++) {
            if (strcmp(n->text, t[i]) == 0) {
                *out = true;
                return 0;
            }
            if (strcmp(n->text, f[i]) == 0) {
                *out = false;
                return 0;
            }
        }
    return FAIL_AT(c, n, field, "expected true or false, got %s", describe(n, d, sizeof d));
}

/* Index of a string scalar in names[], or -1. */
static int lookup_name(const ynode_t *n, const char *const *names, int count)
{
    if (!n || n->type != Y_SCALAR || memchr(n->text, '\0', n->len))
        return -1;
    for (int i = 0; i < count; i++)
        if (strcmp(n->text, names[i]) == 0)
            return i;
    return -1;
}

// ----------------------------------------------------------------------------
// Did you mean

/* Folded for comparison: ASCII lower case, '-' and ' ' read as '_'. */
static int fold(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A' + 'a';
    return ch == '-' || ch == ' ' ? '_' : ch;
}

/* Edit distance between a and b, compared folded, counting a swap of two
 * neighbours as one edit (tahn is one from tanh: the optimal string
 * alignment distance); words longer than 63 bytes are never close to
 * anything. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 1000;
    int d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ai = fold((unsigned char)a[i - 1]), bj = fold((unsigned char)b[j - 1]);
            int best = d[i - 1][j - 1] + (ai != bj);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ai == fold((unsigned char)b[j - 2]) &&
                fold((unsigned char)a[i - 2]) == bj && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* The candidate a typo of `word` most likely meant: the closest within 1
 * edit for words of up to 4 characters, 2 up to 8, 3 beyond (ties to the
 * earlier candidate), or one that starts with it or that it starts with
 * (at least 3 characters shared: "lr" is not "layers", but "learn" is
 * "learning_rate").  NULL when nothing is that close. */
static const char *closest(const char *word, const char *const *cands, int n)
{
    size_t lw = strlen(word);
    /* A word of 3 characters or fewer is an abbreviation more often than a
     * typo ("auc" is not "acc"): only a dropped or an extra letter counts
     * ("grd" is "grid"). */
    int limit = lw <= 4 ? 1 : lw <= 8 ? 2 : 3, best = limit + 1;
    const char *pick = NULL;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(word, cands[i]);
        if (lw <= 3 && strlen(cands[i]) == lw)
            continue;
        if (d < best && d > 0) {
            best = d;
            pick = cands[i];
        }
    }
    if (pick || lw < 3)
        return pick;
    for (int i = 0; i < n; i++) {
        size_t lc = strlen(cands[i]), m = lw < lc ? lw : lc, k = 0;
        while (k < m && fold((unsigned char)word[k]) == fold((unsigned char)cands[i][k]))
            k++;
        if (k == m && m >= 3)
            return cands[i];
    }
    return NULL;
}

/* "; did you mean X?" when closest() finds X, else "" (buf is returned). */
static const char *did_you_mean(const ynode_t *n, const char *const *cands, int count,
                                char *buf, size_t size)
{
    buf[0] = '\0';
    if (!n || n->type != Y_SCALAR || memchr(n->text, '\0', n->len))
        return buf;
    const char *m = closest(n->text, cands, count);
    if (m)
        snprintf(buf, size, "; did you mean %s?", m);
    return buf;
}

// ----------------------------------------------------------------------------
// Mappings

/* names joined with ", " into buf; the callers size buf for their longest
 * list, and a list that would not fit ends in "..." rather than mid-name. */
static const char *join_names(const char *const *names, int count, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < count; i++) {
        size_t need = strlen(names[i]) + (i ? 2 : 0);
        if (off + need + 4 >= size) {
            snprintf(buf + off, size - off, "...");
            break;
        }
        off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "", names[i]);
    }
    return buf;
}

/* Keep the first error of a run of independent checks and go on with the
 * next; an allocation failure ends the parse at once. */
#define KEEP(rc, expr)                                                                       \
    do {                                                                                     \
        int r_ = (expr);                                                                     \
        if (r_ == -ENOMEM)                                                                   \
            return r_;                                                                       \
        if (r_ < 0 && (rc) == 0)                                                             \
            (rc) = r_;                                                                       \
    } while (0)

/* Check that n is a mapping whose keys are distinct names from allowed[]
 * (field is the mapping's own field, "" at the top level; what names the keys
 * in "unknown ..." messages, allowed_text overrides the joined list).  Each
 * value is stored in vals[i] for allowed[i] (NULL when absent), each key in
 * keys[i].  Every bad key is reported (and left out); the good ones are
 * filled in all the same, so the caller can go on checking their values. */
static int check_map(const pctx_t *c, const ynode_t *n, const char *field,
                     const char *const *allowed, int count, const char *what,
                     const char *allowed_text, const ynode_t **keys, const ynode_t **vals)
{
    char d[96], s[48], f[160], list[1024], hint[96];
    const char *self = field[0] ? field : "top level";
    for (int i = 0; i < count; i++)
        keys[i] = vals[i] = NULL;
    if (!n || n->type != Y_MAP)
        return FAIL_AT(c, n, self, "expected a mapping, got %s", describe(n, d, sizeof d));
    int rc = 0;
    for (int i = 0; i + 1 < n->n; i += 2) {
        const ynode_t *k = n->kids[i], *v = n->kids[i + 1];
        if (k->type != Y_SCALAR || is_null(k) || memchr(k->text, '\0', k->len)) {
            KEEP(rc, FAIL_AT(c, k, self, "keys must be names, got %s", describe(k, d, sizeof d)));
            continue;
        }
        snprintf(f, sizeof f, "%s%s%s", field, field[0] ? "." : "", SHOWN(k, s));
        int idx = lookup_name(k, allowed, count);
        if (idx < 0) {
            KEEP(rc, FAIL_AT(c, k, f, "unknown %s%s (allowed: %s)", what,
                             did_you_mean(k, allowed, count, hint, sizeof hint),
                             allowed_text ? allowed_text
                                          : join_names(allowed, count, list, sizeof list)));
            continue;
        }
        if (keys[idx]) {
            KEEP(rc, FAIL_AT(c, k, f, "duplicate key (first given at %d:%d)", keys[idx]->line,
                             keys[idx]->col));
            continue;
        }
        keys[idx] = k;
        vals[idx] = v;
    }
    return rc;
}

// ----------------------------------------------------------------------------
// Parameters

typedef enum param_id {
    P_LAYERS,
    P_UNITS,
    P_UNITS_1,
    P_UNITS_8 = P_UNITS_1 + 7,
    P_HIDDEN_SIZES,
    P_ACTIVATION,
    P_INIT_MODE,
    P_OPTIMIZER,
    P_LEARNING_RATE,
    P_MOMENTUM,
    P_NESTEROV,
    P_DROPOUT,
    P_INPUT_DROPOUT,
    P_WEIGHT_CONSTRAINT,
    P_WEIGHT_DECAY,
    P_BATCH_SIZE,
    P_EPOCHS,
    P_SEED,
    P__COUNT
} param_id_t;

/* The largest seed a parameter value can carry: coord_pval_t holds numbers
 * as doubles, which are exact up to 2^53. */
#define SEED_PARAM_MAX 9007199254740991.0

typedef struct pdef {
    const char *name;
    coord_pkind_t kind;
    double lo, hi;              // INT, FLOAT: the allowed range
    bool lo_open, hi_open;      // FLOAT: whether the ends are excluded
    int (*parse)(const char *); // ENUM: name to value, -EINVAL when unknown
    const char *(*label)(int);  // ENUM: value to canonical name
    const char *(*names)(void); // ENUM: "a, b, c" for messages
    int count;                  // ENUM: values 0..count-1
    int aliases;                // ENUM: coord_alias_kind_t + 1 of its value aliases, 0 = none
} pdef_t;

static const char *act_label(int v) { return hpt_act_name((hpt_act_t)v); }
static const char *init_label(int v) { return hpt_init_name((hpt_init_t)v); }
static const char *opt_label(int v) { return hpt_opt_name((hpt_opt_t)v); }

#define PDEF_INT(n, l, h) {.name = (n), .kind = COORD_PKIND_INT, .lo = (l), .hi = (h)}
#define PDEF_FLOAT(n, l, lo_o, h, hi_o)                                                  \
    {.name = (n), .kind = COORD_PKIND_FLOAT, .lo = (l), .hi = (h), .lo_open = (lo_o),    \
     .hi_open = (hi_o)}
#define PDEF_ENUM(n, p, lab, ns, cnt, al)                                                \
    {.name = (n), .kind = COORD_PKIND_ENUM, .parse = (p), .label = (lab), .names = (ns),     \
     .count = (cnt), .aliases = (al) + 1}

/* Ranges are those of hpt_hparams_validate (common/params.c). */
static const pdef_t pdefs[P__COUNT] = {
    [P_LAYERS] = PDEF_INT("layers", 1, HPT_MAX_LAYERS),
    [P_UNITS] = PDEF_INT("units", 1, HPT_MAX_UNITS),
    [P_UNITS_1 + 0] = PDEF_INT("units_1", 1, HPT_MAX_UNITS),
    [P_UNITS_1 + 1] = PDEF_INT("units_2", 1, HPT_MAX_UNITS),
    [P_UNITS_1 + 2] = PDEF_INT("units_3", 1, HPT_MAX_UNITS),
    [P_UNITS_1 + 3] = PDEF_INT("units_4", 1, HPT_MAX_UNITS),
    [P_UNITS_1 + 4] = PDEF_INT("units_5", 1, HPT_MAX_UNITS),
    [P_UNITS_1 + 5] = PDEF_INT("units_6", 1, HPT_MAX_UNITS),
    [P_UNITS_1 + 6] = PDEF_INT("units_7", 1, HPT_MAX_UNITS),
    [P_UNITS_1 + 7] = PDEF_INT("units_8", 1, HPT_MAX_UNITS),
    [P_HIDDEN_SIZES] = {.name = "hidden_sizes", .kind = COORD_PKIND_ARCH},
    [P_ACTIVATION] = PDEF_ENUM("activation", hpt_act_parse, act_label, hpt_act_names,
                               HPT_ACT__COUNT, COORD_ALIAS_ACTIVATION),
    [P_INIT_MODE] = PDEF_ENUM("init_mode", hpt_init_parse, init_label, hpt_init_names,
                              HPT_INIT__COUNT, COORD_ALIAS_INIT),
    [P_OPTIMIZER] = PDEF_ENUM("optimizer", hpt_opt_parse, opt_label, hpt_opt_names,
                              HPT_OPT__COUNT, COORD_ALIAS_OPTIMIZER),
    [P_LEARNING_RATE] = PDEF_FLOAT("learning_rate", 0, true, 10, false),
    [P_MOMENTUM] = PDEF_FLOAT("momentum", 0, false, 1, true),
    [P_NESTEROV] = {.name = "nesterov", .kind = COORD_PKIND_BOOL},
    [P_DROPOUT] = PDEF_FLOAT("dropout", 0, false, 1, true),
    [P_INPUT_DROPOUT] = PDEF_FLOAT("input_dropout", 0, false, 1, true),
    [P_WEIGHT_CONSTRAINT] = PDEF_FLOAT("weight_constraint", 0, false, 1e6, false),
    [P_WEIGHT_DECAY] = PDEF_FLOAT("weight_decay", 0, false, HPT_MAX_WEIGHT_DECAY, false),
    [P_BATCH_SIZE] = PDEF_INT("batch_size", 1, HPT_MAX_BATCH),
    [P_EPOCHS] = PDEF_INT("epochs", 1, HPT_MAX_EPOCHS),
    [P_SEED] = PDEF_INT("seed", 0, SEED_PARAM_MAX),
};


/* The list in "unknown parameter" messages (units_N shortened). */
static const char PARAM_NAMES_TEXT[] =
    "layers, units, units_1..units_8, hidden_sizes, activation, init_mode, optimizer, "
    "learning_rate, "
    "momentum, nesterov, dropout, input_dropout, weight_constraint, weight_decay, batch_size, "
    "epochs, seed";

static const pdef_t *pdef_find(const char *name, param_id_t *id)
{
    for (int i = 0; i < P__COUNT; i++)
        if (strcmp(pdefs[i].name, name) == 0) {
            if (id)
                *id = (param_id_t)i;
            return &pdefs[i];
        }
    return NULL;
}

/* "(1..8)" or "[0, 1)" for range messages. */
static const char *range_text(const pdef_t *d, char *buf, size_t size)
{
    if (d->kind == COORD_PKIND_INT)
        snprintf(buf, size, "(%.0f..%.0f)", d->lo, d->hi);
    else
        snprintf(buf, size, "%c%g, %g%c", d->lo_open ? '(' : '[', d->lo, d->hi,
                 d->hi_open ? ')' : ']');
    return buf;
}

static bool in_range(const pdef_t *d, double v)
{
    if (!isfinite(v))
        return false;
    if (d->lo_open ? v <= d->lo : v < d->lo)
        return false;
    return d->hi_open ? v < d->hi : v <= d->hi;
}

/* The enum value text names for d: one of d's own names in any case
 * ("Adam"), or an alias of its kind (ReLU, xavier, momentum).  *label gets
 * the name a value stores: d's canonical name, or the alias's own when it
 * implies more than its target (optimizer momentum, nag), so that
 * [sgd, momentum] stay two values.  *alias gets the alias entry or NULL.
 * Returns the enum value, or -EINVAL. */
static int enum_lookup(const pdef_t *d, const char *text, const char **label,
                       const coord_alias_t **alias)
{
    if (label)
        *label = NULL;
    if (alias)
        *alias = NULL;
    int v = d->parse(text);
    if (v < 0)
        for (int k = 0; k < d->count && v < 0; k++)
            if (coord_alias_same(d->label(k), text))
                v = k;
    if (v >= 0) {
        if (label)
            *label = d->label(v);
        return v;
    }
    const coord_alias_t *a = d->aliases ? coord_alias_find(d->aliases - 1, text) : NULL;
    if (!a || (v = d->parse(a->target)) < 0)
        return -EINVAL;
    if (label)
        *label = a->momentum > 0 ? a->alias : d->label(v);
    if (alias)
        *alias = a;
    return v;
}

/* The names an enum parameter takes, its own then its aliases', for
 * suggestions; returns the count (at most max). */
static int enum_candidates(const pdef_t *d, const char **out, int max)
{
    int k = 0;
    for (int v = 0; v < d->count && k < max; v++)
        out[k++] = d->label(v);
    int n = 0;
    const coord_alias_t *a = d->aliases ? coord_alias_list(d->aliases - 1, &n) : NULL;
    for (int i = 0; i < n && k < max; i++)
        out[k++] = a[i].alias;
    return k;
}

/* "sgd, nesterov, ...; also momentum, nag, rms" for an enum's messages. */
static const char *enum_allowed(const pdef_t *d, char *buf, size_t size)
{
    int n = 0;
    const coord_alias_t *a = d->aliases ? coord_alias_list(d->aliases - 1, &n) : NULL;
    size_t off = (size_t)snprintf(buf, size, "%s", d->names());
    for (int i = 0; i < n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "; also ",
                                a[i].alias);
    return buf;
}

/* One value of parameter d from node n (not for ARCH parameters, whose
 * values are found by get_arch). */
static int get_pval(const pctx_t *c, const ynode_t *n, const char *field, const pdef_t *d,
                    coord_pval_t *out)
{
    char r[64], s[48], dsc[96];
    *out = (coord_pval_t){0};
    switch (d->kind) {
    case COORD_PKIND_INT: {
        long long v;
        int rc = get_int(c, n, field, (long long)d->lo, (long long)d->hi, &v);
        if (rc)
            return rc;
        out->num = (double)v;
        return 0;
    }
    case COORD_PKIND_FLOAT: {
        int rc = get_num(c, n, field, &out->num);
        if (rc)
            return rc;
        if (!in_range(d, out->num))
            return FAIL_AT(c, n, field, "%s is out of range %s", SHOWN(n, s),
                           range_text(d, r, sizeof r));
        return 0;
    }
    case COORD_PKIND_BOOL: {
        bool b;
        int rc = get_bool(c, n, field, &b);
        if (rc)
            return rc;
        out->num = b;
        return 0;
    }
    case COORD_PKIND_ENUM: {
        const char *text, *label;
        const coord_alias_t *alias;
        int rc = get_str(c, n, field, 1024, &text);
        if (rc)
            return rc;
        int v = enum_lookup(d, text, &label, &alias);
        if (v < 0) {
            const char *names[64];
            char hint[96], allowed[1024];
            int k = enum_candidates(d, names, 64);
            return FAIL_AT(c, n, field, "unknown %s %s%s (allowed: %s)", d->name,
                           describe(n, dsc, sizeof dsc),
                           did_you_mean(n, names, k, hint, sizeof hint),
                           enum_allowed(d, allowed, sizeof allowed));
        }
        out->num = v;
        snprintf(out->str, sizeof out->str, "%s", label);
        if (alias)
            return NOTE_AT(c, n, field, "'%s' read as %s%s%s", SHOWN(n, s), alias->target,
                           alias->note ? ": " : "", alias->note ? alias->note : "");
        return 0;
    }
    case COORD_PKIND_ARCH:
        break;
    }
    return FAIL_AT(c, n, field, "unsupported parameter kind");
}

static bool pval_equal(const coord_param_t *p, const coord_pval_t *a, const coord_pval_t *b)
{
    return coord_pval_equal(p, a, b);
}

/* The value `null` (W&B configs list it to mean "the script's default"). */
static coord_pval_t null_pval(void)
{
    coord_pval_t v = {0};
    memcpy(v.str, "null", 5);
    return v;
}

#define ARCH_ROW (1 + HPT_MAX_LAYERS)   // ints per architecture: count, then the widths

/* An architecture from node n: a sequence of 1..8 widths, each 1..65536,
 * into row[0..ARCH_ROW). */
static int parse_arch(const pctx_t *c, const ynode_t *n, const char *field, int *row)
{
    char dsc[96], f[192];
    if (!n || n->type != Y_SEQ)
        return FAIL_AT(c, n, field, "expected a list of hidden-layer widths such as [128, 64], "
                       "got %s", describe(n, dsc, sizeof dsc));
    if (n->n < 1 || n->n > HPT_MAX_LAYERS)
        return FAIL_AT(c, n, field, "has %d layers (allowed 1..%d)", n->n, HPT_MAX_LAYERS);
    memset(row, 0, ARCH_ROW * sizeof *row);
    row[0] = n->n;
    int rc = 0;
    for (int i = 0; i < n->n; i++) {
        long long v;
        snprintf(f, sizeof f, "%s[%d]", field, i);
        int r = get_int(c, n->kids[i], f, 1, HPT_MAX_UNITS, &v);
        KEEP(rc, r);
        row[1 + i] = r ? 1 : (int)v;
    }
    return rc;
}

/* A value of the ARCH parameter p from node n: one of its architectures
 * (out->num its index); the error says which are. */
static int get_arch(const pctx_t *c, const ynode_t *n, const char *field,
                    const coord_param_t *p, coord_pval_t *out)
{
    int row[ARCH_ROW];
    int rc = parse_arch(c, n, field, row);
    if (rc)
        return rc;
    for (int j = 0; j < p->n_values; j++)
        if (memcmp(p->arch + (size_t)j * ARCH_ROW, row, sizeof row) == 0) {
            *out = p->values[j];
            return 0;
        }
    char s[96];
    snprintf(s, sizeof s, "[%d", row[1]);
    for (int i = 1; i < row[0]; i++)
        snprintf(s + strlen(s), sizeof s - strlen(s), ",%d", row[1 + i]);
    snprintf(s + strlen(s), sizeof s - strlen(s), "]");
    return FAIL_AT(c, n, field, "%s is not one of parameters.%s.values", s, p->name);
}

/* A value of parameter p (any kind) from node n, for start:, when: and
 * enqueue: (not yet checked against p's form: check_in_dist does that). */
static int get_pval_p(const pctx_t *c, const ynode_t *n, const char *field,
                      const coord_param_t *p, coord_pval_t *out)
{
    if (p->kind == COORD_PKIND_ARCH)
        return get_arch(c, n, field, p, out);
    return get_pval(c, n, field, pdef_find(p->name, NULL), out);
}

/* K_START and K_WHEN come last: they are optional with every form. */
enum {
    K_VALUE, K_VALUES, K_DISTRIBUTION, K_PROBABILITIES, K_MIN, K_MAX, K_Q, K_MU, K_SIGMA,
    K_START, K_WHEN, K__COUNT
};
static const char *const param_keys[K__COUNT] = {
    "value", "values", "distribution", "probabilities", "min", "max", "q", "mu", "sigma",
    "start", "when",
};

/* The distributions as specs write them.  Several W&B names land on one of
 * ours: how each is read (docs/spec.md has the table). */
typedef enum dread {
    DR_SAME,      // as written
    DR_EXP,       // min, max are exponents of e: the values are e^min .. e^max
    DR_EXP_INV,   // inv_log_uniform: 1/x is log-uniform on e^min .. e^max
    DR_INFERRED,  // no distribution: W&B's int_uniform / uniform from the bounds' type
} dread_t;

typedef struct dspec {
    const char *name;
    coord_pdist_t dist;
    dread_t read;
    bool q;          // takes q (default 1)
} dspec_t;

static const dspec_t dspecs[] = {
    {"categorical", COORD_PDIST_CATEGORICAL, DR_SAME, false},
    {"uniform", COORD_PDIST_UNIFORM, DR_SAME, false},
    {"log_uniform_values", COORD_PDIST_LOG_UNIFORM_VALUES, DR_SAME, false},
    {"int_uniform", COORD_PDIST_INT_UNIFORM, DR_SAME, false},
    {"q_uniform", COORD_PDIST_Q_UNIFORM, DR_SAME, true},
    {"q_log_uniform_values", COORD_PDIST_Q_LOG_UNIFORM_VALUES, DR_SAME, true},
    {"normal", COORD_PDIST_NORMAL, DR_SAME, false},
    {"q_normal", COORD_PDIST_NORMAL, DR_SAME, true},
    {"log_normal", COORD_PDIST_LOG_NORMAL, DR_SAME, false},
    {"q_log_normal", COORD_PDIST_LOG_NORMAL, DR_SAME, true},
    {"inv_log_uniform_values", COORD_PDIST_LOG_UNIFORM_VALUES, DR_SAME, false},
    {"log_uniform", COORD_PDIST_LOG_UNIFORM_VALUES, DR_EXP, false},
    {"q_log_uniform", COORD_PDIST_Q_LOG_UNIFORM_VALUES, DR_EXP, true},
    {"inv_log_uniform", COORD_PDIST_LOG_UNIFORM_VALUES, DR_EXP_INV, false},
    {"categorical_w_probabilities", COORD_PDIST_CATEGORICAL, DR_SAME, false},
    {"constant", COORD_PDIST_VALUE, DR_SAME, false},
};
#define N_DSPECS ((int)(sizeof dspecs / sizeof dspecs[0]))

static const char *dist_name(coord_pdist_t d)
{
    switch (d) {
    case COORD_PDIST_VALUE: return "value";
    case COORD_PDIST_VALUES: return "values";
    case COORD_PDIST_CATEGORICAL: return "categorical";
    case COORD_PDIST_UNIFORM: return "uniform";
    case COORD_PDIST_LOG_UNIFORM_VALUES: return "log_uniform_values";
    case COORD_PDIST_INT_UNIFORM: return "int_uniform";
    case COORD_PDIST_Q_UNIFORM: return "q_uniform";
    case COORD_PDIST_Q_LOG_UNIFORM_VALUES: return "q_log_uniform_values";
    case COORD_PDIST_NORMAL: return "normal";
    case COORD_PDIST_LOG_NORMAL: return "log_normal";
    }
    return "?";
}

/* The keys each form takes: bit K_x set when key x belongs. */
static unsigned form_keys(coord_pdist_t d, bool q)
{
    /* when: goes with every form; start: with every form but a constant. */
    const unsigned opt = 1u << K_START | 1u << K_WHEN, dist = 1u << K_DISTRIBUTION;
    const unsigned qk = q ? 1u << K_Q : 0;
    switch (d) {
    case COORD_PDIST_VALUE:
        return 1u << K_VALUE | 1u << K_WHEN | dist;
    case COORD_PDIST_VALUES:
        return 1u << K_VALUES | opt;
    case COORD_PDIST_CATEGORICAL:
        return dist | 1u << K_VALUES | 1u << K_PROBABILITIES | opt;
    case COORD_PDIST_NORMAL:
    case COORD_PDIST_LOG_NORMAL:
        return dist | 1u << K_MU | 1u << K_SIGMA | qk | opt;
    default:
        return dist | 1u << K_MIN | 1u << K_MAX | qk | opt;
    }
}

static const char *form_keys_text(unsigned keys, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int k = 0; k < K__COUNT && off < size; k++)
        if (keys & (1u << k))
            off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? ", " : "",
                                    param_keys[k]);
    return buf;
}

/* values: [...] for VALUES and CATEGORICAL, or value: x (one node, `one`).
 * A null among them is the hyperparameter's default (null_pval); an ARCH
 * parameter's values are lists, kept in p->arch. */
static int parse_values(const pctx_t *c, const ynode_t *n, const char *pf, const pdef_t *d,
                        coord_param_t *p, bool one)
{
    char f[160], dsc[96], s[48];
    snprintf(f, sizeof f, "%s.%s", pf, one ? "value" : "values");
    const ynode_t *const *items = &n;
    int count = 1;
    if (!one) {
        if (!n || n->type != Y_SEQ)
            return FAIL_AT(c, n, f, "expected a sequence, got %s", describe(n, dsc, sizeof dsc));
        if (n->n == 0)
            return FAIL_AT(c, n, f, "must not be empty");
        if (n->n > COORD_SPEC_MAX_VALUES)
            return FAIL_AT(c, n, f, "has %d values (at most %d)", n->n, COORD_SPEC_MAX_VALUES);
        items = (const ynode_t *const *)n->kids;
        count = n->n;
    }
    p->values = calloc((size_t)count, sizeof *p->values);
    if (!p->values)
        return oom(c);
    if (d->kind == COORD_PKIND_ARCH) {
        p->arch = calloc((size_t)count * ARCH_ROW, sizeof *p->arch);
        if (!p->arch)
            return oom(c);
    }
    /* Every value is checked; the good ones are kept in order (so values[]
     * holds only valid values even when the parameter has errors), and a
     * duplicate is reported against the index it was written at. */
    int rc = 0, at[COORD_SPEC_MAX_VALUES];
    for (int i = 0; i < count; i++) {
        if (!one)
            snprintf(f, sizeof f, "%s.values[%d]", pf, i);
        const ynode_t *item = items[i];
        coord_pval_t v = {0};
        int r = 0, row[ARCH_ROW] = {0};
        if (is_null(item) && item)
            v = null_pval();
        else if (d->kind == COORD_PKIND_ARCH)
            r = parse_arch(c, item, f, row);
        else
            r = get_pval(c, item, f, d, &v);
        for (int j = 0; j < p->n_values && r == 0; j++) {
            bool same = d->kind == COORD_PKIND_ARCH && !coord_pval_is_null(&v) &&
                                !coord_pval_is_null(&p->values[j])
                            ? memcmp(p->arch + (size_t)j * ARCH_ROW, row, sizeof row) == 0
                            : pval_equal(p, &p->values[j], &v);
            if (same)
                r = FAIL_AT(c, item, f, "duplicate value %s (also values[%d])",
                            item->type == Y_SCALAR ? SHOWN(item, s) : "list", at[j]);
        }
        KEEP(rc, r);
        if (r == 0) {
            if (d->kind == COORD_PKIND_ARCH) {
                memcpy(p->arch + (size_t)p->n_values * ARCH_ROW, row, sizeof row);
                if (!coord_pval_is_null(&v))
                    v.num = p->n_values;
            }
            at[p->n_values] = i;
            p->values[p->n_values++] = v;
        }
    }
    return rc;
}

static int parse_probs(const pctx_t *c, const ynode_t *n, const char *pf, coord_param_t *p)
{
    char f[160], dsc[96], s[48];
    snprintf(f, sizeof f, "%s.probabilities", pf);
    if (!n || n->type != Y_SEQ)
        return FAIL_AT(c, n, f, "expected a sequence, got %s", describe(n, dsc, sizeof dsc));
    if (n->n != p->n_values)
        return FAIL_AT(c, n, f, "%d probabilities for %d values", n->n, p->n_values);
    p->probs = calloc((size_t)p->n_values, sizeof *p->probs);
    if (!p->probs)
        return oom(c);
    double sum = 0;
    int rc = 0;
    for (int i = 0; i < n->n; i++) {
        snprintf(f, sizeof f, "%s.probabilities[%d]", pf, i);
        int r = get_num(c, n->kids[i], f, &p->probs[i]);
        if (r == 0 && (p->probs[i] < 0 || p->probs[i] > 1))
            r = FAIL_AT(c, n->kids[i], f, "%s is out of range [0, 1]", SHOWN(n->kids[i], s));
        KEEP(rc, r);
        sum += p->probs[i];
    }
    snprintf(f, sizeof f, "%s.probabilities", pf);
    if (rc == 0 && fabs(sum - 1.0) > 1e-6)
        return FAIL_AT(c, n, f, "sum to %.9g, not 1 (within 1e-6)", sum);
    return rc;
}

/* The range every draw of d's parameter must lie in, as closed bounds: an
 * open end moves to the nearest double inside ((0, 10] starts at 4.9e-324),
 * so a uniform draw can never land on it. */
static void closed_range(const pdef_t *d, double *lo, double *hi)
{
    *lo = d->lo_open ? nextafter(d->lo, INFINITY) : d->lo;
    *hi = d->hi_open ? nextafter(d->hi, -INFINITY) : d->hi;
}

/* The standard normal's CDF. */
static double phi(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

/* A numeric form's bound: min, max (e^x for the exponent forms) or q, from
 * node n; *out in value space.  Bounds must lie in the parameter's range,
 * except that a continuous distribution may name an open end (uniform on
 * [0, 0.1] for learning_rate, whose range is (0, 10]: no draw is 0).  q must
 * be > 0, and an integer for integer parameters. */
static int parse_bound(const pctx_t *c, const ynode_t *n, const char *pf, const char *key,
                       const pdef_t *d, coord_pdist_t dist, dread_t read, double *out)
{
    char f[160], r[64], s[48];
    snprintf(f, sizeof f, "%s.%s", pf, key);
    bool is_q = strcmp(key, "q") == 0;
    if (d->kind == COORD_PKIND_INT && (dist == COORD_PDIST_INT_UNIFORM ||
                                       dist == COORD_PDIST_Q_UNIFORM || is_q)) {
        long long v;
        int rc = get_int(c, n, f, is_q ? 1 : (long long)d->lo, (long long)d->hi, &v);
        *out = (double)v;
        return rc;
    }
    int rc = get_num(c, n, f, out);
    if (rc)
        return rc;
    if (is_q)
        return *out > 0 ? 0 : FAIL_AT(c, n, f, "must be greater than 0, got %s", SHOWN(n, s));
    if (read == DR_EXP || read == DR_EXP_INV) {
        /* inv_log_uniform's values run from e^-max to e^-min: the caller
         * swaps them; here each bound becomes its value. */
        double e = exp(read == DR_EXP ? *out : -*out);
        if (!(e > 0) || !isfinite(e) || !in_range(d, e))
            return FAIL_AT(c, n, f, "e^%s%s = %.6g is out of range %s (this form takes "
                           "exponents of e; for the values themselves write %s)",
                           read == DR_EXP_INV ? "-" : "", SHOWN(n, s), e,
                           range_text(d, r, sizeof r),
                           read == DR_EXP ? "log_uniform_values" : "inv_log_uniform_values");
        *out = e;
        return 0;
    }
    if (dist == COORD_PDIST_LOG_UNIFORM_VALUES || dist == COORD_PDIST_Q_LOG_UNIFORM_VALUES) {
        if (strcmp(key, "min") == 0 && *out <= 0)
            return FAIL_AT(c, n, f, "must be greater than 0 for %s, got %s", dist_name(dist),
                           SHOWN(n, s));
    }
    bool continuous = d->kind == COORD_PKIND_FLOAT;
    double lo, hi;
    closed_range(d, &lo, &hi);
    if (continuous && (*out == d->lo || *out == d->hi)) {
        *out = *out == d->lo ? lo : hi;   // an open end: the nearest value inside
        return 0;
    }
    if (!in_range(d, *out))
        return FAIL_AT(c, n, f, "%s is out of range %s", SHOWN(n, s), range_text(d, r, sizeof r));
    return 0;
}

/* How a W&B form without `distribution` reads: int_uniform when min and max
 * are both written as integers, uniform otherwise (W&B's rule). */
static coord_pdist_t inferred_dist(const ynode_t *mn, const ynode_t *mx)
{
    bool ints = mn && mx && mn->type == Y_SCALAR && mx->type == Y_SCALAR &&
                !memchr(mn->text, '\0', mn->len) && !memchr(mx->text, '\0', mx->len) &&
                int_syntax(mn->text) && int_syntax(mx->text);
    return ints ? COORD_PDIST_INT_UNIFORM : COORD_PDIST_UNIFORM;
}

/* The numeric distributions: bounds (or mu, sigma), q, and what the
 * parameter's kind makes of them.  keys/vals are check_map's output. */
static int parse_numeric(const pctx_t *c, const ynode_t *n, const char *pf, const pdef_t *d,
                         coord_param_t *p, const dspec_t *ds, const ynode_t *dn,
                         const ynode_t *const *keys, const ynode_t *const *vals)
{
    char f[160], s[48], smin[48], smax[48], r[64];
    int rc = 0;
    const bool is_int = d->kind == COORD_PKIND_INT;
    const dread_t read = ds ? ds->read : DR_INFERRED;
    if (p->dist == COORD_PDIST_NORMAL || p->dist == COORD_PDIST_LOG_NORMAL) {
        bool lg = p->dist == COORD_PDIST_LOG_NORMAL;
        p->mu = 0;
        p->sigma = 1;   // W&B's defaults
        if (keys[K_MU])
            KEEP(rc, get_num(c, vals[K_MU], (snprintf(f, sizeof f, "%s.mu", pf), f), &p->mu));
        if (keys[K_SIGMA]) {
            snprintf(f, sizeof f, "%s.sigma", pf);
            int rs = get_num(c, vals[K_SIGMA], f, &p->sigma);
            if (rs == 0 && !(p->sigma > 0))
                rs = FAIL_AT(c, vals[K_SIGMA], f, "must be greater than 0, got %s",
                             SHOWN(vals[K_SIGMA], s));
            KEEP(rc, rs);
        }
        if (ds->q) {
            p->q = 1;
            if (keys[K_Q])
                KEEP(rc, parse_bound(c, vals[K_Q], pf, "q", d, p->dist, DR_SAME, &p->q));
        }
        if (rc)
            return rc;
        closed_range(d, &p->min, &p->max);
        if (lg && p->min <= 0)
            p->min = nextafter(0.0, 1.0);
        if (is_int && !(p->q >= 1))
            p->q = 1;
        /* The share of draws that land in the parameter's range (a draw
         * rounding into it counts). */
        double h = p->q > 0 ? 0.5 * p->q : 0;
        double a = p->min - h, b = p->max + h;
        if (lg) {
            a = a > 0 ? log(a) : -INFINITY;
            b = log(b);
        }
        double mass = phi((b - p->mu) / p->sigma) - phi((a - p->mu) / p->sigma);
        snprintf(f, sizeof f, "%s.distribution", pf);
        if (!(mass >= 1e-3))
            return FAIL_AT(c, dn, f, "%s(mu %g, sigma %g) puts %.2g%% of its draws in %s's "
                           "range %s: hptune keeps every draw in range, so nearly all would "
                           "be redrawn", ds->name, p->mu, p->sigma, 100 * mass, d->name,
                           range_text(d, r, sizeof r));
        if (mass < 0.99)
            KEEP(rc, WARN_AT(c, dn, f, "%.1f%% of %s(mu %g, sigma %g)'s draws fall outside "
                             "%s's range %s: hptune redraws them (W&B would pass them to the "
                             "script)", 100 * (1 - mass), ds->name, p->mu, p->sigma, d->name,
                             range_text(d, r, sizeof r)));
        if (is_int && !ds->q)
            KEEP(rc, NOTE_AT(c, dn, f, "%s takes integers: draws are rounded", d->name));
        return rc;
    }

    /* min / max forms. */
    int rmin = parse_bound(c, vals[K_MIN], pf, "min", d, p->dist, read, &p->min);
    int rmax = parse_bound(c, vals[K_MAX], pf, "max", d, p->dist, read, &p->max);
    KEEP(rc, rmin);
    KEEP(rc, rmax);
    if (ds && ds->q) {
        p->q = 1;   // W&B's default
        if (keys[K_Q])
            KEEP(rc, parse_bound(c, vals[K_Q], pf, "q", d, p->dist, DR_SAME, &p->q));
    }
    if (rc)
        return rc;
    if (read == DR_EXP_INV) {   // 1/x on e^min .. e^max: x on e^-max .. e^-min
        double t = p->min;
        p->min = p->max;
        p->max = t;
    }
    if (!(p->min < p->max)) {
        snprintf(f, sizeof f, "%s.max", pf);
        return FAIL_AT(c, vals[K_MAX], f, "must be greater than min (%s), got %s",
                       SHOWN(vals[K_MIN], smin), SHOWN(vals[K_MAX], s));
    }
    snprintf(f, sizeof f, "%s.%s", pf, dn ? "distribution" : "min");
    const ynode_t *at = dn ? dn : vals[K_MIN];
    if (read == DR_EXP || read == DR_EXP_INV)
        KEEP(rc, WARN_AT(c, at, f, "%s takes exponents of e: draws lie in [%.6g, %.6g] "
                         "(e^%s .. e^%s); for the values themselves write %s", ds->name,
                         p->min, p->max, SHOWN(vals[K_MIN], smin), SHOWN(vals[K_MAX], smax),
                         read == DR_EXP ? (ds->q ? "q_log_uniform_values"
                                                 : "log_uniform_values")
                                        : "inv_log_uniform_values"));
    /* What the parameter's kind makes of the form. */
    if (is_int) {
        if (p->dist == COORD_PDIST_UNIFORM) {
            KEEP(rc, warn(c, NODE_LINE(c, at), NODE_COL(c, at), f, "%s takes integers: draws "
                          "are integers in [%.0f, %.0f], int_uniform (W&B would pass floats "
                          "from %s)", d->name, ceil(p->min), floor(p->max),
                          read == DR_INFERRED ? "min and max written as floats" : "uniform"));
            p->dist = COORD_PDIST_INT_UNIFORM;
        } else if (p->dist == COORD_PDIST_LOG_UNIFORM_VALUES) {
            p->q = 1;
            KEEP(rc, NOTE_AT(c, at, f, "%s takes integers: draws are rounded", d->name));
        }
        if (p->dist == COORD_PDIST_INT_UNIFORM) {
            p->min = ceil(p->min);
            p->max = floor(p->max);
            if (!(p->min < p->max))
                return FAIL_AT(c, vals[K_MAX], f, "[%s, %s] holds fewer than two integers",
                               SHOWN(vals[K_MIN], smin), SHOWN(vals[K_MAX], smax));
        }
    } else if (p->dist == COORD_PDIST_INT_UNIFORM) {
        if (read != DR_INFERRED)
            return FAIL_AT(c, dn, f, "int_uniform needs an integer parameter; %s takes floats "
                           "(use uniform or q_uniform)", d->name);
        /* W&B would draw integers from integer bounds; a float parameter
         * means floats were meant. */
        KEEP(rc, WARN_AT(c, at, f, "min and max are integers, so W&B would draw integers "
                         "(int_uniform); %s takes floats: hptune draws uniform floats in "
                         "[%s, %s]", d->name, SHOWN(vals[K_MIN], smin), SHOWN(vals[K_MAX], smax)));
        p->dist = COORD_PDIST_UNIFORM;
    }
    if (p->q > 0) {
        /* Sampling rounds to a multiple of q inside [min, max]; there must be
         * one.  The tolerance absorbs decimal fractions such as 0.3 / 0.1. */
        double lo = ceil(p->min / p->q - 1e-9), hi = floor(p->max / p->q + 1e-9);
        if (lo > hi || !isfinite(lo) || !isfinite(hi)) {
            snprintf(f, sizeof f, "%s.q", pf);
            return FAIL_AT(c, keys[K_Q] ? vals[K_Q] : at, f, "no multiple of %g lies in [%.6g, "
                           "%.6g]", p->q, p->min, p->max);
        }
    }
    return rc;
}

/* The form of a parameter (value, values or a distribution) from its
 * mapping n; keys/vals are check_map's output for n.  W&B's forms are read
 * as W&B reads them: min and max alone infer int_uniform or uniform, the
 * legacy exponent forms become value ranges, q defaults to 1, mu and sigma
 * to 0 and 1. */
static int parse_form(const pctx_t *c, const ynode_t *n, const char *pf, const pdef_t *d,
                      coord_param_t *p, const ynode_t *const *keys, const ynode_t *const *vals)
{
    char f[160], dsc[96], list[512], hint[96];
    int rc;
    /* Exactly one form: value, values (alone) or distribution; a distribution
     * may come with value (constant) or values (categorical). */
    const ynode_t *first = NULL;
    static const int forms[] = {K_VALUE, K_VALUES, K_DISTRIBUTION};
    for (int i = 0; i < 3; i++) {
        const ynode_t *k = keys[forms[i]];
        if (!k || (forms[i] != K_DISTRIBUTION && keys[K_DISTRIBUTION]))
            continue;
        if (first) {
            const ynode_t *later = (k->line > first->line ||
                                    (k->line == first->line && k->col > first->col))
                                       ? k
                                       : first;
            return FAIL_AT(c, later, pf,
                           "give exactly one of value, values or distribution (got %s and %s)",
                           first == later ? k->text : first->text, later->text);
        }
        first = k;
    }
    const dspec_t *ds = NULL;
    const ynode_t *dn = keys[K_DISTRIBUTION] ? vals[K_DISTRIBUTION] : NULL;
    if (!first && keys[K_MIN] && keys[K_MAX]) {
        p->dist = inferred_dist(vals[K_MIN], vals[K_MAX]);
        snprintf(p->form, sizeof p->form, "min and max");
    } else if (!first) {
        return FAIL_AT(c, n, pf, "needs value, values, distribution, or min and max");
    } else if (keys[K_DISTRIBUTION]) {
        snprintf(f, sizeof f, "%s.distribution", pf);
        if (!dn || dn->type != Y_SCALAR || is_null(dn) || memchr(dn->text, '\0', dn->len))
            return FAIL_AT(c, dn, f, "expected a distribution name, got %s",
                           describe(dn, dsc, sizeof dsc));
        for (int i = 0; i < N_DSPECS && !ds; i++)
            if (coord_alias_same(dspecs[i].name, dn->text))
                ds = &dspecs[i];
        if (!ds) {
            const char *names[N_DSPECS];
            for (int i = 0; i < N_DSPECS; i++)
                names[i] = dspecs[i].name;
            if (coord_alias_same(dn->text, "beta") || coord_alias_same(dn->text, "q_beta"))
                return FAIL_AT(c, dn, f, "distribution %s is not supported (allowed: %s)",
                               describe(dn, dsc, sizeof dsc),
                               join_names(names, N_DSPECS, list, sizeof list));
            return FAIL_AT(c, dn, f, "unknown distribution %s%s (allowed: %s)",
                           describe(dn, dsc, sizeof dsc),
                           did_you_mean(dn, names, N_DSPECS, hint, sizeof hint),
                           join_names(names, N_DSPECS, list, sizeof list));
        }
        p->dist = ds->dist;
        if (strcmp(ds->name, dist_name(ds->dist)) != 0 && strcmp(ds->name, "q_normal") != 0 &&
            strcmp(ds->name, "q_log_normal") != 0)
            snprintf(p->form, sizeof p->form, "%s", ds->name);
        bool numeric = d->kind == COORD_PKIND_INT || d->kind == COORD_PKIND_FLOAT;
        if (p->dist != COORD_PDIST_VALUE && p->dist != COORD_PDIST_CATEGORICAL && !numeric)
            return FAIL_AT(c, dn, f, "%s needs a numeric parameter; %s takes %s (use values or "
                           "categorical)", ds->name, d->name,
                           d->kind == COORD_PKIND_ARCH ? "lists of layer widths"
                                                       : "names or booleans");
        if (p->dist == COORD_PDIST_INT_UNIFORM && d->kind != COORD_PKIND_INT)
            return FAIL_AT(c, dn, f, "int_uniform needs an integer parameter; %s takes floats "
                           "(use uniform or q_uniform)", d->name);
    } else if (keys[K_VALUE]) {
        p->dist = COORD_PDIST_VALUE;
    } else {
        p->dist = COORD_PDIST_VALUES;
    }

    /* Keys that do not belong to the form, and keys the form needs (start
     * and when are optional, so are q, mu and sigma): all reported before
     * giving up. */
    bool takes_q = ds ? ds->q : p->dist == COORD_PDIST_Q_UNIFORM;
    unsigned allowed = form_keys(p->dist, takes_q);
    if (!ds && (p->dist == COORD_PDIST_INT_UNIFORM || p->dist == COORD_PDIST_UNIFORM))
        allowed &= ~(1u << K_DISTRIBUTION);
    rc = 0;
    char form[64];
    snprintf(form, sizeof form, "%s%s", ds ? "distribution " : "",
             ds ? ds->name : p->form[0] ? "min and max" : dist_name(p->dist));
    for (int k = 0; k < K__COUNT; k++)
        if (keys[k] && !(allowed & (1u << k)) && !(k == K_DISTRIBUTION && ds)) {
            snprintf(f, sizeof f, "%s.%s", pf, param_keys[k]);
            KEEP(rc, FAIL_AT(c, keys[k], f, "not allowed with %s (allowed: %s)", form,
                             form_keys_text(allowed, list, sizeof list)));
        }
    static const int needed[] = {K_VALUE, K_VALUES, K_MIN, K_MAX};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        int k = needed[i];
        if (!keys[k] && (allowed & (1u << k)))
            KEEP(rc, FAIL_AT(c, n, pf, "%s needs %s", form, param_keys[k]));
    }
    if (rc)
        return rc;

    switch (p->dist) {
    case COORD_PDIST_VALUE:
        return parse_values(c, vals[K_VALUE], pf, d, p, true);
    case COORD_PDIST_VALUES:
        return parse_values(c, vals[K_VALUES], pf, d, p, false);
    case COORD_PDIST_CATEGORICAL:
        rc = parse_values(c, vals[K_VALUES], pf, d, p, false);
        if (rc)
            return rc;  // probabilities are counted against the values: check them later
        if (keys[K_PROBABILITIES])
            return parse_probs(c, vals[K_PROBABILITIES], pf, p);
        /* Without probabilities every value is equally likely. */
        p->probs = calloc((size_t)p->n_values, sizeof *p->probs);
        if (!p->probs)
            return oom(c);
        for (int i = 0; i < p->n_values; i++)
            p->probs[i] = 1.0 / p->n_values;
        return 0;
    default:
        return parse_numeric(c, n, pf, d, p, ds, dn, keys, vals);
    }
}

/* Whether a draw x lies on q's lattice (relative tolerance for decimal
 * fractions such as 0.3 / 0.1). */
static bool on_lattice(double x, double q)
{
    double m = round(x / q);
    return fabs(x / q - m) <= 1e-9;
}

/* Whether v is a value parameter p can take: one of its values for a list
 * form, the constant for value:, inside [min, max] for a distribution (and
 * on the q lattice when q is set, snapped onto it).  On failure the error
 * points at n.  *index gets the value's position for the listed forms (else
 * 0). */
static int check_in_dist(const pctx_t *c, const ynode_t *n, const char *field,
                         const coord_param_t *p, coord_pval_t *v, int *index)
{
    char s[48];
    *index = 0;
    switch (p->dist) {
    case COORD_PDIST_VALUE:
    case COORD_PDIST_VALUES:
    case COORD_PDIST_CATEGORICAL:
        for (int j = 0; j < p->n_values; j++)
            if (pval_equal(p, &p->values[j], v)) {
                *index = j;
                *v = p->values[j];  // canonical spelling (zeros -> zero)
                return 0;
            }
        return FAIL_AT(c, n, field, "%s is not one of parameters.%s.%s",
                       n->type == Y_SCALAR ? SHOWN(n, s) : "the list", p->name,
                       p->dist == COORD_PDIST_VALUE ? "value" : "values");
    default:
        break;
    }
    if (!(v->num >= p->min && v->num <= p->max))
        return FAIL_AT(c, n, field, "%s is outside the distribution's range [%.17g, %.17g]",
                       SHOWN(n, s), p->min, p->max);
    if (p->q > 0 && p->dist != COORD_PDIST_INT_UNIFORM) {
        if (!on_lattice(v->num, p->q))
            return FAIL_AT(c, n, field, "%s is not a multiple of q (%.17g)", SHOWN(n, s), p->q);
        v->num = round(v->num / p->q) * p->q;
    }
    return 0;
}

/* start: X, checked against the parameter's form. */
static int parse_start(const pctx_t *c, const ynode_t *n, const char *pf, const pdef_t *d,
                       coord_param_t *p)
{
    char f[160];
    (void)d;
    snprintf(f, sizeof f, "%s.start", pf);
    coord_pval_t v;
    int rc = get_pval_p(c, n, f, p, &v);
    if (rc == 0)
        rc = check_in_dist(c, n, f, p, &v, &p->start_index);
    if (rc)
        return rc;
    p->start = v;
    p->has_start = true;
    return 0;
}

/* Index of the parameter named by key k among params[0..n), or -1. */
/* hptune's name for the parameter a spec calls `text`: its own name in any
 * case, or the target of an alias (lr -> learning_rate); NULL when neither. */
static const char *canonical_name(const char *text)
{
    for (int i = 0; i < P__COUNT; i++)
        if (coord_alias_same(pdefs[i].name, text))
            return pdefs[i].name;
    const coord_alias_t *a = coord_alias_find(COORD_ALIAS_PARAM, text);
    return a ? a->target : NULL;
}

/* Index of the parameter named by key k (any name canonical_name reads)
 * among params[0..n), or -1. */
static int param_index(const coord_param_t *params, int n, const ynode_t *k)
{
    if (!k || k->type != Y_SCALAR || memchr(k->text, '\0', k->len))
        return -1;
    const char *name = canonical_name(k->text);
    for (int i = 0; i < n && name; i++)
        if (strcmp(params[i].name, name) == 0)
            return i;
    return -1;
}

/* Whether parameter `parent` can take a value in [lo, hi]. */
static bool range_reachable(const coord_param_t *parent, double lo, double hi)
{
    switch (parent->dist) {
    case COORD_PDIST_VALUE:
    case COORD_PDIST_VALUES:
    case COORD_PDIST_CATEGORICAL:
        for (int j = 0; j < parent->n_values; j++)
            if (parent->values[j].num >= lo && parent->values[j].num <= hi)
                return true;
        return false;
    case COORD_PDIST_Q_UNIFORM: {
        /* A multiple of q inside both [min, max] and [lo, hi]. */
        double a = fmax(lo, parent->min), b = fmin(hi, parent->max);
        return a <= b && ceil(a / parent->q - 1e-9) <= floor(b / parent->q + 1e-9);
    }
    case COORD_PDIST_INT_UNIFORM:
        return ceil(fmax(lo, parent->min)) <= floor(fmin(hi, parent->max));
    default:
        return fmax(lo, parent->min) <= fmin(hi, parent->max);
    }
}

/* when: {name: [values...]} or {name: {min: X, max: Y}}, ANDed.  The named
 * parameters must come earlier in spec->params (params[0..self)), which
 * keeps conditions acyclic and lets every strategy decide activity in one
 * pass in spec order.  pnode is the whole parameters mapping, to tell "comes
 * later" from "not a parameter". */
static int parse_when(const pctx_t *c, const ynode_t *n, const char *pf, coord_spec_t *spec,
                      int self, const ynode_t *pnode)
{
    char f[160], kf[224], dsc[96], s[48];
    coord_param_t *p = &spec->params[self];
    snprintf(f, sizeof f, "%s.when", pf);
    if (!n || n->type != Y_MAP)
        return FAIL_AT(c, n, f, "expected a mapping of conditions (parameter: [values] or "
                       "parameter: {min, max}), got %s", describe(n, dsc, sizeof dsc));
    if (n->n == 0)
        return FAIL_AT(c, n, f, "must name at least one parameter");
    if (n->n / 2 > COORD_SPEC_MAX_WHEN)
        return FAIL_AT(c, n, f, "at most %d conditions", COORD_SPEC_MAX_WHEN);
    int rc = 0;
    for (int i = 0; i + 1 < n->n; i += 2) {
        const ynode_t *k = n->kids[i], *v = n->kids[i + 1];
        if (k->type != Y_SCALAR || is_null(k) || memchr(k->text, '\0', k->len)) {
            KEEP(rc, FAIL_AT(c, k, f, "keys must be names, got %s",
                             describe(k, dsc, sizeof dsc)));
            continue;
        }
        snprintf(kf, sizeof kf, "%s.%s", f, SHOWN(k, s));
        bool dup = false;
        for (int j = 0; j < i && !dup; j += 2)
            if (n->kids[j]->type == Y_SCALAR && strcmp(n->kids[j]->text, k->text) == 0) {
                KEEP(rc, FAIL_AT(c, k, kf, "duplicate key (first given at %d:%d)",
                                 n->kids[j]->line, n->kids[j]->col));
                dup = true;
            }
        if (dup)
            continue;
        int pi = param_index(spec->params, self, k);
        if (pi < 0) {
            const char *kname = canonical_name(k->text);
            if (kname && strcmp(kname, p->name) == 0) {
                KEEP(rc, FAIL_AT(c, k, kf, "a parameter cannot depend on itself"));
                continue;
            }
            bool later = false;
            for (int j = 0; j + 1 < pnode->n && kname; j += 2) {
                const char *o = pnode->kids[j]->type == Y_SCALAR
                                    ? canonical_name(pnode->kids[j]->text)
                                    : NULL;
                later |= o && strcmp(o, kname) == 0;
            }
            if (later)
                KEEP(rc, FAIL_AT(c, k, kf, "%s must be listed before %s in parameters "
                                 "(a condition reads an earlier parameter)", SHOWN(k, s),
                                 p->name));
            else
                KEEP(rc, FAIL_AT(c, k, kf, "%s is not in parameters", SHOWN(k, s)));
            continue;
        }
        if (c->st->param_bad[pi])
            continue;  // its own errors are reported; its values cannot be trusted
        const coord_param_t *parent = &spec->params[pi];
        coord_when_t *w = &p->when[p->n_when];
        *w = (coord_when_t){.param = pi, .line = k->line, .col = k->col};
        p->n_when++;  // counted now so that destroy frees w->values on failure
        if (v && v->type == Y_SEQ) {
            if (v->n == 0) {
                KEEP(rc, FAIL_AT(c, v, kf, "must not be empty"));
                continue;
            }
            if (v->n > COORD_SPEC_MAX_VALUES) {
                KEEP(rc, FAIL_AT(c, v, kf, "has %d values (at most %d)", v->n,
                                 COORD_SPEC_MAX_VALUES));
                continue;
            }
            w->values = calloc((size_t)v->n, sizeof *w->values);
            if (!w->values)
                return oom(c);
            for (int j = 0; j < v->n; j++) {
                char ef[256];
                snprintf(ef, sizeof ef, "%s[%d]", kf, j);
                coord_pval_t x;
                int idx, r = get_pval_p(c, v->kids[j], ef, parent, &x);
                if (r == 0)
                    r = check_in_dist(c, v->kids[j], ef, parent, &x, &idx);
                KEEP(rc, r);
                if (r == 0)
                    w->values[w->n_values++] = x;
            }
        } else if (v && v->type == Y_MAP) {
            static const char *const rkeys[] = {"min", "max"};
            const ynode_t *rk[2], *rv[2];
            int r = check_map(c, v, kf, rkeys, 2, "key", NULL, rk, rv);
            if (r) {
                KEEP(rc, r);
                continue;
            }
            if (parent->kind != COORD_PKIND_INT && parent->kind != COORD_PKIND_FLOAT) {
                KEEP(rc, FAIL_AT(c, v, kf, "a range needs a numeric parameter; %s takes %s "
                                 "(use a list of values)", parent->name,
                                 parent->kind == COORD_PKIND_BOOL ? "booleans" : "names"));
                continue;
            }
            if (!rk[0] && !rk[1]) {
                KEEP(rc, FAIL_AT(c, v, kf, "a range needs min, max or both"));
                continue;
            }
            w->is_range = true;
            w->min = -INFINITY;
            w->max = INFINITY;
            char rf[256];
            snprintf(rf, sizeof rf, "%s.min", kf);
            if (rk[0])
                KEEP(r, get_num(c, rv[0], rf, &w->min));
            snprintf(rf, sizeof rf, "%s.max", kf);
            if (rk[1]) {
                int rm = 0;
                KEEP(rm, get_num(c, rv[1], rf, &w->max));
                if (r == 0)
                    r = rm;
            }
            if (r == 0 && w->min > w->max)
                r = FAIL_AT(c, rv[1], rf, "must not be less than min");
            if (r == 0 && !range_reachable(parent, w->min, w->max))
                r = FAIL_AT(c, v, kf, "never holds: %s takes no value in [%g, %g]",
                            parent->name, w->min, w->max);
            KEEP(rc, r);
        } else {
            KEEP(rc, FAIL_AT(c, v, kf, "expected a list of values or {min, max}, got %s",
                             describe(v, dsc, sizeof dsc)));
        }
    }
    return rc;
}

/* One parameter: spec->params[self], from key (its name) and mapping n.
 * Every problem is reported: bad keys, the form's values, start, when. */
static int parse_param(const pctx_t *c, const ynode_t *key, const char *written,
                       const ynode_t *n, const pdef_t *d, coord_spec_t *spec, int self,
                       const ynode_t *pnode)
{
    char pf[128], dsc[96];
    coord_param_t *p = &spec->params[self];
    snprintf(pf, sizeof pf, "parameters.%s", written);
    *p = (coord_param_t){.kind = d->kind, .line = key->line, .col = key->col};
    snprintf(p->name, sizeof p->name, "%s", d->name);
    if (strcmp(written, d->name) != 0)
        snprintf(p->written, sizeof p->written, "%s", written);

    if (!n || n->type != Y_MAP)
        return FAIL_AT(c, n, pf, "expected a mapping (value, values or distribution), got %s",
                       describe(n, dsc, sizeof dsc));
    const ynode_t *keys[K__COUNT], *vals[K__COUNT];
    int rc = 0;
    KEEP(rc, check_map(c, n, pf, param_keys, K__COUNT, "key", NULL, keys, vals));
    /* With a misspelt key the form may be missing only because of it: then
     * that key's error says all there is to say. */
    bool any_form = keys[K_VALUE] || keys[K_VALUES] || keys[K_DISTRIBUTION] || keys[K_MIN] ||
                    keys[K_MAX];
    int rf = 0;
    if (rc == 0 || any_form)
        KEEP(rf, parse_form(c, n, pf, d, p, keys, vals));
    if (rf == 0 && keys[K_START] && (rc == 0 || any_form))
        KEEP(rf, parse_start(c, vals[K_START], pf, d, p));
    if (rc == 0)
        rc = rf;
    if (keys[K_WHEN])
        KEEP(rc, parse_when(c, vals[K_WHEN], pf, spec, self, pnode));
    return rc;
}

// ----------------------------------------------------------------------------
// Applying values to hyperparameters

/* Check v against d; on failure err names the parameter.  An enum value
 * may be an alias that implies more (optimizer momentum): *alias gets it. */
static int check_pval(const pdef_t *d, const coord_pval_t *v, int *ival,
                      const coord_alias_t **alias, hpt_err *err)
{
    char r[64];
    switch (d->kind) {
    case COORD_PKIND_INT:
        if (!isfinite(v->num) || v->num != floor(v->num))
            return hpt_err_set(err, -EINVAL, "%s: %g is not an integer", d->name, v->num);
        if (v->num < d->lo || v->num > d->hi)
            return hpt_err_set(err, -EINVAL, "%s: %.0f is out of range %s", d->name, v->num,
                               range_text(d, r, sizeof r));
        *ival = d->hi <= 2147483647.0 ? (int)v->num : 0;
        return 0;
    case COORD_PKIND_FLOAT:
        if (!in_range(d, v->num))
            return hpt_err_set(err, -EINVAL, "%s: %g is out of range %s", d->name, v->num,
                               range_text(d, r, sizeof r));
        return 0;
    case COORD_PKIND_BOOL:
        if (v->num != 0 && v->num != 1)
            return hpt_err_set(err, -EINVAL, "%s: %g is not a boolean (0 or 1)", d->name,
                               v->num);
        *ival = v->num != 0;
        return 0;
    case COORD_PKIND_ENUM: {
        char s[48], allowed[1024];
        if (!memchr(v->str, '\0', sizeof v->str) ||
            (*ival = enum_lookup(d, v->str, NULL, alias)) < 0)
            return hpt_err_set(err, -EINVAL, "%s: unknown %s '%s' (allowed: %s)", d->name,
                               d->name, shown(v->str, strnlen(v->str, sizeof v->str), s,
                                              sizeof s),
                               enum_allowed(d, allowed, sizeof allowed));
        return 0;
    }
    case COORD_PKIND_ARCH:
        break;
    }
    return hpt_err_set(err, -EINVAL, "%s: unsupported parameter kind", d->name);
}

/* Apply value v of parameter p (hyperparameter id) to hp.  *implied gets
 * the momentum an optimizer alias implies (0 when none). */
static int apply_one(param_id_t id, const coord_param_t *p, const coord_pval_t *v,
                     hpt_hparams_t *hp, double *implied, hpt_err *err)
{
    const pdef_t *d = &pdefs[id];
    int iv = 0;
    if (id == P_HIDDEN_SIZES) {
        int k = (int)v->num;
        if (!p->arch || v->num != floor(v->num) || k < 0 || k >= p->n_values)
            return hpt_err_set(err, -EINVAL, "hidden_sizes: %g is not one of its values",
                               v->num);
        const int *row = p->arch + (size_t)k * ARCH_ROW;
        hp->layers = row[0];
        for (int i = 0; i < HPT_MAX_LAYERS; i++)
            hp->units[i] = row[1 + (i < row[0] ? i : row[0] - 1)];
        return 0;
    }
    const coord_alias_t *alias = NULL;
    int rc = check_pval(d, v, &iv, &alias, err);
    if (rc)
        return rc;
    switch (id) {
    case P_LAYERS: hp->layers = iv; break;
    case P_UNITS:
        for (int i = 0; i < HPT_MAX_LAYERS; i++)
            hp->units[i] = iv;
        break;
    case P_ACTIVATION: hp->activation = (hpt_act_t)iv; break;
    case P_INIT_MODE: hp->init_mode = (hpt_init_t)iv; break;
    case P_OPTIMIZER:
        hp->optimizer = (hpt_opt_t)iv;
        if (alias && alias->momentum > 0)
            *implied = alias->momentum;
        break;
    case P_LEARNING_RATE: hp->learning_rate = v->num; break;
    case P_MOMENTUM: hp->momentum = v->num; break;
    case P_NESTEROV: hp->nesterov = iv != 0; break;
    case P_DROPOUT: hp->dropout = v->num; break;
    case P_INPUT_DROPOUT: hp->input_dropout = v->num; break;
    case P_WEIGHT_CONSTRAINT: hp->weight_constraint = v->num; break;
    case P_WEIGHT_DECAY: hp->weight_decay = v->num; break;
    case P_BATCH_SIZE: hp->batch_size = iv; break;
    case P_EPOCHS: hp->epochs = iv; break;
    case P_SEED: hp->seed = (uint64_t)v->num; break;
    default:
        if (id >= P_UNITS_1 && id <= P_UNITS_8)
            hp->units[id - P_UNITS_1] = iv;
        break;
    }
    return 0;
}

/* Apply vals (one per param) over hp: `units` and everything else in spec
 * order first, then the per-layer units_N, so that units_N overrides units
 * wherever it appears in the spec.  Absent values and nulls leave the
 * hyperparameter as it is.  An optimizer alias that implies momentum
 * (momentum, nag) sets it when no momentum value is applied. */
static int apply_all(const coord_param_t *params, int n, const coord_pval_t *const *vals,
                     hpt_hparams_t *hp, hpt_err *err)
{
    double implied = 0;
    bool momentum_set = false;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            param_id_t id;
            if (!pdef_find(params[i].name, &id))
                return hpt_err_set(err, -EINVAL, "%.31s: unknown parameter", params[i].name);
            bool per_layer = id >= P_UNITS_1 && id <= P_UNITS_8;
            if (per_layer != (pass == 1) || !vals[i] || vals[i]->absent ||
                coord_pval_is_null(vals[i]))
                continue;
            int rc = apply_one(id, &params[i], vals[i], hp, &implied, err);
            if (rc)
                return rc;
            momentum_set |= id == P_MOMENTUM;
        }
    if (implied > 0 && !momentum_set)
        hp->momentum = implied;
    return 0;
}

// ----------------------------------------------------------------------------
// Top level

/* hptune's keys, then W&B's (read by coord_spec_wandb.c, in its W_* order). */
enum {
    T_NAME, T_DATASET, T_METRIC, T_METHOD, T_CV, T_REFIT, T_SCORE_TRAIN, T_PRIORITY, T_SEED,
    T_MODEL_SEED, T_BUDGET, T_PARAMETERS, T_TPE, T_COORDINATE, T_HYPERBAND, T_ASHA, T_ALPHA,
    T_TEST_OBJECTIVE, T_ENQUEUE, T_SELECT, T_WANDB, T__COUNT = T_WANDB + W__COUNT
};
static const char *const top_keys[T__COUNT] = {
    "name", "dataset", "metric", "method", "cv", "refit", "score_train", "priority", "seed",
    "model_seed", "budget", "parameters", "tpe", "coordinate", "hyperband", "asha", "alpha",
    "test_objective", "enqueue", "select",
    [T_WANDB + W_RUN_CAP] = "run_cap", [T_WANDB + W_EARLY_TERMINATE] = "early_terminate",
    [T_WANDB + W_DESCRIPTION] = "description", [T_WANDB + W_PROGRAM] = "program",
    [T_WANDB + W_COMMAND] = "command", [T_WANDB + W_PROJECT] = "project",
    [T_WANDB + W_ENTITY] = "entity", [T_WANDB + W_JOB] = "job",
    [T_WANDB + W_IMAGE_URI] = "image_uri", [T_WANDB + W_CONTROLLER] = "controller",
    [T_WANDB + W_API_VERSION] = "apiVersion", [T_WANDB + W_KIND] = "kind",
    [T_WANDB + W_SCHEDULER] = "scheduler", [T_WANDB + W_METRICS] = "metrics",
};

/* tpe.startup: how the start-up trials are drawn (coord_tpe_cfg_t.stratified). */
static const char *const tpe_startup_names[] = {"random", "stratified"};

/* model_seed: which trials share a split's model seed. */
static const char *const model_seed_names[] = {"shared", "per_trial"};
#define MODEL_SEED_NAMES_TEXT "shared, per_trial"

static const char *const method_names[COORD_METHOD__COUNT] = {
    [COORD_METHOD_GRID] = "grid",           [COORD_METHOD_RANDOM] = "random",
    [COORD_METHOD_BAYES] = "bayes",         [COORD_METHOD_COORDINATE] = "coordinate",
    [COORD_METHOD_HYPERBAND] = "hyperband", [COORD_METHOD_ASHA] = "asha",
};
#define METHOD_NAMES_TEXT "grid, random, bayes, coordinate, hyperband, asha"

/* test_objective: what --dry-run workers score instead of training (worker/). */
static const char *const test_objectives[] = {"hash", "bowl", "noisy"};
#define TEST_OBJECTIVES_TEXT "hash, bowl, noisy"

static int parse_name(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    const char *s;
    int rc = get_str(c, n, "name", sizeof spec->name - 1, &s);
    if (rc)
        return rc;
    if (!*s)
        return FAIL_AT(c, n, "name", "must not be empty");
    for (const char *q = s; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7F)
            return FAIL_AT(c, n, "name", "must not contain control characters");
    snprintf(spec->name, sizeof spec->name, "%s", s);
    return 0;
}

static int parse_dataset(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    const char *s;
    char dsc[96];
    int rc = get_str(c, n, "dataset", sizeof spec->dataset - 1, &s);
    if (rc)
        return rc;
    if (strncmp(s, "idx:", 4) == 0) {
        if (!s[4])
            return FAIL_AT(c, n, "dataset", "idx: needs a directory, e.g. idx:/data/mnist");
        for (const char *q = s; *q; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7F)
                return FAIL_AT(c, n, "dataset", "must not contain control characters");
    } else if (!hpt_dataset_is_named(s)) {
        return FAIL_AT(c, n, "dataset", "unknown dataset %s (allowed: " HPT_DATASET_NAMES_TEXT
                       ", idx:/path/to/dir)", describe(n, dsc, sizeof dsc));
    }
    snprintf(spec->dataset, sizeof spec->dataset, "%s", s);
    spec->dataset_line = n ? n->line : 1;
    spec->dataset_col = n ? n->col : 1;
    return 0;
}

static int parse_metric(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    static const char *const keys_[] = {"name", "goal", "target"};
    static const char *const goals[] = {"maximize", "minimize"};
    static const char *const metrics[] = {"accuracy", "log_loss", "f1_macro"};
    const ynode_t *keys[3], *vals[3];
    char dsc[96], hint[96];
    int rc = check_map(c, n, "metric", keys_, 3, "key", NULL, keys, vals);
    if (rc == -ENOMEM)
        return rc;
    bool name_ok = true;
    (void)metrics;
    if (keys[0]) {
        c->st->metric_name = vals[0];
        int r = coord__wandb_metric_name(c, vals[0], spec);
        KEEP(rc, r);
        name_ok = r == 0;
    }
    spec->maximize = hpt_metric_maximize(spec->metric);
    if (keys[2]) {
        int r = get_num(c, vals[2], "metric.target", &spec->target);
        KEEP(rc, r);
        spec->has_target = r == 0;
    }
    c->st->goal_given = keys[1] != NULL;
    if (keys[1]) {
        const ynode_t *v = vals[1];
        int g = lookup_name(v, goals, 2);
        if (g < 0)
            KEEP(rc, FAIL_AT(c, v, "metric.goal", "unknown goal %s%s (allowed: maximize, "
                             "minimize)", describe(v, dsc, sizeof dsc),
                             did_you_mean(v, goals, 2, hint, sizeof hint)));
        else if (name_ok && (g == 0) != spec->maximize)
            KEEP(rc, FAIL_AT(c, v, "metric.goal", "%s is %s, not %s (allowed: %s)",
                             hpt_metric_name(spec->metric),
                             spec->maximize ? "maximized" : "minimized",
                             spec->maximize ? "minimized" : "maximized",
                             spec->maximize ? "maximize" : "minimize"));
    }
    if (rc)
        c->st->metric_bad = true;
    return rc;
}

static int parse_method(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    char dsc[96], hint[96];
    int m = lookup_name(n, method_names, COORD_METHOD__COUNT);
    if (m >= 0) {
        spec->method = (coord_method_t)m;
        return 0;
    }
    c->st->method_bad = true;
    if (!n || n->type != Y_SCALAR || is_null(n))
        return FAIL_AT(c, n, "method",
                       "expected a method name, got %s (allowed: " METHOD_NAMES_TEXT ")",
                       describe(n, dsc, sizeof dsc));
    return FAIL_AT(c, n, "method", "unknown method %s%s (allowed: " METHOD_NAMES_TEXT ")",
                   describe(n, dsc, sizeof dsc),
                   did_you_mean(n, method_names, COORD_METHOD__COUNT, hint, sizeof hint));
}

static int parse_cv(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    static const char *const keys_[] = {"folds", "stratified", "shuffle", "seed", "repeats",
                                        "seeds"};
    const ynode_t *keys[6], *vals[6];
    long long v;
    int rc = 0;
    KEEP(rc, check_map(c, n, "cv", keys_, 6, "key", NULL, keys, vals));
    if (keys[0]) {
        int r = get_int(c, vals[0], "cv.folds", 2, 100, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->cv.folds = (int)v;
    }
    if (keys[1])
        KEEP(rc, get_bool(c, vals[1], "cv.stratified", &spec->cv.stratified));
    if (keys[2])
        KEEP(rc, get_bool(c, vals[2], "cv.shuffle", &spec->cv.shuffle));
    if (keys[3])
        KEEP(rc, get_u64(c, vals[3], "cv.seed", &spec->cv.seed));
    if (keys[4]) {
        int r = get_int(c, vals[4], "cv.repeats", 1, 100, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->cv.repeats = (int)v;
    }
    if (keys[5]) {
        int r = get_int(c, vals[5], "cv.seeds", 1, 100, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->seeds = (int)v;
    }
    return rc;
}

static int parse_tpe(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    static const char *const keys_[] = {"n_startup", "n_candidates", "gamma", "prior_weight",
                                        "constant_liar", "multivariate", "startup",
                                        "equal_heights"};
    const ynode_t *keys[8], *vals[8];
    long long v;
    char s[48];
    int rc = 0;
    KEEP(rc, check_map(c, n, "tpe", keys_, 8, "key", NULL, keys, vals));
    if (keys[0]) {
        int r = get_int(c, vals[0], "tpe.n_startup", 0, 1000000, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->tpe.n_startup = (int)v;
    }
    if (keys[1]) {
        int r = get_int(c, vals[1], "tpe.n_candidates", 1, 10000, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->tpe.n_candidates = (int)v;
    }
    if (keys[2]) {
        int r = get_num(c, vals[2], "tpe.gamma", &spec->tpe.gamma);
        if (r == 0 && !(spec->tpe.gamma > 0 && spec->tpe.gamma <= 1))
            r = FAIL_AT(c, vals[2], "tpe.gamma", "%s is out of range (0, 1]", SHOWN(vals[2], s));
        KEEP(rc, r);
    }
    if (keys[3]) {
        int r = get_num(c, vals[3], "tpe.prior_weight", &spec->tpe.prior_weight);
        if (r == 0 && !(spec->tpe.prior_weight > 0 && spec->tpe.prior_weight <= 1e6))
            r = FAIL_AT(c, vals[3], "tpe.prior_weight", "%s is out of range (0, 1e6]",
                        SHOWN(vals[3], s));
        KEEP(rc, r);
    }
    if (keys[4])
        KEEP(rc, get_bool(c, vals[4], "tpe.constant_liar", &spec->tpe.constant_liar));
    if (keys[5])
        KEEP(rc, get_bool(c, vals[5], "tpe.multivariate", &spec->tpe.multivariate));
    if (keys[7])
        KEEP(rc, get_bool(c, vals[7], "tpe.equal_heights", &spec->tpe.equal_heights));
    if (keys[6]) {
        const char *str;
        int r = get_str(c, vals[6], "tpe.startup", 1024, &str);
        if (r == 0) {
            int k = lookup_name(vals[6], tpe_startup_names, 2);
            char dsc[96], hint[96];
            if (k < 0)
                r = FAIL_AT(c, vals[6], "tpe.startup", "unknown startup design %s%s (allowed: "
                            "random, stratified)", describe(vals[6], dsc, sizeof dsc),
                            did_you_mean(vals[6], tpe_startup_names, 2, hint, sizeof hint));
            else
                spec->tpe.stratified = k == 1;
        }
        KEEP(rc, r);
    }
    return rc;
}

static int parse_coordinate(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    static const char *const keys_[] = {"rounds"};
    const ynode_t *keys[1], *vals[1];
    long long v;
    int rc = 0;
    KEEP(rc, check_map(c, n, "coordinate", keys_, 1, "key", NULL, keys, vals));
    if (keys[0]) {
        int r = get_int(c, vals[0], "coordinate.rounds", 1, 1000, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->rounds = (int)v;
    }
    return rc;
}

/* asha: {min_epochs, max_epochs, eta} or hyperband: {..., iterations}, into
 * spec->sh (check_spec calls it for the spec's method, after refusing a
 * block of another method).  The rungs need min_epochs * eta <= max_epochs:
 * with one rung there is nothing to halve. */
static int parse_sh(const pctx_t *c, const ynode_t *n, const char *field, bool hyperband,
                    coord_spec_t *spec)
{
    static const char *const keys_[] = {"min_epochs", "max_epochs", "eta", "iterations"};
    const ynode_t *keys[4], *vals[4];
    char f[48];
    long long v;
    int rc = 0;
    KEEP(rc, check_map(c, n, field, keys_, hyperband ? 4 : 3, "key", NULL, keys, vals));
    coord_sh_cfg_t *sh = &spec->sh;
    bool min_ok = true;
    if (keys[0]) {
        snprintf(f, sizeof f, "%s.min_epochs", field);
        int r = get_int(c, vals[0], f, 1, 10000, &v);
        KEEP(rc, r);
        if (r == 0)
            sh->min_epochs = (int)v;
        min_ok = r == 0;
    }
    if (keys[1]) {
        snprintf(f, sizeof f, "%s.max_epochs", field);
        int r = get_int(c, vals[1], f, min_ok ? sh->min_epochs : 1, 10000, &v);
        KEEP(rc, r);
        if (r == 0)
            sh->max_epochs = (int)v;
    }
    if (keys[2]) {
        snprintf(f, sizeof f, "%s.eta", field);
        int r = get_int(c, vals[2], f, 2, 100, &v);
        KEEP(rc, r);
        if (r == 0)
            sh->eta = (int)v;
    }
    if (hyperband && keys[3]) {
        snprintf(f, sizeof f, "%s.iterations", field);
        int r = get_int(c, vals[3], f, 1, 100, &v);
        KEEP(rc, r);
        if (r == 0)
            sh->iterations = (int)v;
    }
    if (rc)
        return rc;
    long need = (long)sh->min_epochs * sh->eta;
    if (need > sh->max_epochs) {
        snprintf(f, sizeof f, "%s.max_epochs", field);
        return FAIL_AT(c, keys[1] ? vals[1] : n, f,
                       "must be at least min_epochs * eta = %d * %d = %ld for 2 rungs (got %s%d)",
                       sh->min_epochs, sh->eta, need, keys[1] ? "" : "the default ",
                       sh->max_epochs);
    }
    return 0;
}

/* The rungs of spec->sh (checked by parse_sh): K is the largest k with
 * min_epochs * eta^k <= max_epochs, and rung k trains max_epochs / eta^(K-k)
 * epochs, rounded.  Each rung is at least min_epochs (max / eta^K >=
 * min_epochs) and rounding keeps them strictly increasing (neighbours differ
 * by a factor eta >= 2 and are >= 1 apart before rounding). */
static void sh_derive(coord_sh_cfg_t *sh)
{
    int k = 0;
    long e = sh->min_epochs;
    while (k + 1 < COORD_SH_MAX_RUNGS && e * sh->eta <= sh->max_epochs) {
        e *= sh->eta;
        k++;
    }
    sh->n_rungs = k + 1;
    double x = sh->max_epochs;
    for (int r = k; r >= 0; r--) {
        sh->rung_epochs[r] = (int)floor(x + 0.5);
        x /= sh->eta;
    }
}

/* Append the `epochs` parameter that asha and hyperband set per trial: a
 * list of the rung epochs, starting (and enqueued) at the first rung.  It is
 * declared where the method is. */
static int add_resource_param(const pctx_t *c, const ynode_t *at, coord_spec_t *spec)
{
    if (spec->n_params >= COORD_SPEC_MAX_PARAMS)
        return FAIL_AT(c, at, "parameters", "at most %d parameters with method %s",
                       COORD_SPEC_MAX_PARAMS - 1, coord_method_name(spec->method));
    const coord_sh_cfg_t *sh = &spec->sh;
    coord_param_t *p = &spec->params[spec->n_params];
    *p = (coord_param_t){.kind = COORD_PKIND_INT, .dist = COORD_PDIST_VALUES,
                         .line = at ? at->line : 1, .col = at ? at->col : 1};
    snprintf(p->name, sizeof p->name, "epochs");
    p->values = calloc((size_t)sh->n_rungs, sizeof *p->values);
    if (!p->values)
        return oom(c);
    for (int r = 0; r < sh->n_rungs; r++)
        p->values[r].num = sh->rung_epochs[r];
    p->n_values = sh->n_rungs;
    spec->resource_param = spec->n_params++;
    return 0;
}

static int parse_alpha(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    char s[48];
    int rc = get_num(c, n, "alpha", &spec->alpha);
    if (rc)
        return rc;
    if (!(spec->alpha > 0 && spec->alpha <= 0.5))
        return FAIL_AT(c, n, "alpha", "%s is out of range (0, 0.5]", SHOWN(n, s));
    return 0;
}

/* select: {race, top, max_repeats, budget_tasks, tie_break}: racing the
 * leaders after the search (coord_race_cfg_t). */
static int parse_select(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    static const char *const keys_[] = {"race", "top", "max_repeats", "budget_tasks",
                                        "tie_break"};
    static const char *const ties[] = {"cheapest", "best_mean"};
    const ynode_t *keys[5], *vals[5];
    long long v;
    int rc = 0;
    KEEP(rc, check_map(c, n, "select", keys_, 5, "key", NULL, keys, vals));
    if (keys[0])
        KEEP(rc, get_bool(c, vals[0], "select.race", &spec->race.on));
    if (keys[1]) {
        int r = get_int(c, vals[1], "select.top", 2, COORD_RACE_MAX_TOP, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->race.top = (int)v;
    }
    if (keys[2]) {
        int r = get_int(c, vals[2], "select.max_repeats", 1, 100, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->race.max_repeats = (int)v;
    }
    if (keys[3]) {
        int r = get_int(c, vals[3], "select.budget_tasks", 0, 100000000, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->race.budget_tasks = (long)v;
    }
    if (keys[4]) {
        const char *s;
        int r = get_str(c, vals[4], "select.tie_break", 64, &s);
        if (r == 0) {
            int k = lookup_name(vals[4], ties, 2);
            if (k < 0)
                r = FAIL_AT(c, vals[4], "select.tie_break",
                            "unknown tie-break '%s' (allowed: cheapest, best_mean)", s);
            else
                spec->race.tie_best_mean = k == 1;
        }
        KEEP(rc, r);
    }
    return rc;
}

static int parse_test_objective(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    char dsc[96];
    const char *s;
    int rc = get_str(c, n, "test_objective", 1024, &s);
    if (rc)
        return rc;
    int k = lookup_name(n, test_objectives, 3);
    char hint[96];
    if (k < 0)
        return FAIL_AT(c, n, "test_objective",
                       "unknown test objective %s%s (allowed: " TEST_OBJECTIVES_TEXT ")",
                       describe(n, dsc, sizeof dsc),
                       did_you_mean(n, test_objectives, 3, hint, sizeof hint));
    snprintf(spec->test_objective, sizeof spec->test_objective, "%s", test_objectives[k]);
    return 0;
}

static int parse_model_seed(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    char dsc[96];
    const char *s;
    int rc = get_str(c, n, "model_seed", 1024, &s);
    if (rc)
        return rc;
    int k = lookup_name(n, model_seed_names, 2);
    char hint[96];
    if (k < 0)
        return FAIL_AT(c, n, "model_seed", "unknown model_seed %s%s (allowed: "
                       MODEL_SEED_NAMES_TEXT ")", describe(n, dsc, sizeof dsc),
                       did_you_mean(n, model_seed_names, 2, hint, sizeof hint));
    spec->seed_per_trial = k == 1;
    return 0;
}

/* enqueue: a sequence of mappings parameter -> value, checked against the
 * parameters (so it runs after them, whatever the document order).  Rows
 * are filled in spec order: a parameter whose when: does not hold is absent
 * (and must not be given); one not given takes its constant, its start:, or
 * its first value, and a distribution without start: must be given. */
static int parse_enqueue(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    char dsc[96], f[96], kf[160], s[48], names[2048], hint[96];
    if (!n || n->type != Y_SEQ)
        return FAIL_AT(c, n, "enqueue", "expected a sequence of trials (mappings of parameter: "
                       "value), got %s", describe(n, dsc, sizeof dsc));
    if (n->n == 0)
        return FAIL_AT(c, n, "enqueue", "must list at least one trial");
    if (n->n > COORD_SPEC_MAX_ENQUEUE)
        return FAIL_AT(c, n, "enqueue", "has %d trials (at most %d)", n->n,
                       COORD_SPEC_MAX_ENQUEUE);
    int np = spec->n_params;
    spec->enqueue = calloc((size_t)n->n * (size_t)(np > 0 ? np : 1), sizeof *spec->enqueue);
    if (!spec->enqueue)
        return oom(c);
    /* The spec's parameters, for messages and suggestions (32 names of at
     * most 31 bytes fit names[] whole). */
    const char *pn[COORD_SPEC_MAX_PARAMS];
    int npn = 0;
    for (int i = 0; i < np; i++)
        if (i != spec->resource_param)
            pn[npn++] = spec->params[i].name;
    join_names(pn, npn, names, sizeof names);
    int rc = 0;
    for (int r = 0; r < n->n; r++) {
        const ynode_t *e = n->kids[r];
        coord_pval_t *row = spec->enqueue + (size_t)r * (size_t)np;
        snprintf(f, sizeof f, "enqueue[%d]", r);
        if (e->type != Y_MAP) {
            KEEP(rc, FAIL_AT(c, e, f, "expected a mapping of parameter: value, got %s",
                             describe(e, dsc, sizeof dsc)));
            continue;
        }
        const ynode_t *gk[COORD_SPEC_MAX_PARAMS] = {0}, *gv[COORD_SPEC_MAX_PARAMS] = {0};
        int row_rc = 0;
        for (int i = 0; i + 1 < e->n; i += 2) {
            const ynode_t *k = e->kids[i];
            if (k->type != Y_SCALAR || is_null(k) || memchr(k->text, '\0', k->len)) {
                KEEP(row_rc, FAIL_AT(c, k, f, "keys must be names, got %s",
                                     describe(k, dsc, sizeof dsc)));
                continue;
            }
            snprintf(kf, sizeof kf, "%s.%s", f, SHOWN(k, s));
            int pi = param_index(spec->params, np, k);
            if (pi >= 0 && pi == spec->resource_param)
                KEEP(row_rc, FAIL_AT(c, k, kf, "epochs is the budget of method %s: enqueued "
                                     "trials start at the first rung (%d epoch%s)",
                                     coord_method_name(spec->method), spec->sh.rung_epochs[0],
                                     spec->sh.rung_epochs[0] == 1 ? "" : "s"));
            else if (pi < 0)
                KEEP(row_rc, FAIL_AT(c, k, kf, "not a parameter of this spec%s (parameters: "
                                     "%s)", did_you_mean(k, pn, npn, hint, sizeof hint),
                                     names));
            else if (gk[pi])
                KEEP(row_rc, FAIL_AT(c, k, kf, "duplicate key (first given at %d:%d)",
                                     gk[pi]->line, gk[pi]->col));
            else {
                gk[pi] = k;
                gv[pi] = e->kids[i + 1];
            }
        }
        /* Values in spec order: whether a parameter applies depends on the
         * values before it, so the row stops at its first bad value. */
        for (int i = 0; i < np && row_rc == 0; i++) {
            const coord_param_t *p = &spec->params[i];
            snprintf(kf, sizeof kf, "%s.%s", f, p->name);
            if (!coord_spec_active(spec, i, row)) {
                if (gk[i])
                    KEEP(row_rc, FAIL_AT(c, gk[i], kf, "does not apply to this trial (its "
                                         "when: does not hold)"));
                row[i] = (coord_pval_t){.absent = true};
                continue;
            }
            if (gk[i]) {
                int idx, r2 = get_pval_p(c, gv[i], kf, p, &row[i]);
                if (r2 == 0)
                    r2 = check_in_dist(c, gv[i], kf, p, &row[i], &idx);
                KEEP(row_rc, r2);
            } else if (p->has_start) {
                row[i] = p->start;
            } else if (p->n_values > 0) {
                row[i] = p->values[0];
            } else {
                KEEP(row_rc, FAIL_AT(c, e, f, "missing parameter %s (a distribution without "
                                     "start: has no default)", p->name));
            }
        }
        KEEP(rc, row_rc);
        if (rc == 0)
            spec->n_enqueue = r + 1;
    }
    return rc;
}

static int parse_budget(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    static const char *const keys_[] = {"max_trials", "max_parallel"};
    const ynode_t *keys[2], *vals[2];
    long long v;
    int rc = 0;
    KEEP(rc, check_map(c, n, "budget", keys_, 2, "key", NULL, keys, vals));
    if (keys[0]) {
        int r = get_int(c, vals[0], "budget.max_trials", 1, 1000000, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->max_trials = (int)v;
    }
    if (keys[1]) {
        int r = get_int(c, vals[1], "budget.max_parallel", 0, 100000, &v);
        KEEP(rc, r);
        if (r == 0)
            spec->max_parallel = (int)v;
    }
    return rc;
}

/* Whether parameter mapping n gives lists as its value(s): an architecture
 * (hidden_sizes), however the parameter is named. */
static bool gives_lists(const ynode_t *n)
{
    if (!n || n->type != Y_MAP)
        return false;
    for (int i = 0; i + 1 < n->n; i += 2) {
        const ynode_t *k = n->kids[i], *v = n->kids[i + 1];
        if (k->type != Y_SCALAR)
            continue;
        if (strcmp(k->text, "value") == 0 && v && v->type == Y_SEQ)
            return true;
        if (strcmp(k->text, "values") == 0 && v && v->type == Y_SEQ)
            for (int j = 0; j < v->n; j++)
                if (v->kids[j]->type == Y_SEQ)
                    return true;
    }
    return false;
}

/* Whether parameter mapping n is W&B's nesting of parameters: {parameters:
 * {...}} and nothing else. */
static bool is_group(const ynode_t *n)
{
    return n && n->type == Y_MAP && n->n == 2 && n->kids[0]->type == Y_SCALAR &&
           strcmp(n->kids[0]->text, "parameters") == 0;
}

/* Inside a group, these names stand for the group's own name:
 * optimizer: {parameters: {type: {values: [adam, sgd]}, lr: ...}}. */
static bool generic_name(const char *s)
{
    static const char *const g[] = {"name", "type", "kind", "choice", "value"};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        if (coord_alias_same(s, g[i]))
            return true;
    return false;
}

/* One entry of parameters: (key k, mapping v), read as the hyperparameter
 * `name` resolves to; `written` is how the field is shown in messages
 * (the key, or group.key when nested).  seen[] holds the key node each
 * hyperparameter was first given at, to refuse a second spelling. */
static int parameter_entry(const pctx_t *c, const ynode_t *k, const char *name,
                           const char *written, const ynode_t *v, coord_spec_t *spec,
                           const ynode_t *pnode, const ynode_t **seen)
{
    char f[160], list[1024], hint[96];
    snprintf(f, sizeof f, "parameters.%s", written);
    /* Names hptune reads but does not tune: W&B scripts' dataset, loss and
     * optimizer constants. */
    int handled = 0;
    int rc = coord__wandb_param(c, k, name, written, v, spec, &handled);
    if (handled)
        return rc;
    const char *canon = canonical_name(name);
    if (!canon) {
        /* Every name a config could mean: ours and the aliases. */
        const char *cands[P__COUNT + 128];
        int n = 0, na = 0;
        for (int i = 0; i < P__COUNT; i++)
            cands[n++] = pdefs[i].name;
        const coord_alias_t *al = coord_alias_list(COORD_ALIAS_PARAM, &na);
        for (int i = 0; i < na && n < P__COUNT + 128; i++)
            cands[n++] = al[i].alias;
        const char *m = closest(name, cands, n);
        const char *mc = m ? canonical_name(m) : NULL;
        if (mc && strcmp(mc, m) != 0)
            snprintf(hint, sizeof hint, "; did you mean %s (%s)?", m, mc);
        else if (m)
            snprintf(hint, sizeof hint, "; did you mean %s?", m);
        else
            hint[0] = '\0';
        snprintf(list, sizeof list, "%s; aliases such as lr, hidden_size, num_layers, "
                 "weight_init: hptune spec aliases", PARAM_NAMES_TEXT);
        return FAIL_AT(c, k, f, "unknown parameter%s (allowed: %s)", hint, list);
    }
    param_id_t id = P_LAYERS;
    const pdef_t *d = pdef_find(canon, &id);
    if ((id == P_LAYERS || id == P_UNITS) && gives_lists(v)) {
        KEEP(rc, NOTE_AT(c, k, f, "lists of widths: read as hidden_sizes (each list sets "
                         "layers and every layer's units)"));
        d = pdef_find("hidden_sizes", &id);
    }
    if (seen[id]) {
        char first[48];
        bool other = strcmp(seen[id]->text, k->text) != 0;
        return FAIL_AT(c, k, f, "%s is given twice (first at %d:%d%s%s)", d->name,
                       seen[id]->line, seen[id]->col, other ? " as " : "",
                       other ? SHOWN(seen[id], first) : "");
    }
    seen[id] = k;
    if (spec->n_params >= COORD_SPEC_MAX_PARAMS)
        return FAIL_AT(c, k, "parameters", "at most %d parameters", COORD_SPEC_MAX_PARAMS);
    if (strcmp(d->name, written) != 0 && strcmp(canon, name) != 0)
        KEEP(rc, NOTE_AT(c, k, f, "read as %s", d->name));
    int self = spec->n_params++;
    int r = parse_param(c, k, written, v, d, spec, self, pnode);
    if (r) {
        c->st->param_bad[self] = true;
        c->st->params_bad = true;
    }
    KEEP(rc, r);
    return rc;
}

static int parse_parameters(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    char dsc[96], f[160], w[160];
    if (!n || n->type != Y_MAP) {
        c->st->params_bad = true;
        return FAIL_AT(c, n, "parameters", "expected a mapping, got %s",
                       describe(n, dsc, sizeof dsc));
    }
    if (n->n == 0) {
        c->st->params_bad = true;
        return FAIL_AT(c, n, "parameters", "must name at least one parameter");
    }
    const ynode_t *seen[P__COUNT] = {0};
    int rc = 0;
    /* In spec order, which is the grid's order; a nested group's entries
     * take its place. */
    for (int i = 0; i + 1 < n->n; i += 2) {
        const ynode_t *k = n->kids[i], *v = n->kids[i + 1];
        if (k->type != Y_SCALAR || is_null(k) || memchr(k->text, '\0', k->len)) {
            KEEP(rc, FAIL_AT(c, k, "parameters", "keys must be names, got %s",
                             describe(k, dsc, sizeof dsc)));
            c->st->params_bad = true;
            continue;
        }
        /* Field names in messages show a key cut and with control characters
         * replaced, as everywhere (a message is one line). */
        char ks[48], iks[48];
        SHOWN(k, ks);
        if (!is_group(v)) {
            int r = parameter_entry(c, k, k->text, ks, v, spec, n, seen);
            if (r)
                c->st->params_bad = true;
            KEEP(rc, r);
            continue;
        }
        /* W&B's nesting, one level deep. */
        const ynode_t *g = v->kids[1];
        snprintf(f, sizeof f, "parameters.%s.parameters", ks);
        if (!g || g->type != Y_MAP || g->n == 0) {
            KEEP(rc, FAIL_AT(c, g, f, "expected a mapping of parameters, got %s",
                             describe(g, dsc, sizeof dsc)));
            c->st->params_bad = true;
            continue;
        }
        for (int j = 0; j + 1 < g->n; j += 2) {
            const ynode_t *ik = g->kids[j], *iv = g->kids[j + 1];
            if (ik->type != Y_SCALAR || is_null(ik) || memchr(ik->text, '\0', ik->len)) {
                KEEP(rc, FAIL_AT(c, ik, f, "keys must be names, got %s",
                                 describe(ik, dsc, sizeof dsc)));
                c->st->params_bad = true;
                continue;
            }
            snprintf(w, sizeof w, "%s.%s", ks, SHOWN(ik, iks));
            if (is_group(iv)) {
                KEEP(rc, FAIL_AT(c, ik, f, "parameters nest one level deep at most (%s holds "
                                 "another parameters:)", w));
                c->st->params_bad = true;
                continue;
            }
            const char *name = generic_name(ik->text) ? k->text : ik->text;
            int r = parameter_entry(c, ik, name, w, iv, spec, n, seen);
            if (r)
                c->st->params_bad = true;
            KEEP(rc, r);
        }
    }
    /* hidden_sizes sets layers and every layer's units. */
    if (seen[P_HIDDEN_SIZES]) {
        static const param_id_t clash[] = {P_LAYERS, P_UNITS, P_UNITS_1, P_UNITS_1 + 1,
                                           P_UNITS_1 + 2, P_UNITS_1 + 3, P_UNITS_1 + 4,
                                           P_UNITS_1 + 5, P_UNITS_1 + 6, P_UNITS_8};
        for (size_t i = 0; i < sizeof clash / sizeof clash[0]; i++)
            if (seen[clash[i]]) {
                char cs[48];
                snprintf(f, sizeof f, "parameters.%s", SHOWN(seen[clash[i]], cs));
                KEEP(rc, FAIL_AT(c, seen[clash[i]], f, "%s and hidden_sizes (given at %d:%d) "
                                 "both set the layers; give one", pdefs[clash[i]].name,
                                 seen[P_HIDDEN_SIZES]->line, seen[P_HIDDEN_SIZES]->col));
                c->st->params_bad = true;
            }
    }
    if (spec->n_params == 0 && rc == 0) {
        c->st->params_bad = true;
        return FAIL_AT(c, n, "parameters", "must name at least one hyperparameter to tune");
    }
    return rc;
}

static bool enumerable(const coord_param_t *p)
{
    return p->dist == COORD_PDIST_VALUE || p->dist == COORD_PDIST_VALUES ||
           p->dist == COORD_PDIST_CATEGORICAL;
}

/* Checks that involve more than one key. */
static int check_spec(const pctx_t *c, const ynode_t *const *keys, const ynode_t *const *vals,
                      coord_spec_t *spec)
{
    int rc = 0;
    /* dataset is not required: W&B configs have none (coord__wandb_finish
     * defaults it). */
    static const int required[] = {T_METHOD, T_PARAMETERS};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!keys[required[i]])
            KEEP(rc, FAIL_AT(c, c->top, top_keys[required[i]], "required key is missing"));
    KEEP(rc, coord__wandb_dataset_default(c, keys[T_DATASET], spec));
    if (!keys[T_METHOD])
        c->st->method_bad = true;
    if (!keys[T_PARAMETERS])
        c->st->params_bad = true;
    /* Everything below reads the method; with no method there is nothing to
     * check it against (its error is reported). */
    if (c->st->method_bad)
        return rc;
    /* W&B's early_terminate: hyperband early stopping, run as asha (it
     * changes the method, so it comes first). */
    if (c->st->early_terminate) {
        int r = c->st->params_bad ? 0 : coord__wandb_early_terminate(c, keys[T_METHOD], spec);
        KEEP(rc, r);
        if (r || c->st->params_bad)
            return rc;
    }

    /* Settings of one method given to another are mistakes, not no-ops. */
    if (keys[T_HYPERBAND] && spec->method != COORD_METHOD_HYPERBAND)
        KEEP(rc, FAIL_AT(c, keys[T_HYPERBAND], "hyperband",
                         "only used by method hyperband (method is %s)",
                         coord_method_name(spec->method)));
    if (keys[T_ASHA] && spec->method != COORD_METHOD_ASHA)
        KEEP(rc, FAIL_AT(c, keys[T_ASHA], "asha", "only used by method asha (method is %s)",
                         coord_method_name(spec->method)));
    if (keys[T_TPE] && spec->method != COORD_METHOD_BAYES)
        KEEP(rc, FAIL_AT(c, keys[T_TPE], "tpe", "only used by method bayes (method is %s)",
                         coord_method_name(spec->method)));
    if (keys[T_COORDINATE] && spec->method != COORD_METHOD_COORDINATE)
        KEEP(rc, FAIL_AT(c, keys[T_COORDINATE], "coordinate",
                         "only used by method coordinate (method is %s)",
                         coord_method_name(spec->method)));

    /* Successive halving: epochs are the budget, so the method owns them. */
    bool halving = spec->method == COORD_METHOD_HYPERBAND || spec->method == COORD_METHOD_ASHA;
    bool sh_ok = true;
    if (halving) {
        const char *m = coord_method_name(spec->method);
        bool hb = spec->method == COORD_METHOD_HYPERBAND;
        int bk = hb ? T_HYPERBAND : T_ASHA;
        if (keys[bk] && !c->st->sh_fixed) {
            int r = parse_sh(c, vals[bk], m, hb, spec);
            KEEP(rc, r);
            sh_ok = r == 0;
        }
        for (int i = 0; i < spec->n_params && !c->st->sh_fixed; i++)
            if (strcmp(spec->params[i].name, "epochs") == 0) {
                KEEP(rc, fail(c, spec->params[i].line, spec->params[i].col, "parameters.epochs",
                              "epochs is the budget of method %s: set %s.min_epochs and "
                              "%s.max_epochs", m, m, m));
                sh_ok = false;
            }
        if (sh_ok) {
            if (!c->st->sh_fixed)
                sh_derive(&spec->sh);
            KEEP(rc, add_resource_param(c, keys[T_METHOD], spec));
        }
    }

    bool enumerates = spec->method == COORD_METHOD_GRID ||
                      spec->method == COORD_METHOD_COORDINATE;
    bool all_listed = true;
    for (int i = 0; enumerates && i < spec->n_params; i++) {
        const coord_param_t *p = &spec->params[i];
        char f[64];
        snprintf(f, sizeof f, "parameters.%s", p->name);
        if (!c->st->param_bad[i] && !enumerable(p)) {
            KEEP(rc, fail(c, p->line, p->col, f,
                          "distribution %s cannot be enumerated by %s search; use values",
                          dist_name(p->dist), coord_method_name(spec->method)));
            all_listed = false;
        }
    }
    /* run_cap, the default budget, the metric's goal and target. */
    KEEP(rc, coord__wandb_finish(c, vals[T_METHOD], keys[T_BUDGET] ? vals[T_BUDGET] : NULL,
                                 spec));
    if (spec->method == COORD_METHOD_GRID) {
        if (!c->st->params_bad && all_listed &&
            coord_spec_grid_size(spec, COORD_SPEC_MAX_GRID) > COORD_SPEC_MAX_GRID)
            KEEP(rc, FAIL_AT(c, keys[T_PARAMETERS], "parameters",
                             "the grid has more than %ld combinations; use fewer values or "
                             "method: random",
                             (long)COORD_SPEC_MAX_GRID));
    } else if (spec->max_trials <= 0 && spec->method != COORD_METHOD_COORDINATE &&
               spec->method != COORD_METHOD_HYPERBAND && !c->st->budget_bad &&
               !c->st->et_grid) {
        KEEP(rc, FAIL_AT(c, keys[T_BUDGET] ? vals[T_BUDGET] : vals[T_METHOD],
                         "budget.max_trials", "required by method %s",
                         coord_method_name(spec->method)));
    }
    /* The enqueued trials and the constants read every parameter: with a
     * parameter in error they would only repeat its error. */
    if (c->st->params_bad || !sh_ok)
        return rc;
    if (keys[T_ENQUEUE]) {
        int r = parse_enqueue(c, vals[T_ENQUEUE], spec);
        KEEP(rc, r);
        if (r == 0 && spec->max_trials > 0 && spec->n_enqueue > spec->max_trials)
            KEEP(rc, FAIL_AT(c, vals[T_ENQUEUE], "enqueue",
                             "%d trials, more than budget.max_trials (%d)", spec->n_enqueue,
                             spec->max_trials));
        /* Hyperband runs the enqueued trials as the first bracket's first
         * rung, which holds eta^K configurations. */
        long first = 1;
        for (int k = 1; k < spec->sh.n_rungs; k++)
            first *= spec->sh.eta;
        if (r == 0 && spec->method == COORD_METHOD_HYPERBAND && spec->n_enqueue > first)
            KEEP(rc, FAIL_AT(c, vals[T_ENQUEUE], "enqueue",
                             "%d trials, more than hyperband's first bracket (%ld "
                             "configurations)", spec->n_enqueue, first));
    }
    /* A grid with W&B's early_terminate: every combination starts, as asha's
     * enqueued configurations. */
    if (c->st->et_grid)
        KEEP(rc, coord__wandb_grid_rows(c, keys[T_ENQUEUE], spec));

    /* The unconditional constant parameters, applied once (each value is in
     * range already, so this only fails on an internal inconsistency).  A
     * conditional constant is applied per trial, when it holds. */
    const coord_pval_t *cv[COORD_SPEC_MAX_PARAMS];
    for (int i = 0; i < spec->n_params; i++)
        cv[i] = spec->params[i].dist == COORD_PDIST_VALUE && spec->params[i].n_when == 0
                    ? &spec->params[i].values[0]
                    : NULL;
    hpt_err e = {0};
    if (apply_all(spec->params, spec->n_params, cv, &spec->base, &e) != 0 ||
        hpt_hparams_validate(&spec->base, &e) != 0)
        KEEP(rc, FAIL_AT(c, keys[T_PARAMETERS], "parameters", "%s", e.msg));
    return rc;
}

static int parse_tree(const pctx_t *c, const ynode_t *root, coord_spec_t *spec)
{
    char dsc[96];
    if (!root)
        return fail(c, 1, 1, "top level", "expected a mapping, got an empty document");
    if (root->type != Y_MAP)
        return FAIL_AT(c, root, "top level", "expected a mapping, got %s",
                       describe(root, dsc, sizeof dsc));
    const ynode_t *keys[T__COUNT], *vals[T__COUNT];
    int rc = 0;
    KEEP(rc, check_map(c, root, "", top_keys, T__COUNT, "key", NULL, keys, vals));

    /* Every key in document order (a key check_map refused is skipped: it is
     * unknown, or a duplicate of one read already). */
    for (int i = 0; i + 1 < root->n; i += 2) {
        int k = lookup_name(root->kids[i], top_keys, T__COUNT);
        if (k < 0 || keys[k] != root->kids[i])
            continue;
        const ynode_t *v = root->kids[i + 1];
        long long iv;
        int r = 0;
        switch (k) {
        case T_NAME: r = parse_name(c, v, spec); break;
        case T_DATASET: {
            /* A W&B script's name for a dataset (fashion_mnist) is read as
             * hptune's (fashion-mnist). */
            const char *alias = coord__wandb_dataset(v);
            ynode_t tmp;
            if (alias) {
                tmp = *v;
                tmp.text = (char *)alias;
                tmp.len = strlen(alias);
                KEEP(rc, NOTE_AT(c, v, "dataset", "'%s' read as %s", v->text, alias));
            }
            r = parse_dataset(c, alias ? &tmp : v, spec);
            break;
        }
        case T_METRIC: r = parse_metric(c, v, spec); break;
        case T_METHOD: r = parse_method(c, v, spec); break;
        case T_CV: r = parse_cv(c, v, spec); break;
        case T_REFIT: r = get_bool(c, v, "refit", &spec->refit); break;
        case T_SCORE_TRAIN: r = get_bool(c, v, "score_train", &spec->score_train); break;
        case T_PRIORITY:
            r = get_int(c, v, "priority", -1000, 1000, &iv);
            spec->priority = r ? 0 : (int)iv;
            break;
        case T_SEED: r = get_u64(c, v, "seed", &spec->seed); break;
        case T_BUDGET:
            r = parse_budget(c, v, spec);
            c->st->budget_bad = r != 0;
            break;
        case T_PARAMETERS: r = parse_parameters(c, v, spec); break;
        case T_TPE: r = parse_tpe(c, v, spec); break;
        case T_COORDINATE: r = parse_coordinate(c, v, spec); break;
        case T_HYPERBAND: break;  // parsed by check_spec for its method only
        case T_ASHA: break;
        case T_ALPHA: r = parse_alpha(c, v, spec); break;
        case T_TEST_OBJECTIVE: r = parse_test_objective(c, v, spec); break;
        case T_ENQUEUE: break;  // needs the parameters: check_spec parses it
        case T_MODEL_SEED: r = parse_model_seed(c, v, spec); break;
        case T_SELECT: r = parse_select(c, v, spec); break;
        default:
            if (k >= T_WANDB)
                r = coord__wandb_top_key(c, k - T_WANDB, root->kids[i], v, spec);
            break;
        }
        KEEP(rc, r);
    }
    KEEP(rc, coord__wandb_plumbing(c, keys + T_WANDB));
    KEEP(rc, check_spec(c, keys, vals, spec));
    return rc;
}

// ----------------------------------------------------------------------------
// Public API

/* Order diagnostics by position (line, then column); equal positions keep
 * the order they were found in, which a merge sort preserves. */
static void sort_diags(coord_diag_t *v, int n, coord_diag_t *tmp)
{
    if (n < 2)
        return;
    int h = n / 2;
    sort_diags(v, h, tmp);
    sort_diags(v + h, n - h, tmp);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) {
        bool later = v[i].line > v[j].line || (v[i].line == v[j].line && v[i].col > v[j].col);
        tmp[k++] = later ? v[j++] : v[i++];
    }
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, (size_t)n * sizeof *v);
}

int coord_spec_parse_all(const char *text, size_t len, const char *path, coord_spec_t **out,
                         coord_diags_t *diags)
{
    *out = NULL;
    *diags = (coord_diags_t){0};
    if (!path)
        path = "<spec>";
    pctx_t c = {.path = path, .diags = diags};
    coord_spec_t *spec = calloc(1, sizeof *spec);
    if (!spec)
        return oom(&c);
    size_t plen = strnlen(path, sizeof spec->path - 1);
    memcpy(spec->path, path, plen);
    spec->path[plen] = '\0';
    snprintf(spec->name, sizeof spec->name, "sweep");
    spec->metric = HPT_METRIC_ACCURACY;
    spec->maximize = true;
    spec->cv = (hpt_cv_spec_t){
        .folds = 5, .stratified = true, .shuffle = true, .seed = 42, .repeats = 1};
    spec->refit = true;
    spec->base = HPT_HPARAMS_DEFAULT;
    spec->seeds = 1;
    spec->tpe = COORD_TPE_CFG_DEFAULT;
    spec->rounds = 1;
    spec->sh = (coord_sh_cfg_t){.min_epochs = 1, .max_epochs = 27, .eta = 3, .iterations = 1};
    spec->resource_param = -1;
    spec->race = COORD_RACE_CFG_DEFAULT;
    spec->alpha = 0.05;

    pstate_t st = {0};
    c.st = &st;
    ytree_t tree = {0};
    int rc = ytree_build(&c, text, text ? len : 0, &tree);
    if (rc == 0) {
        c.top = tree.root;
        rc = parse_tree(&c, tree.root, spec);
    }
    ytree_free(&tree);
    if (diags->oom)
        rc = -ENOMEM;
    else if (diags->n_errors > 0)
        rc = -EINVAL;
    if (diags->n > 1) {
        coord_diag_t *tmp = malloc((size_t)diags->n * sizeof *tmp);
        if (tmp)
            sort_diags(diags->v, diags->n, tmp);
        free(tmp);
    }
    if (rc == 0) {
        spec->base.metric = spec->metric;
        *out = spec;
    } else {
        coord_spec_destroy(&spec);
    }
    return rc;
}

int coord_spec_parse(const char *text, size_t len, const char *path, coord_spec_t **out,
                     hpt_err *err)
{
    coord_diags_t d;
    int rc = coord_spec_parse_all(text, len, path, out, &d);
    if (rc == -ENOMEM)
        hpt_err_set(err, rc, "%s: out of memory", path ? path : "<spec>");
    else if (rc < 0)
        for (int i = 0; i < d.n; i++)
            if (d.v[i].level == COORD_DIAG_ERROR) {
                hpt_err_set(err, rc, "%s", d.v[i].text);
                break;
            }
    coord_diags_free(&d);
    return rc;
}

void coord_diags_free(coord_diags_t *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n; i++)
        free(d->v[i].text);
    free(d->v);
    *d = (coord_diags_t){0};
}

char *coord_diags_text(const coord_diags_t *d, coord_diag_level_t level)
{
    size_t len = 1;
    int kept = 0;
    for (int i = 0; i < d->n; i++)
        if (d->v[i].level == level) {
            len += strlen(d->v[i].text) + 1;
            kept++;
        }
    int more = level == COORD_DIAG_ERROR ? d->n_errors - kept : 0;
    char tail[96] = "";
    if (more > 0)
        snprintf(tail, sizeof tail, "(and %d more error%s not shown)", more, more == 1 ? "" : "s");
    len += strlen(tail) + 1;
    char *s = malloc(len), *o = s;
    if (!s)
        return NULL;
    *o = '\0';
    for (int i = 0; i < d->n; i++)
        if (d->v[i].level == level)
            o += sprintf(o, "%s%s", o == s ? "" : "\n", d->v[i].text);
    if (tail[0])
        sprintf(o, "%s%s", o == s ? "" : "\n", tail);
    return s;
}

void coord_spec_destroy(coord_spec_t **p)
{
    if (!p || !*p)
        return;
    coord_spec_t *spec = *p;
    for (int i = 0; i < spec->n_params && i < COORD_SPEC_MAX_PARAMS; i++) {
        free(spec->params[i].values);
        free(spec->params[i].probs);
        free(spec->params[i].arch);
        for (int k = 0; k < spec->params[i].n_when && k < COORD_SPEC_MAX_WHEN; k++)
            free(spec->params[i].when[k].values);
    }
    free(spec->enqueue);
    free(spec);
    *p = NULL;
}

int coord_spec_apply(const coord_spec_t *spec, const coord_pval_t *vals, hpt_hparams_t *hp,
                     hpt_err *err)
{
    const coord_pval_t *v[COORD_SPEC_MAX_PARAMS];
    int n = spec->n_params < COORD_SPEC_MAX_PARAMS ? spec->n_params : COORD_SPEC_MAX_PARAMS;
    for (int i = 0; i < n; i++)
        v[i] = &vals[i];
    *hp = spec->base;
    int rc = apply_all(spec->params, n, v, hp, err);
    if (rc == 0)
        rc = hpt_hparams_validate(hp, err);
    return rc;
}

const char *coord_pval_format(const coord_param_t *p, const coord_pval_t *v, char *buf,
                              size_t len)
{
    if (!buf || len == 0)
        return buf;
    if (v->absent) {
        buf[0] = '\0';
        return buf;
    }
    if (coord_pval_is_null(v)) {
        snprintf(buf, len, "null");
        return buf;
    }
    switch (p->kind) {
    case COORD_PKIND_ARCH: {
        int k = (int)v->num;
        if (!p->arch || k < 0 || k >= p->n_values) {
            snprintf(buf, len, "?");
            break;
        }
        const int *row = p->arch + (size_t)k * ARCH_ROW;
        size_t off = (size_t)snprintf(buf, len, "[");
        for (int i = 0; i < row[0] && off < len; i++)
            off += (size_t)snprintf(buf + off, len - off, "%s%d", i ? "," : "", row[1 + i]);
        if (off < len)
            snprintf(buf + off, len - off, "]");
        break;
    }
    case COORD_PKIND_INT:
        if (isfinite(v->num) && v->num == floor(v->num) && fabs(v->num) < 9.3e18)
            snprintf(buf, len, "%lld", (long long)v->num);
        else
            snprintf(buf, len, "%.6g", v->num);
        break;
    case COORD_PKIND_FLOAT:
        snprintf(buf, len, "%.6g", v->num);
        break;
    case COORD_PKIND_BOOL:
        snprintf(buf, len, "%s", v->num != 0 ? "true" : "false");
        break;
    case COORD_PKIND_ENUM:
        snprintf(buf, len, "%.*s", (int)sizeof v->str, v->str);
        break;
    default:
        snprintf(buf, len, "?");
        break;
    }
    return buf;
}

bool coord_pval_is_null(const coord_pval_t *v)
{
    return !v->absent && strncmp(v->str, "null", sizeof v->str) == 0;
}

bool coord_pval_equal(const coord_param_t *p, const coord_pval_t *a, const coord_pval_t *b)
{
    if (a->absent || b->absent)
        return a->absent == b->absent;
    if (coord_pval_is_null(a) || coord_pval_is_null(b))
        return coord_pval_is_null(a) == coord_pval_is_null(b);
    if (p->kind == COORD_PKIND_ENUM)
        return strncmp(a->str, b->str, sizeof a->str) == 0;
    return a->num == b->num;
}

bool coord_spec_active(const coord_spec_t *spec, int i, const coord_pval_t *vals)
{
    const coord_param_t *p = &spec->params[i];
    for (int k = 0; k < p->n_when; k++) {
        const coord_when_t *w = &p->when[k];
        const coord_pval_t *v = &vals[w->param];
        const coord_param_t *parent = &spec->params[w->param];
        if (v->absent || coord_pval_is_null(v))
            return false;
        if (w->is_range) {
            if (!(v->num >= w->min && v->num <= w->max))
                return false;
            continue;
        }
        bool found = false;
        for (int j = 0; j < w->n_values && !found; j++) {
            if (parent->kind == COORD_PKIND_FLOAT) {
                /* Sampled floats (q_uniform) carry rounding noise: 0.6 may
                 * come out as 0.6000000000000001. */
                double a = v->num, b = w->values[j].num;
                found = fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
            } else {
                found = coord_pval_equal(parent, v, &w->values[j]);
            }
        }
        if (!found)
            return false;
    }
    return true;
}

/* Grid counting: parameters in spec order; a parameter no condition reads
 * contributes a factor (its value cannot change what follows), so the
 * recursion branches only on the parameters that conditions read. */
static long count_grid(const coord_spec_t *spec, int i, coord_pval_t *vals,
                       const bool *is_parent, long cap)
{
    if (i == spec->n_params)
        return 1;
    const coord_param_t *p = &spec->params[i];
    if (!coord_spec_active(spec, i, vals)) {
        vals[i] = (coord_pval_t){.absent = true};
        return count_grid(spec, i + 1, vals, is_parent, cap);
    }
    long n = p->dist == COORD_PDIST_VALUE ? 1 : p->n_values;
    if (n < 1 || !p->values)
        return 0;
    if (!is_parent[i]) {
        vals[i] = p->values[0];
        long r = count_grid(spec, i + 1, vals, is_parent, cap);
        return r > cap / n ? cap + 1 : r * n;
    }
    long total = 0;
    for (long j = 0; j < n; j++) {
        vals[i] = p->values[j];
        total += count_grid(spec, i + 1, vals, is_parent, cap);
        if (total > cap)
            return cap + 1;
    }
    return total;
}

long coord_spec_grid_size(const coord_spec_t *spec, long cap)
{
    bool is_parent[COORD_SPEC_MAX_PARAMS] = {0};
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    int n = spec->n_params < COORD_SPEC_MAX_PARAMS ? spec->n_params : COORD_SPEC_MAX_PARAMS;
    for (int i = 0; i < n; i++) {
        if (!enumerable(&spec->params[i]))
            return -1;
        for (int k = 0; k < spec->params[i].n_when; k++)
            is_parent[spec->params[i].when[k].param] = true;
    }
    return count_grid(spec, 0, vals, is_parent, cap);
}

const char *coord_method_name(coord_method_t m)
{
    return ((unsigned)m < COORD_METHOD__COUNT) ? method_names[m] : "?";
}

// ----------------------------------------------------------------------------
// The largest model

/* The largest numeric value parameter p can take (its values, or its range's
 * upper end; a q_uniform value may round up by q). */
static double param_max(const coord_param_t *p)
{
    switch (p->dist) {
    case COORD_PDIST_VALUE:
    case COORD_PDIST_VALUES:
    case COORD_PDIST_CATEGORICAL: {
        double mx = 0;
        for (int i = 0; i < p->n_values; i++)
            if (!p->values[i].absent && p->values[i].num > mx)
                mx = p->values[i].num;
        return mx;
    }
    case COORD_PDIST_Q_UNIFORM:
        return p->max + p->q;
    default:
        return p->max;
    }
}

int coord_spec_check_model(const coord_spec_t *spec, hpt_err *err)
{
    /* An upper bound over every trial: each shape parameter at its largest,
     * all at once (when: conditions are ignored, which can only make it
     * larger), over the spec's constants and defaults. */
    hpt_hparams_t hp = spec->base;
    const coord_param_t *blame = NULL, *blame_units = NULL;
    double units_max = 0;
    for (int i = 0; i < spec->n_params; i++) {
        const coord_param_t *p = &spec->params[i];
        param_id_t id;
        if (!pdef_find(p->name, &id))
            continue;
        double mx = param_max(p);
        int iv = mx > 1e9 ? 1000000000 : (int)mx;
        if (id == P_LAYERS) {
            hp.layers = iv > hp.layers ? iv : hp.layers;
            blame = blame ? blame : p;
        } else if (id == P_UNITS || (id >= P_UNITS_1 && id <= P_UNITS_8)) {
            for (int l = 0; l < HPT_MAX_LAYERS; l++)
                if ((id == P_UNITS || l == (int)id - (int)P_UNITS_1) && iv > hp.units[l])
                    hp.units[l] = iv;
            if (mx > units_max) {
                units_max = mx;
                blame_units = p;
            }
        } else if (id == P_BATCH_SIZE) {
            hp.batch_size = iv > hp.batch_size ? iv : hp.batch_size;
            blame = blame ? blame : p;
        } else if (id == P_DROPOUT && mx > hp.dropout) {
            hp.dropout = mx;
        } else if (id == P_INPUT_DROPOUT && mx > hp.input_dropout) {
            hp.input_dropout = mx;
        }
    }
    if (hp.layers > HPT_MAX_LAYERS)
        hp.layers = HPT_MAX_LAYERS;
    /* The named datasets are 28 x 28 pixels, 10 classes; an idx: dataset's
     * shape is not known here, so its input layer counts as one feature (a
     * lower bound: only a spec too large whatever the data is refused). */
    bool idx = strncmp(spec->dataset, "idx:", 4) == 0;
    size_t n_in = idx ? 1 : 784, n_out = idx ? 2 : 10;
    size_t batch = hp.batch_size > 512 ? (size_t)hp.batch_size : 512;   // train.c's EVAL_BATCH
    size_t bytes = hpt_train_model_bytes(&hp, n_in, n_out, batch);
    if (bytes <= COORD_SPEC_MAX_MODEL_BYTES)
        return 0;
    if (blame_units)
        blame = blame_units;
    int widest = 0;
    for (int l = 0; l < hp.layers; l++)
        widest = hp.units[l] > widest ? hp.units[l] : widest;
    char field[64];
    snprintf(field, sizeof field, "parameters%s%s", blame ? "." : "", blame ? blame->name : "");
    return hpt_err_set(err, -EINVAL,
                       "%s:%d:%d: %s: the largest model (%d layer%s of up to %d units, "
                       "batch_size %d) needs about %.0f GiB, more than any worker may use "
                       "(%llu GiB); use fewer or smaller layers or a smaller batch_size",
                       spec->path, blame ? blame->line : 1, blame ? blame->col : 1, field,
                       hp.layers, hp.layers == 1 ? "" : "s", widest, hp.batch_size,
                       (double)bytes / (1ull << 30),
                       (unsigned long long)(COORD_SPEC_MAX_MODEL_BYTES >> 30));
}

const char *coord_pdist_name(coord_pdist_t d)
{
    return dist_name(d);
}

// ----------------------------------------------------------------------------
// For coord_spec_wandb.c (coord_spec_int.h)

static int vreport(const pctx_t *c, coord_diag_level_t level, int line, int col,
                   const char *field, const char *fmt, va_list ap)
{
    static const char *const tag[] = {"", "warning: ", "note: "};
    char *msg = vformat(fmt, ap);
    char *text = msg ? format("%s:%d:%d: %s%s: %s", c->path, line, col, tag[level], field, msg)
                     : NULL;
    free(msg);
    int rc = add_diag(c, level, line, col, text);
    return rc < 0 ? rc : level == COORD_DIAG_ERROR ? -EINVAL : 0;
}

int coord__spec_fail(const pctx_t *c, int line, int col, const char *field, const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(c, COORD_DIAG_ERROR, line, col, field, fmt, ap);
    va_end(ap);
    return rc;
}

int coord__spec_warn(const pctx_t *c, int line, int col, const char *field, const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(c, COORD_DIAG_WARNING, line, col, field, fmt, ap);
    va_end(ap);
    return rc;
}

int coord__spec_note(const pctx_t *c, int line, int col, const char *field, const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vreport(c, COORD_DIAG_NOTE, line, col, field, fmt, ap);
    va_end(ap);
    return rc;
}

bool coord__spec_is_null(const ynode_t *n)
{
    return is_null(n);
}

const char *coord__spec_describe(const ynode_t *n, char *buf, size_t size)
{
    return describe(n, buf, size);
}

int coord__spec_get_int(const pctx_t *c, const ynode_t *n, const char *field, long long lo,
                        long long hi, long long *out)
{
    return get_int(c, n, field, lo, hi, out);
}

int coord__spec_get_num(const pctx_t *c, const ynode_t *n, const char *field, double *out)
{
    return get_num(c, n, field, out);
}

int coord__spec_get_bool(const pctx_t *c, const ynode_t *n, const char *field, bool *out)
{
    return get_bool(c, n, field, out);
}

const char *coord__spec_did_you_mean(const ynode_t *n, const char *const *cands, int count,
                                     char *buf, size_t size)
{
    return did_you_mean(n, cands, count, buf, size);
}

int coord__spec_add_resource_param(const pctx_t *c, const ynode_t *at, coord_spec_t *spec)
{
    return add_resource_param(c, at, spec);
}

const char *coord__spec_shown(const ynode_t *n, char *buf, size_t size)
{
    return shown(n->text, n->len, buf, size);
}

/* The hyperparameter a spec's name stands for (coord_spec_int.h). */
const char *coord__spec_canonical(const char *name)
{
    return canonical_name(name);
}

int coord__spec_parse_dataset(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    return parse_dataset(c, n, spec);
}
