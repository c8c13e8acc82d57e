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
 * Second, the tree is checked key by key.  Every problem is reported as
 * "path:line:col: field: problem", with the allowed values when there is a
 * list, and the first problem ends the parse.  Nothing here trusts the input:
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
 * hyperband, the first rung's epochs).
 */
#include "coord_spec.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "text.h"
#include "train.h"

// ----------------------------------------------------------------------------
// YAML tree built from libfyaml events

typedef enum ytype { Y_SCALAR, Y_MAP, Y_SEQ, Y_ALIAS } ytype_t;

typedef struct ynode ynode_t;
struct ynode {
    ytype_t type;
    int line, col;          // 1-based position of the node's first character
    bool quoted;            // scalar written quoted or as a block: always a string
    char *text;             // scalar text or alias name, NUL-terminated, owned
    size_t len;             // bytes in text (may include NULs from "\0" escapes)
    ynode_t **kids;         // MAP: key, value, key, value, ...; SEQ: items; owned array
    int n, cap;             // entries used / allocated in kids
    ynode_t *next_alloc;    // all nodes of a tree form one list, freed without recursion
};

typedef struct ytree {
    ynode_t *root;          // NULL for an empty stream
    ynode_t *all;           // allocation list
} ytree_t;

/* Parse context: where messages go. */
typedef struct pctx {
    const char *path;       // file name for messages, borrowed
    hpt_err *err;           // may be NULL
    const ynode_t *top;     // the top-level mapping, where "missing key" errors point
} pctx_t;

static int fail(const pctx_t *c, int line, int col, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(const pctx_t *c, int line, int col, const char *field, const char *fmt, ...)
{
    char msg[HPT_ERR_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hpt_err_set(c->err, -EINVAL, "%s:%d:%d: %s: %s", c->path, line, col, field, msg);
}

/* fail() at a node (at the top-level mapping, or 1:1, when n is NULL). */
#define FAIL_AT(c, n, field, ...)                                                    \
    fail((c), (n) ? (n)->line : ((c)->top ? (c)->top->line : 1),                     \
         (n) ? (n)->col : ((c)->top ? (c)->top->col : 1), (field), __VA_ARGS__)

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
    int line = 1, col = 1;
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
        return hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
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
        return hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
    fy_diag_set_collect_errors(diag, true);

    struct fy_parse_cfg pcfg = {.flags = FYPCF_QUIET, .diag = diag};
    p = fy_parser_create(&pcfg);
    if (!p || fy_parser_set_string(p, len ? text : "", len) != 0) {
        rc = hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
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
            rc = hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
            break;
        }
        if (depth > 0)
            rc = yadd(stack[depth - 1], n);
        else if (!t->root)
            t->root = n;
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
            rc = hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
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

/* What a node is, for "expected X, got Y". */
static const char *describe(const ynode_t *n, char *buf, size_t size)
{
    char s[48];
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
    snprintf(buf, size, n->quoted ? "the string \"%s\"" : "'%s'", s);
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

/* A plain scalar for a number or a bool; quoted text is a string. */
static bool plain_scalar(const ynode_t *n)
{
    return n && n->type == Y_SCALAR && !n->quoted && !is_null(n) &&
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
// Mappings

static const char *join_names(const char *const *names, int count, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < count && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "", names[i]);
    return buf;
}

/* Check that n is a mapping whose keys are distinct names from allowed[]
 * (field is the mapping's own field, "" at the top level; what names the keys
 * in "unknown ..." messages, allowed_text overrides the joined list).  Each
 * value is stored in vals[i] for allowed[i] (NULL when absent), each key in
 * keys[i]. */
static int check_map(const pctx_t *c, const ynode_t *n, const char *field,
                     const char *const *allowed, int count, const char *what,
                     const char *allowed_text, const ynode_t **keys, const ynode_t **vals)
{
    char d[96], s[48], f[160], list[320];
    const char *self = field[0] ? field : "top level";
    if (!n || n->type != Y_MAP)
        return FAIL_AT(c, n, self, "expected a mapping, got %s", describe(n, d, sizeof d));
    for (int i = 0; i < count; i++)
        keys[i] = vals[i] = NULL;
    for (int i = 0; i + 1 < n->n; i += 2) {
        const ynode_t *k = n->kids[i], *v = n->kids[i + 1];
        if (k->type != Y_SCALAR || is_null(k) || memchr(k->text, '\0', k->len))
            return FAIL_AT(c, k, self, "keys must be names, got %s", describe(k, d, sizeof d));
        snprintf(f, sizeof f, "%s%s%s", field, field[0] ? "." : "", SHOWN(k, s));
        int idx = lookup_name(k, allowed, count);
        if (idx < 0)
            return FAIL_AT(c, k, f, "unknown %s (allowed: %s)", what,
                           allowed_text ? allowed_text
                                        : join_names(allowed, count, list, sizeof list));
        if (keys[idx])
            return FAIL_AT(c, k, f, "duplicate key (first given at %d:%d)", keys[idx]->line,
                           keys[idx]->col);
        keys[idx] = k;
        vals[idx] = v;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// Parameters

typedef enum param_id {
    P_LAYERS,
    P_UNITS,
    P_UNITS_1,
    P_UNITS_8 = P_UNITS_1 + 7,
    P_ACTIVATION,
    P_INIT_MODE,
    P_OPTIMIZER,
    P_LEARNING_RATE,
    P_MOMENTUM,
    P_NESTEROV,
    P_DROPOUT,
    P_INPUT_DROPOUT,
    P_WEIGHT_CONSTRAINT,
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
} pdef_t;

static const char *act_label(int v) { return hpt_act_name((hpt_act_t)v); }
static const char *init_label(int v) { return hpt_init_name((hpt_init_t)v); }
static const char *opt_label(int v) { return hpt_opt_name((hpt_opt_t)v); }

#define PDEF_INT(n, l, h) {.name = (n), .kind = COORD_PKIND_INT, .lo = (l), .hi = (h)}
#define PDEF_FLOAT(n, l, lo_o, h, hi_o)                                                  \
    {.name = (n), .kind = COORD_PKIND_FLOAT, .lo = (l), .hi = (h), .lo_open = (lo_o),    \
     .hi_open = (hi_o)}
#define PDEF_ENUM(n, p, lab, ns)                                                         \
    {.name = (n), .kind = COORD_PKIND_ENUM, .parse = (p), .label = (lab), .names = (ns)}

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
    [P_ACTIVATION] = PDEF_ENUM("activation", hpt_act_parse, act_label, hpt_act_names),
    [P_INIT_MODE] = PDEF_ENUM("init_mode", hpt_init_parse, init_label, hpt_init_names),
    [P_OPTIMIZER] = PDEF_ENUM("optimizer", hpt_opt_parse, opt_label, hpt_opt_names),
    [P_LEARNING_RATE] = PDEF_FLOAT("learning_rate", 0, true, 10, false),
    [P_MOMENTUM] = PDEF_FLOAT("momentum", 0, false, 1, true),
    [P_NESTEROV] = {.name = "nesterov", .kind = COORD_PKIND_BOOL},
    [P_DROPOUT] = PDEF_FLOAT("dropout", 0, false, 1, true),
    [P_INPUT_DROPOUT] = PDEF_FLOAT("input_dropout", 0, false, 1, true),
    [P_WEIGHT_CONSTRAINT] = PDEF_FLOAT("weight_constraint", 0, false, 1e6, false),
    [P_BATCH_SIZE] = PDEF_INT("batch_size", 1, HPT_MAX_BATCH),
    [P_EPOCHS] = PDEF_INT("epochs", 1, HPT_MAX_EPOCHS),
    [P_SEED] = PDEF_INT("seed", 0, SEED_PARAM_MAX),
};

static const char *const param_names[P__COUNT] = {
    "layers",     "units",         "units_1",           "units_2",    "units_3",
    "units_4",    "units_5",       "units_6",           "units_7",    "units_8",
    "activation", "init_mode",     "optimizer",         "learning_rate", "momentum",
    "nesterov",   "dropout",       "input_dropout",     "weight_constraint", "batch_size",
    "epochs",     "seed",
};

/* The list in "unknown parameter" messages, shortened to fit an hpt_err. */
static const char PARAM_NAMES_TEXT[] =
    "layers, units, units_1..units_8, activation, init_mode, optimizer, learning_rate, "
    "momentum, nesterov, dropout, input_dropout, weight_constraint, batch_size, epochs, seed";

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

/* One value of parameter d from node n. */
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
        const char *text;
        int rc = get_str(c, n, field, 1024, &text);
        if (rc)
            return rc;
        int v = d->parse(text);
        if (v < 0)
            return FAIL_AT(c, n, field, "unknown %s %s (allowed: %s)", d->name,
                           describe(n, dsc, sizeof dsc), d->names());
        out->num = v;
        snprintf(out->str, sizeof out->str, "%s", d->label(v));
        return 0;
    }
    }
    return FAIL_AT(c, n, field, "unsupported parameter kind");
}

static bool pval_equal(const coord_param_t *p, const coord_pval_t *a, const coord_pval_t *b)
{
    return coord_pval_equal(p, a, b);
}

/* K_START and K_WHEN come last: they are optional with every form. */
enum {
    K_VALUE, K_VALUES, K_DISTRIBUTION, K_PROBABILITIES, K_MIN, K_MAX, K_Q, K_START, K_WHEN,
    K__COUNT
};
static const char *const param_keys[K__COUNT] = {
    "value", "values", "distribution", "probabilities", "min", "max", "q", "start", "when",
};

static const char *const dist_names[] = {
    [COORD_PDIST_CATEGORICAL] = "categorical",
    [COORD_PDIST_UNIFORM] = "uniform",
    [COORD_PDIST_LOG_UNIFORM_VALUES] = "log_uniform_values",
    [COORD_PDIST_INT_UNIFORM] = "int_uniform",
    [COORD_PDIST_Q_UNIFORM] = "q_uniform",
};
#define DIST_FIRST COORD_PDIST_CATEGORICAL
#define DIST_COUNT (COORD_PDIST_Q_UNIFORM + 1)

static const char *dist_name(coord_pdist_t d)
{
    if (d == COORD_PDIST_VALUE)
        return "value";
    if (d == COORD_PDIST_VALUES)
        return "values";
    return (d >= DIST_FIRST && d < DIST_COUNT) ? dist_names[d] : "?";
}

/* The keys each form takes: bit K_x set when key x belongs. */
static unsigned form_keys(coord_pdist_t d)
{
    /* when: goes with every form; start: with every form but a constant. */
    const unsigned opt = 1u << K_START | 1u << K_WHEN;
    switch (d) {
    case COORD_PDIST_VALUE:
        return 1u << K_VALUE | 1u << K_WHEN;
    case COORD_PDIST_VALUES:
        return 1u << K_VALUES | opt;
    case COORD_PDIST_CATEGORICAL:
        return 1u << K_DISTRIBUTION | 1u << K_VALUES | 1u << K_PROBABILITIES | opt;
    case COORD_PDIST_Q_UNIFORM:
        return 1u << K_DISTRIBUTION | 1u << K_MIN | 1u << K_MAX | 1u << K_Q | opt;
    default:
        return 1u << K_DISTRIBUTION | 1u << K_MIN | 1u << K_MAX | opt;
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

/* values: [...] for VALUES and CATEGORICAL. */
static int parse_values(const pctx_t *c, const ynode_t *n, const char *pf, const pdef_t *d,
                        coord_param_t *p)
{
    char f[128], dsc[96], s[48];
    snprintf(f, sizeof f, "%s.values", pf);
    if (!n || n->type != Y_SEQ)
        return FAIL_AT(c, n, f, "expected a sequence, got %s", describe(n, dsc, sizeof dsc));
    if (n->n == 0)
        return FAIL_AT(c, n, f, "must not be empty");
    if (n->n > COORD_SPEC_MAX_VALUES)
        return FAIL_AT(c, n, f, "has %d values (at most %d)", n->n, COORD_SPEC_MAX_VALUES);
    p->values = calloc((size_t)n->n, sizeof *p->values);
    if (!p->values)
        return hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
    for (int i = 0; i < n->n; i++) {
        snprintf(f, sizeof f, "%s.values[%d]", pf, i);
        int rc = get_pval(c, n->kids[i], f, d, &p->values[i]);
        if (rc)
            return rc;
        for (int j = 0; j < i; j++)
            if (pval_equal(p, &p->values[j], &p->values[i]))
                return FAIL_AT(c, n->kids[i], f, "duplicate value %s (also values[%d])",
                               SHOWN(n->kids[i], s), j);
        p->n_values = i + 1;
    }
    return 0;
}

static int parse_probs(const pctx_t *c, const ynode_t *n, const char *pf, coord_param_t *p)
{
    char f[128], dsc[96], s[48];
    snprintf(f, sizeof f, "%s.probabilities", pf);
    if (!n || n->type != Y_SEQ)
        return FAIL_AT(c, n, f, "expected a sequence, got %s", describe(n, dsc, sizeof dsc));
    if (n->n != p->n_values)
        return FAIL_AT(c, n, f, "%d probabilities for %d values", n->n, p->n_values);
    p->probs = calloc((size_t)p->n_values, sizeof *p->probs);
    if (!p->probs)
        return hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
    double sum = 0;
    for (int i = 0; i < n->n; i++) {
        snprintf(f, sizeof f, "%s.probabilities[%d]", pf, i);
        int rc = get_num(c, n->kids[i], f, &p->probs[i]);
        if (rc)
            return rc;
        if (p->probs[i] < 0 || p->probs[i] > 1)
            return FAIL_AT(c, n->kids[i], f, "%s is out of range [0, 1]",
                           SHOWN(n->kids[i], s));
        sum += p->probs[i];
    }
    snprintf(f, sizeof f, "%s.probabilities", pf);
    if (fabs(sum - 1.0) > 1e-6)
        return FAIL_AT(c, n, f, "sum to %.9g, not 1 (within 1e-6)", sum);
    return 0;
}

/* min, max or q of a numeric distribution: an integer for INT parameters, a
 * number otherwise; min and max must be values the parameter accepts. */
static int parse_bound(const pctx_t *c, const ynode_t *n, const char *pf, const char *key,
                       const pdef_t *d, bool is_q, double *out)
{
    char f[128], r[64], s[48];
    snprintf(f, sizeof f, "%s.%s", pf, key);
    int rc;
    if (d->kind == COORD_PKIND_INT) {
        long long v;
        rc = get_int(c, n, f, is_q ? 1 : (long long)d->lo, (long long)d->hi, &v);
        *out = (double)v;
        return rc;
    }
    rc = get_num(c, n, f, out);
    if (rc)
        return rc;
    if (is_q) {
        if (*out <= 0)
            return FAIL_AT(c, n, f, "must be greater than 0, got %s", SHOWN(n, s));
        return 0;
    }
    if (!in_range(d, *out))
        return FAIL_AT(c, n, f, "%s is out of range %s", SHOWN(n, s), range_text(d, r, sizeof r));
    return 0;
}

/* The form of a parameter (value, values or a distribution) from its
 * mapping n; keys/vals are check_map's output for n. */
static int parse_form(const pctx_t *c, const ynode_t *n, const char *pf, const pdef_t *d,
                      coord_param_t *p, const ynode_t *const *keys, const ynode_t *const *vals)
{
    char f[128], dsc[96], s[48], list[160];
    int rc;
    /* Exactly one form: value, values (alone) or distribution. */
    const ynode_t *first = NULL;
    static const int forms[] = {K_VALUE, K_VALUES, K_DISTRIBUTION};
    for (int i = 0; i < 3; i++) {
        const ynode_t *k = keys[forms[i]];
        if (!k || (forms[i] == K_VALUES && keys[K_DISTRIBUTION]))
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
    if (!first)
        return FAIL_AT(c, n, pf, "needs value, values or distribution");

    if (keys[K_VALUE]) {
        p->dist = COORD_PDIST_VALUE;
    } else if (!keys[K_DISTRIBUTION]) {
        p->dist = COORD_PDIST_VALUES;
    } else {
        snprintf(f, sizeof f, "%s.distribution", pf);
        const ynode_t *dn = vals[K_DISTRIBUTION];
        if (!dn || dn->type != Y_SCALAR || is_null(dn))
            return FAIL_AT(c, dn, f, "expected a distribution name, got %s",
                           describe(dn, dsc, sizeof dsc));
        int di = lookup_name(dn, dist_names + DIST_FIRST, DIST_COUNT - DIST_FIRST);
        if (di < 0)
            return FAIL_AT(c, dn, f, "unknown distribution %s (allowed: %s)",
                           describe(dn, dsc, sizeof dsc),
                           join_names(dist_names + DIST_FIRST, DIST_COUNT - DIST_FIRST, list,
                                      sizeof list));
        p->dist = (coord_pdist_t)(di + DIST_FIRST);
        bool numeric = d->kind == COORD_PKIND_INT || d->kind == COORD_PKIND_FLOAT;
        switch (p->dist) {
        case COORD_PDIST_UNIFORM:
        case COORD_PDIST_LOG_UNIFORM_VALUES:
            if (d->kind != COORD_PKIND_FLOAT)
                return FAIL_AT(c, dn, f, "%s needs a float parameter; %s takes %s",
                               dist_names[p->dist], d->name,
                               numeric ? "integers (use int_uniform or q_uniform)"
                                       : "names or booleans (use values or categorical)");
            break;
        case COORD_PDIST_INT_UNIFORM:
            if (d->kind != COORD_PKIND_INT)
                return FAIL_AT(c, dn, f, "int_uniform needs an integer parameter; %s takes %s",
                               d->name,
                               numeric ? "floats (use uniform or q_uniform)"
                                       : "names or booleans (use values or categorical)");
            break;
        case COORD_PDIST_Q_UNIFORM:
            if (!numeric)
                return FAIL_AT(c, dn, f,
                               "q_uniform needs a numeric parameter; %s takes names or "
                               "booleans (use values or categorical)",
                               d->name);
            break;
        default:
            break;
        }
    }

    /* Keys that do not belong to the form. */
    unsigned allowed = form_keys(p->dist);
    for (int k = 0; k < K__COUNT; k++)
        if (keys[k] && !(allowed & (1u << k))) {
            snprintf(f, sizeof f, "%s.%s", pf, param_keys[k]);
            char form[48];
            snprintf(form, sizeof form, "%s%s",
                     p->dist >= DIST_FIRST ? "distribution " : "", dist_name(p->dist));
            return FAIL_AT(c, keys[k], f, "not allowed with %s (allowed: %s)", form,
                           form_keys_text(allowed, list, sizeof list));
        }
    /* Keys the form needs (start and when are optional). */
    for (int k = K_VALUES; k < K_START; k++)
        if (!keys[k] && (allowed & (1u << k)) && k != K_PROBABILITIES)
            return FAIL_AT(c, n, pf, "distribution %s needs %s", dist_name(p->dist),
                           param_keys[k]);

    switch (p->dist) {
    case COORD_PDIST_VALUE:
        p->values = calloc(1, sizeof *p->values);
        if (!p->values)
            return hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
        snprintf(f, sizeof f, "%s.value", pf);
        rc = get_pval(c, vals[K_VALUE], f, d, &p->values[0]);
        if (rc == 0)
            p->n_values = 1;
        return rc;
    case COORD_PDIST_VALUES:
        return parse_values(c, vals[K_VALUES], pf, d, p);
    case COORD_PDIST_CATEGORICAL:
        rc = parse_values(c, vals[K_VALUES], pf, d, p);
        if (rc)
            return rc;
        if (keys[K_PROBABILITIES])
            return parse_probs(c, vals[K_PROBABILITIES], pf, p);
        /* Without probabilities every value is equally likely. */
        p->probs = calloc((size_t)p->n_values, sizeof *p->probs);
        if (!p->probs)
            return hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
        for (int i = 0; i < p->n_values; i++)
            p->probs[i] = 1.0 / p->n_values;
        return 0;
    default:
        break;
    }

    /* The numeric distributions. */
    if (p->dist == COORD_PDIST_LOG_UNIFORM_VALUES) {
        /* Positivity first: it is the distribution's own requirement. */
        const ynode_t *mn = vals[K_MIN];
        double v;
        snprintf(f, sizeof f, "%s.min", pf);
        if ((rc = get_num(c, mn, f, &v)) != 0)
            return rc;
        if (v <= 0)
            return FAIL_AT(c, mn, f, "must be greater than 0 for log_uniform_values, got %s",
                           SHOWN(mn, s));
    }
    if ((rc = parse_bound(c, vals[K_MIN], pf, "min", d, false, &p->min)) != 0 ||
        (rc = parse_bound(c, vals[K_MAX], pf, "max", d, false, &p->max)) != 0)
        return rc;
    if (!(p->min < p->max)) {
        char smin[48];
        snprintf(f, sizeof f, "%s.max", pf);
        return FAIL_AT(c, vals[K_MAX], f, "must be greater than min (%s), got %s",
                       SHOWN(vals[K_MIN], smin), SHOWN(vals[K_MAX], s));
    }
    if (p->dist == COORD_PDIST_Q_UNIFORM) {
        if ((rc = parse_bound(c, vals[K_Q], pf, "q", d, true, &p->q)) != 0)
            return rc;
        /* Sampling rounds to a multiple of q inside [min, max]; there must be
         * one.  The tolerance absorbs decimal fractions such as 0.3 / 0.1. */
        double lo = ceil(p->min / p->q - 1e-9), hi = floor(p->max / p->q + 1e-9);
        if (lo > hi || !isfinite(lo) || !isfinite(hi)) {
            snprintf(f, sizeof f, "%s.q", pf);
            char smin[48], smax[48];
            return FAIL_AT(c, vals[K_Q], f, "no multiple of %s lies in [%s, %s]",
                           SHOWN(vals[K_Q], s), SHOWN(vals[K_MIN], smin),
                           SHOWN(vals[K_MAX], smax));
        }
    }
    return 0;
}

/* Whether v is a value parameter p can take: one of its values for a list
 * form, the constant for value:, inside [min, max] for a distribution (and
 * a multiple of q for q_uniform, snapped onto the lattice).  On failure the
 * error points at n.  *index gets the value's position for the listed forms
 * (else 0). */
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
        return FAIL_AT(c, n, field, "%s is not one of parameters.%s.%s", SHOWN(n, s), p->name,
                       p->dist == COORD_PDIST_VALUE ? "value" : "values");
    default:
        break;
    }
    if (!(v->num >= p->min && v->num <= p->max))
        return FAIL_AT(c, n, field, "%s is outside the distribution's range [%.17g, %.17g]",
                       SHOWN(n, s), p->min, p->max);
    if (p->dist == COORD_PDIST_Q_UNIFORM) {
        double m = round(v->num / p->q);
        if (fabs(v->num / p->q - m) > 1e-9)
            return FAIL_AT(c, n, field, "%s is not a multiple of q (%.17g)", SHOWN(n, s), p->q);
        v->num = m * p->q;
    }
    return 0;
}

/* start: X, checked against the parameter's form. */
static int parse_start(const pctx_t *c, const ynode_t *n, const char *pf, const pdef_t *d,
                       coord_param_t *p)
{
    char f[128];
    snprintf(f, sizeof f, "%s.start", pf);
    coord_pval_t v;
    int rc = get_pval(c, n, f, d, &v);
    if (rc == 0)
        rc = check_in_dist(c, n, f, p, &v, &p->start_index);
    if (rc)
        return rc;
    p->start = v;
    p->has_start = true;
    return 0;
}

/* Index of the parameter named by key k among params[0..n), or -1. */
static int param_index(const coord_param_t *params, int n, const ynode_t *k)
{
    if (!k || k->type != Y_SCALAR || memchr(k->text, '\0', k->len))
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(params[i].name, k->text) == 0)
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
    char f[80], kf[160], dsc[96], s[48];
    coord_param_t *p = &spec->params[self];
    snprintf(f, sizeof f, "%s.when", pf);
    if (!n || n->type != Y_MAP)
        return FAIL_AT(c, n, f, "expected a mapping of conditions (parameter: [values] or "
                       "parameter: {min, max}), got %s", describe(n, dsc, sizeof dsc));
    if (n->n == 0)
        return FAIL_AT(c, n, f, "must name at least one parameter");
    if (n->n / 2 > COORD_SPEC_MAX_WHEN)
        return FAIL_AT(c, n, f, "at most %d conditions", COORD_SPEC_MAX_WHEN);
    for (int i = 0; i + 1 < n->n; i += 2) {
        const ynode_t *k = n->kids[i], *v = n->kids[i + 1];
        if (k->type != Y_SCALAR || is_null(k) || memchr(k->text, '\0', k->len))
            return FAIL_AT(c, k, f, "keys must be names, got %s", describe(k, dsc, sizeof dsc));
        snprintf(kf, sizeof kf, "%s.%s", f, SHOWN(k, s));
        for (int j = 0; j < i; j += 2)
            if (strcmp(n->kids[j]->text, k->text) == 0)
                return FAIL_AT(c, k, kf, "duplicate key (first given at %d:%d)",
                               n->kids[j]->line, n->kids[j]->col);
        int pi = param_index(spec->params, self, k);
        if (pi < 0) {
            if (strcmp(k->text, p->name) == 0)
                return FAIL_AT(c, k, kf, "a parameter cannot depend on itself");
            bool later = false;
            for (int j = 0; j + 1 < pnode->n; j += 2)
                later |= pnode->kids[j]->type == Y_SCALAR &&
                         strcmp(pnode->kids[j]->text, k->text) == 0;
            if (later)
                return FAIL_AT(c, k, kf, "%s must be listed before %s in parameters "
                               "(a condition reads an earlier parameter)", SHOWN(k, s), p->name);
            return FAIL_AT(c, k, kf, "%s is not in parameters", SHOWN(k, s));
        }
        const coord_param_t *parent = &spec->params[pi];
        const pdef_t *pd = pdef_find(parent->name, NULL);
        coord_when_t *w = &p->when[p->n_when];
        *w = (coord_when_t){.param = pi, .line = k->line, .col = k->col};
        p->n_when++;  // counted now so that destroy frees w->values on failure
        if (v && v->type == Y_SEQ) {
            if (v->n == 0)
                return FAIL_AT(c, v, kf, "must not be empty");
            if (v->n > COORD_SPEC_MAX_VALUES)
                return FAIL_AT(c, v, kf, "has %d values (at most %d)", v->n,
                               COORD_SPEC_MAX_VALUES);
            w->values = calloc((size_t)v->n, sizeof *w->values);
            if (!w->values)
                return hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
            for (int j = 0; j < v->n; j++) {
                char ef[176];
                snprintf(ef, sizeof ef, "%s[%d]", kf, j);
                int idx, rc = get_pval(c, v->kids[j], ef, pd, &w->values[j]);
                if (rc == 0)
                    rc = check_in_dist(c, v->kids[j], ef, parent, &w->values[j], &idx);
                if (rc)
                    return rc;
                w->n_values = j + 1;
            }
        } else if (v && v->type == Y_MAP) {
            static const char *const rkeys[] = {"min", "max"};
            const ynode_t *rk[2], *rv[2];
            int rc = check_map(c, v, kf, rkeys, 2, "key", NULL, rk, rv);
            if (rc)
                return rc;
            if (parent->kind != COORD_PKIND_INT && parent->kind != COORD_PKIND_FLOAT)
                return FAIL_AT(c, v, kf, "a range needs a numeric parameter; %s takes %s "
                               "(use a list of values)", parent->name,
                               parent->kind == COORD_PKIND_BOOL ? "booleans" : "names");
            if (!rk[0] && !rk[1])
                return FAIL_AT(c, v, kf, "a range needs min, max or both");
            w->is_range = true;
            w->min = -INFINITY;
            w->max = INFINITY;
            char rf[176];
            snprintf(rf, sizeof rf, "%s.min", kf);
            if (rk[0] && (rc = get_num(c, rv[0], rf, &w->min)) != 0)
                return rc;
            snprintf(rf, sizeof rf, "%s.max", kf);
            if (rk[1] && (rc = get_num(c, rv[1], rf, &w->max)) != 0)
                return rc;
            if (w->min > w->max)
                return FAIL_AT(c, rv[1], rf, "must not be less than min");
            if (!range_reachable(parent, w->min, w->max))
                return FAIL_AT(c, v, kf, "never holds: %s takes no value in [%g, %g]",
                               parent->name, w->min, w->max);
        } else {
            return FAIL_AT(c, v, kf, "expected a list of values or {min, max}, got %s",
                           describe(v, dsc, sizeof dsc));
        }
    }
    return 0;
}

/* One parameter: spec->params[self], from key (its name) and mapping n. */
static int parse_param(const pctx_t *c, const ynode_t *key, const ynode_t *n, const pdef_t *d,
                       coord_spec_t *spec, int self, const ynode_t *pnode)
{
    char pf[64], dsc[96];
    coord_param_t *p = &spec->params[self];
    snprintf(pf, sizeof pf, "parameters.%s", d->name);
    *p = (coord_param_t){.kind = d->kind, .line = key->line, .col = key->col};
    snprintf(p->name, sizeof p->name, "%s", d->name);

    if (!n || n->type != Y_MAP)
        return FAIL_AT(c, n, pf, "expected a mapping (value, values or distribution), got %s",
                       describe(n, dsc, sizeof dsc));
    const ynode_t *keys[K__COUNT], *vals[K__COUNT];
    int rc = check_map(c, n, pf, param_keys, K__COUNT, "key", NULL, keys, vals);
    if (rc == 0)
        rc = parse_form(c, n, pf, d, p, keys, vals);
    if (rc == 0 && keys[K_START])
        rc = parse_start(c, vals[K_START], pf, d, p);
    if (rc == 0 && keys[K_WHEN])
        rc = parse_when(c, vals[K_WHEN], pf, spec, self, pnode);
    return rc;
}

// ----------------------------------------------------------------------------
// Applying values to hyperparameters

/* Check v against d; on failure err names the parameter. */
static int check_pval(const pdef_t *d, const coord_pval_t *v, int *ival, hpt_err *err)
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
        char s[48];
        if (!memchr(v->str, '\0', sizeof v->str) || (*ival = d->parse(v->str)) < 0)
            return hpt_err_set(err, -EINVAL, "%s: unknown %s '%s' (allowed: %s)", d->name,
                               d->name, shown(v->str, strnlen(v->str, sizeof v->str), s,
                                              sizeof s),
                               d->names());
        return 0;
    }
    }
    return hpt_err_set(err, -EINVAL, "%s: unsupported parameter kind", d->name);
}

static int apply_one(param_id_t id, const coord_pval_t *v, hpt_hparams_t *hp, hpt_err *err)
{
    const pdef_t *d = &pdefs[id];
    int iv = 0;
    int rc = check_pval(d, v, &iv, err);
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
    case P_OPTIMIZER: hp->optimizer = (hpt_opt_t)iv; break;
    case P_LEARNING_RATE: hp->learning_rate = v->num; break;
    case P_MOMENTUM: hp->momentum = v->num; break;
    case P_NESTEROV: hp->nesterov = iv != 0; break;
    case P_DROPOUT: hp->dropout = v->num; break;
    case P_INPUT_DROPOUT: hp->input_dropout = v->num; break;
    case P_WEIGHT_CONSTRAINT: hp->weight_constraint = v->num; break;
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
 * wherever it appears in the spec. */
static int apply_all(const coord_param_t *params, int n, const coord_pval_t *const *vals,
                     hpt_hparams_t *hp, hpt_err *err)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            param_id_t id;
            if (!pdef_find(params[i].name, &id))
                return hpt_err_set(err, -EINVAL, "%.31s: unknown parameter", params[i].name);
            bool per_layer = id >= P_UNITS_1 && id <= P_UNITS_8;
            if (per_layer != (pass == 1) || !vals[i] || vals[i]->absent)
                continue;
            int rc = apply_one(id, vals[i], hp, err);
            if (rc)
                return rc;
        }
    return 0;
}

// ----------------------------------------------------------------------------
// Top level

enum {
    T_NAME, T_DATASET, T_METRIC, T_METHOD, T_CV, T_REFIT, T_SCORE_TRAIN, T_PRIORITY, T_SEED,
    T_MODEL_SEED, T_BUDGET, T_PARAMETERS, T_TPE, T_COORDINATE, T_HYPERBAND, T_ASHA, T_ALPHA,
    T_TEST_OBJECTIVE, T_ENQUEUE, T__COUNT
};
static const char *const top_keys[T__COUNT] = {
    "name", "dataset", "metric", "method", "cv", "refit", "score_train", "priority", "seed",
    "model_seed", "budget", "parameters", "tpe", "coordinate", "hyperband", "asha", "alpha",
    "test_objective", "enqueue",
};

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
static const char *const test_objectives[] = {"hash", "bowl"};
#define TEST_OBJECTIVES_TEXT "hash, bowl"

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
    static const char *const keys_[] = {"name", "goal"};
    static const char *const goals[] = {"maximize", "minimize"};
    const ynode_t *keys[2], *vals[2];
    char dsc[96];
    int rc = check_map(c, n, "metric", keys_, 2, "key", NULL, keys, vals);
    if (rc)
        return rc;
    if (keys[0]) {
        const ynode_t *v = vals[0];
        int m = (v && v->type == Y_SCALAR && !memchr(v->text, '\0', v->len))
                    ? hpt_metric_parse(v->text)
                    : -EINVAL;
        if (m < 0)
            return FAIL_AT(c, v, "metric.name", "unknown metric %s (allowed: %s)",
                           describe(v, dsc, sizeof dsc), hpt_metric_names());
        spec->metric = (hpt_metric_t)m;
    }
    spec->maximize = hpt_metric_maximize(spec->metric);
    if (keys[1]) {
        const ynode_t *v = vals[1];
        int g = lookup_name(v, goals, 2);
        if (g < 0)
            return FAIL_AT(c, v, "metric.goal", "unknown goal %s (allowed: maximize, minimize)",
                           describe(v, dsc, sizeof dsc));
        if ((g == 0) != spec->maximize)
            return FAIL_AT(c, v, "metric.goal", "%s is %s, not %s (allowed: %s)",
                           hpt_metric_name(spec->metric),
                           spec->maximize ? "maximized" : "minimized",
                           spec->maximize ? "minimized" : "maximized",
                           spec->maximize ? "maximize" : "minimize");
    }
    return 0;
}

static int parse_method(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    char dsc[96];
    int m = lookup_name(n, method_names, COORD_METHOD__COUNT);
    if (m >= 0) {
        spec->method = (coord_method_t)m;
        return 0;
    }
    if (!n || n->type != Y_SCALAR || is_null(n))
        return FAIL_AT(c, n, "method",
                       "expected a method name, got %s (allowed: " METHOD_NAMES_TEXT ")",
                       describe(n, dsc, sizeof dsc));
    return FAIL_AT(c, n, "method", "unknown method %s (allowed: " METHOD_NAMES_TEXT ")",
                   describe(n, dsc, sizeof dsc));
}

static int parse_cv(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    static const char *const keys_[] = {"folds", "stratified", "shuffle", "seed", "repeats",
                                        "seeds"};
    const ynode_t *keys[6], *vals[6];
    long long v;
    int rc = check_map(c, n, "cv", keys_, 6, "key", NULL, keys, vals);
    if (rc)
        return rc;
    if (keys[0]) {
        if ((rc = get_int(c, vals[0], "cv.folds", 2, 100, &v)) != 0)
            return rc;
        spec->cv.folds = (int)v;
    }
    if (keys[1] && (rc = get_bool(c, vals[1], "cv.stratified", &spec->cv.stratified)) != 0)
        return rc;
    if (keys[2] && (rc = get_bool(c, vals[2], "cv.shuffle", &spec->cv.shuffle)) != 0)
        return rc;
    if (keys[3] && (rc = get_u64(c, vals[3], "cv.seed", &spec->cv.seed)) != 0)
        return rc;
    if (keys[4]) {
        if ((rc = get_int(c, vals[4], "cv.repeats", 1, 100, &v)) != 0)
            return rc;
        spec->cv.repeats = (int)v;
    }
    if (keys[5]) {
        if ((rc = get_int(c, vals[5], "cv.seeds", 1, 100, &v)) != 0)
            return rc;
        spec->seeds = (int)v;
    }
    return 0;
}

static int parse_tpe(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    static const char *const keys_[] = {"n_startup", "n_candidates", "gamma", "prior_weight",
                                        "constant_liar"};
    const ynode_t *keys[5], *vals[5];
    long long v;
    char s[48];
    int rc = check_map(c, n, "tpe", keys_, 5, "key", NULL, keys, vals);
    if (rc)
        return rc;
    if (keys[0]) {
        if ((rc = get_int(c, vals[0], "tpe.n_startup", 0, 1000000, &v)) != 0)
            return rc;
        spec->tpe.n_startup = (int)v;
    }
    if (keys[1]) {
        if ((rc = get_int(c, vals[1], "tpe.n_candidates", 1, 10000, &v)) != 0)
            return rc;
        spec->tpe.n_candidates = (int)v;
    }
    if (keys[2]) {
        if ((rc = get_num(c, vals[2], "tpe.gamma", &spec->tpe.gamma)) != 0)
            return rc;
        if (!(spec->tpe.gamma > 0 && spec->tpe.gamma <= 1))
            return FAIL_AT(c, vals[2], "tpe.gamma", "%s is out of range (0, 1]",
                           SHOWN(vals[2], s));
    }
    if (keys[3]) {
        if ((rc = get_num(c, vals[3], "tpe.prior_weight", &spec->tpe.prior_weight)) != 0)
            return rc;
        if (!(spec->tpe.prior_weight > 0 && spec->tpe.prior_weight <= 1e6))
            return FAIL_AT(c, vals[3], "tpe.prior_weight", "%s is out of range (0, 1e6]",
                           SHOWN(vals[3], s));
    }
    if (keys[4] && (rc = get_bool(c, vals[4], "tpe.constant_liar", &spec->tpe.constant_liar)))
        return rc;
    return 0;
}

static int parse_coordinate(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    static const char *const keys_[] = {"rounds"};
    const ynode_t *keys[1], *vals[1];
    long long v;
    int rc = check_map(c, n, "coordinate", keys_, 1, "key", NULL, keys, vals);
    if (rc)
        return rc;
    if (keys[0]) {
        if ((rc = get_int(c, vals[0], "coordinate.rounds", 1, 1000, &v)) != 0)
            return rc;
        spec->rounds = (int)v;
    }
    return 0;
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
    int rc = check_map(c, n, field, keys_, hyperband ? 4 : 3, "key", NULL, keys, vals);
    if (rc)
        return rc;
    coord_sh_cfg_t *sh = &spec->sh;
    if (keys[0]) {
        snprintf(f, sizeof f, "%s.min_epochs", field);
        if ((rc = get_int(c, vals[0], f, 1, 10000, &v)) != 0)
            return rc;
        sh->min_epochs = (int)v;
    }
    if (keys[1]) {
        snprintf(f, sizeof f, "%s.max_epochs", field);
        if ((rc = get_int(c, vals[1], f, sh->min_epochs, 10000, &v)) != 0)
            return rc;
        sh->max_epochs = (int)v;
    }
    if (keys[2]) {
        snprintf(f, sizeof f, "%s.eta", field);
        if ((rc = get_int(c, vals[2], f, 2, 100, &v)) != 0)
            return rc;
        sh->eta = (int)v;
    }
    if (hyperband && keys[3]) {
        snprintf(f, sizeof f, "%s.iterations", field);
        if ((rc = get_int(c, vals[3], f, 1, 100, &v)) != 0)
            return rc;
        sh->iterations = (int)v;
    }
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
        return hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
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

static int parse_test_objective(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    char dsc[96];
    const char *s;
    int rc = get_str(c, n, "test_objective", 1024, &s);
    if (rc)
        return rc;
    int k = lookup_name(n, test_objectives, 2);
    if (k < 0)
        return FAIL_AT(c, n, "test_objective",
                       "unknown test objective %s (allowed: " TEST_OBJECTIVES_TEXT ")",
                       describe(n, dsc, sizeof dsc));
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
    if (k < 0)
        return FAIL_AT(c, n, "model_seed", "unknown model_seed %s (allowed: " MODEL_SEED_NAMES_TEXT
                       ")", describe(n, dsc, sizeof dsc));
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
    char dsc[96], f[96], kf[160], s[48], names[320];
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
        return hpt_err_set(c->err, -ENOMEM, "%s: out of memory", c->path);
    size_t off = 0;
    names[0] = '\0';
    for (int i = 0; i < np && off < sizeof names; i++)
        if (i != spec->resource_param)
            off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", off ? ", " : "",
                                    spec->params[i].name);
    for (int r = 0; r < n->n; r++) {
        const ynode_t *e = n->kids[r];
        coord_pval_t *row = spec->enqueue + (size_t)r * (size_t)np;
        snprintf(f, sizeof f, "enqueue[%d]", r);
        if (e->type != Y_MAP)
            return FAIL_AT(c, e, f, "expected a mapping of parameter: value, got %s",
                           describe(e, dsc, sizeof dsc));
        const ynode_t *gk[COORD_SPEC_MAX_PARAMS] = {0}, *gv[COORD_SPEC_MAX_PARAMS] = {0};
        for (int i = 0; i + 1 < e->n; i += 2) {
            const ynode_t *k = e->kids[i];
            if (k->type != Y_SCALAR || is_null(k) || memchr(k->text, '\0', k->len))
                return FAIL_AT(c, k, f, "keys must be names, got %s",
                               describe(k, dsc, sizeof dsc));
            snprintf(kf, sizeof kf, "%s.%s", f, SHOWN(k, s));
            int pi = param_index(spec->params, np, k);
            if (pi >= 0 && pi == spec->resource_param)
                return FAIL_AT(c, k, kf, "epochs is the budget of method %s: enqueued trials "
                               "start at the first rung (%d epoch%s)",
                               coord_method_name(spec->method), spec->sh.rung_epochs[0],
                               spec->sh.rung_epochs[0] == 1 ? "" : "s");
            if (pi < 0)
                return FAIL_AT(c, k, kf, "not a parameter of this spec (parameters: %s)", names);
            if (gk[pi])
                return FAIL_AT(c, k, kf, "duplicate key (first given at %d:%d)", gk[pi]->line,
                               gk[pi]->col);
            gk[pi] = k;
            gv[pi] = e->kids[i + 1];
        }
        for (int i = 0; i < np; i++) {
            const coord_param_t *p = &spec->params[i];
            snprintf(kf, sizeof kf, "%s.%s", f, p->name);
            if (!coord_spec_active(spec, i, row)) {
                if (gk[i])
                    return FAIL_AT(c, gk[i], kf, "does not apply to this trial (its when: "
                                   "does not hold)");
                row[i] = (coord_pval_t){.absent = true};
                continue;
            }
            if (gk[i]) {
                int idx, rc = get_pval(c, gv[i], kf, pdef_find(p->name, NULL), &row[i]);
                if (rc == 0)
                    rc = check_in_dist(c, gv[i], kf, p, &row[i], &idx);
                if (rc)
                    return rc;
            } else if (p->has_start) {
                row[i] = p->start;
            } else if (p->n_values > 0) {
                row[i] = p->values[0];
            } else {
                return FAIL_AT(c, e, f, "missing parameter %s (a distribution without start: "
                               "has no default)", p->name);
            }
        }
        spec->n_enqueue = r + 1;
    }
    return 0;
}

static int parse_budget(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    static const char *const keys_[] = {"max_trials", "max_parallel"};
    const ynode_t *keys[2], *vals[2];
    long long v;
    int rc = check_map(c, n, "budget", keys_, 2, "key", NULL, keys, vals);
    if (rc)
        return rc;
    if (keys[0]) {
        if ((rc = get_int(c, vals[0], "budget.max_trials", 1, 1000000, &v)) != 0)
            return rc;
        spec->max_trials = (int)v;
    }
    if (keys[1]) {
        if ((rc = get_int(c, vals[1], "budget.max_parallel", 0, 100000, &v)) != 0)
            return rc;
        spec->max_parallel = (int)v;
    }
    return 0;
}

static int parse_parameters(const pctx_t *c, const ynode_t *n, coord_spec_t *spec)
{
    const ynode_t *keys[P__COUNT], *vals[P__COUNT];
    int rc = check_map(c, n, "parameters", param_names, P__COUNT, "parameter",
                       PARAM_NAMES_TEXT, keys, vals);
    if (rc)
        return rc;
    if (n->n == 0)
        return FAIL_AT(c, n, "parameters", "must name at least one parameter");
    if (n->n / 2 > COORD_SPEC_MAX_PARAMS)
        return FAIL_AT(c, n, "parameters", "at most %d parameters", COORD_SPEC_MAX_PARAMS);
    /* In spec order, which is the grid's order. */
    for (int i = 0; i + 1 < n->n; i += 2) {
        param_id_t id;
        const pdef_t *d = pdef_find(n->kids[i]->text, &id);
        int self = spec->n_params++;
        rc = parse_param(c, n->kids[i], n->kids[i + 1], d, spec, self, n);
        if (rc)
            return rc;
    }
    return 0;
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
    static const int required[] = {T_DATASET, T_METHOD, T_PARAMETERS};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!keys[required[i]])
            return FAIL_AT(c, c->top, top_keys[required[i]], "required key is missing");

    /* Settings of one method given to another are mistakes, not no-ops. */
    if (keys[T_HYPERBAND] && spec->method != COORD_METHOD_HYPERBAND)
        return FAIL_AT(c, keys[T_HYPERBAND], "hyperband",
                       "only used by method hyperband (method is %s)",
                       coord_method_name(spec->method));
    if (keys[T_ASHA] && spec->method != COORD_METHOD_ASHA)
        return FAIL_AT(c, keys[T_ASHA], "asha", "only used by method asha (method is %s)",
                       coord_method_name(spec->method));

    /* Successive halving: epochs are the budget, so the method owns them. */
    bool halving = spec->method == COORD_METHOD_HYPERBAND || spec->method == COORD_METHOD_ASHA;
    if (halving) {
        const char *m = coord_method_name(spec->method);
        bool hb = spec->method == COORD_METHOD_HYPERBAND;
        int bk = hb ? T_HYPERBAND : T_ASHA;
        if (keys[bk]) {
            int rc = parse_sh(c, vals[bk], m, hb, spec);
            if (rc)
                return rc;
        }
        for (int i = 0; i < spec->n_params; i++)
            if (strcmp(spec->params[i].name, "epochs") == 0)
                return fail(c, spec->params[i].line, spec->params[i].col, "parameters.epochs",
                            "epochs is the budget of method %s: set %s.min_epochs and "
                            "%s.max_epochs", m, m, m);
        sh_derive(&spec->sh);
        int rc = add_resource_param(c, keys[T_METHOD], spec);
        if (rc)
            return rc;
    }

    bool enumerates = spec->method == COORD_METHOD_GRID ||
                      spec->method == COORD_METHOD_COORDINATE;
    if (enumerates) {
        for (int i = 0; i < spec->n_params; i++) {
            const coord_param_t *p = &spec->params[i];
            char f[64];
            snprintf(f, sizeof f, "parameters.%s", p->name);
            if (!enumerable(p))
                return fail(c, p->line, p->col, f,
                            "distribution %s cannot be enumerated by %s search; use values",
                            dist_name(p->dist), coord_method_name(spec->method));
        }
    }
    if (spec->method == COORD_METHOD_GRID) {
        if (coord_spec_grid_size(spec, COORD_SPEC_MAX_GRID) > COORD_SPEC_MAX_GRID)
            return FAIL_AT(c, keys[T_PARAMETERS], "parameters",
                           "the grid has more than %ld combinations; use fewer values or "
                           "method: random",
                           (long)COORD_SPEC_MAX_GRID);
    } else if (spec->max_trials <= 0 && spec->method != COORD_METHOD_COORDINATE &&
               spec->method != COORD_METHOD_HYPERBAND) {
        return FAIL_AT(c, keys[T_BUDGET] ? vals[T_BUDGET] : vals[T_METHOD], "budget.max_trials",
                       "required by method %s", coord_method_name(spec->method));
    }
    /* Likewise tpe: and coordinate:. */
    if (keys[T_TPE] && spec->method != COORD_METHOD_BAYES)
        return FAIL_AT(c, keys[T_TPE], "tpe", "only used by method bayes (method is %s)",
                       coord_method_name(spec->method));
    if (keys[T_COORDINATE] && spec->method != COORD_METHOD_COORDINATE)
        return FAIL_AT(c, keys[T_COORDINATE], "coordinate",
                       "only used by method coordinate (method is %s)",
                       coord_method_name(spec->method));
    if (keys[T_ENQUEUE]) {
        int rc = parse_enqueue(c, vals[T_ENQUEUE], spec);
        if (rc)
            return rc;
        if (spec->max_trials > 0 && spec->n_enqueue > spec->max_trials)
            return FAIL_AT(c, vals[T_ENQUEUE], "enqueue",
                           "%d trials, more than budget.max_trials (%d)", spec->n_enqueue,
                           spec->max_trials);
        /* Hyperband runs the enqueued trials as the first bracket's first
         * rung, which holds eta^K configurations. */
        long first = 1;
        for (int r = 1; r < spec->sh.n_rungs; r++)
            first *= spec->sh.eta;
        if (spec->method == COORD_METHOD_HYPERBAND && spec->n_enqueue > first)
            return FAIL_AT(c, vals[T_ENQUEUE], "enqueue",
                           "%d trials, more than hyperband's first bracket (%ld configurations)",
                           spec->n_enqueue, first);
    }

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
        return FAIL_AT(c, keys[T_PARAMETERS], "parameters", "%s", e.msg);
    return 0;
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
    int rc = check_map(c, root, "", top_keys, T__COUNT, "key", NULL, keys, vals);
    if (rc)
        return rc;

    /* Keys in document order, so the first error in the file is reported. */
    for (int i = 0; rc == 0 && i + 1 < root->n; i += 2) {
        int k = lookup_name(root->kids[i], top_keys, T__COUNT);
        const ynode_t *v = root->kids[i + 1];
        long long iv;
        switch (k) {
        case T_NAME: rc = parse_name(c, v, spec); break;
        case T_DATASET: rc = parse_dataset(c, v, spec); break;
        case T_METRIC: rc = parse_metric(c, v, spec); break;
        case T_METHOD: rc = parse_method(c, v, spec); break;
        case T_CV: rc = parse_cv(c, v, spec); break;
        case T_REFIT: rc = get_bool(c, v, "refit", &spec->refit); break;
        case T_SCORE_TRAIN: rc = get_bool(c, v, "score_train", &spec->score_train); break;
        case T_PRIORITY:
            rc = get_int(c, v, "priority", -1000, 1000, &iv);
            spec->priority = rc ? 0 : (int)iv;
            break;
        case T_SEED: rc = get_u64(c, v, "seed", &spec->seed); break;
        case T_BUDGET: rc = parse_budget(c, v, spec); break;
        case T_PARAMETERS: rc = parse_parameters(c, v, spec); break;
        case T_TPE: rc = parse_tpe(c, v, spec); break;
        case T_COORDINATE: rc = parse_coordinate(c, v, spec); break;
        case T_HYPERBAND: break;  // parsed by check_spec for its method only
        case T_ASHA: break;
        case T_ALPHA: rc = parse_alpha(c, v, spec); break;
        case T_TEST_OBJECTIVE: rc = parse_test_objective(c, v, spec); break;
        case T_ENQUEUE: break;  // needs the parameters: check_spec parses it
        case T_MODEL_SEED: rc = parse_model_seed(c, v, spec); break;
        default: break;
        }
    }
    if (rc)
        return rc;
    return check_spec(c, keys, vals, spec);
}

// ----------------------------------------------------------------------------
// Public API

int coord_spec_parse(const char *text, size_t len, const char *path, coord_spec_t **out,
                     hpt_err *err)
{
    *out = NULL;
    coord_spec_t *spec = calloc(1, sizeof *spec);
    if (!spec)
        return hpt_err_set(err, -ENOMEM, "%s: out of memory", path ? path : "<spec>");
    if (!path)
        path = "<spec>";
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
    spec->alpha = 0.05;

    pctx_t c = {.path = spec->path, .err = err};
    ytree_t tree = {0};
    int rc = ytree_build(&c, text, text ? len : 0, &tree);
    if (rc == 0) {
        c.top = tree.root;
        rc = parse_tree(&c, tree.root, spec);
    }
    ytree_free(&tree);
    if (rc == 0) {
        spec->base.metric = spec->metric;
        *out = spec;
    } else {
        coord_spec_destroy(&spec);
    }
    return rc;
}

void coord_spec_destroy(coord_spec_t **p)
{
    if (!p || !*p)
        return;
    coord_spec_t *spec = *p;
    for (int i = 0; i < spec->n_params && i < COORD_SPEC_MAX_PARAMS; i++) {
        free(spec->params[i].values);
        free(spec->params[i].probs);
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
    switch (p->kind) {
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

bool coord_pval_equal(const coord_param_t *p, const coord_pval_t *a, const coord_pval_t *b)
{
    if (a->absent || b->absent)
        return a->absent == b->absent;
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
        if (v->absent)
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
