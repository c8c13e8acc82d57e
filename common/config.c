/*
 * config.c: the option-table engine; see config.h.
 *
 * Every function walks the daemon's table: nothing here names an option.  A
 * value is validated completely before it is stored, so a rejected line or
 * flag leaves the struct as it was.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

const char *const hpt_config_log_levels[] = {"debug", "info", "warn", "error", NULL};
_Static_assert(HPT_LOG_DEBUG == 0 && HPT_LOG_INFO == 1 && HPT_LOG_WARN == 2 &&
                   HPT_LOG_ERROR == 3,
               "hpt_config_log_levels[] is indexed by hpt_log_level_t");

#define LINE_MAX_BYTES 8192   // a config-file line: a key plus a 4 KiB path, with room

// --- finding and setting one option ----------------------------------------

/* Do key (len bytes) and name spell the same key, '-' standing for '_'? */
static bool same_key(const char *key, size_t len, const char *name)
{
    if (strlen(name) != len)
        return false;
    for (size_t j = 0; j < len; j++)
        if (key[j] != name[j] && !(key[j] == '-' && name[j] == '_'))
            return false;
    return true;
}

const hpt_config_opt_t *hpt_config_find(const hpt_config_spec_t *spec, const char *key,
                                        size_t key_len)
{
    const char *name = NULL;
    for (size_t i = 0; i < spec->n_aliases && !name; i++)
        if (same_key(key, key_len, spec->aliases[i].name))
            name = spec->aliases[i].target;
    for (size_t i = 0; i < spec->n_opts; i++) {
        const char *n = spec->opts[i].name;
        if (name ? strcmp(n, name) == 0 : same_key(key, key_len, n))
            return &spec->opts[i];
    }
    return NULL;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return -EINVAL;
}

/* "a, b, c": an ENUM's values for an error message. */
static void join_names(const char *const *names, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; names[i] && off < len; i++) {
        int k = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
        off += k > 0 ? (size_t)k : 0;
    }
}

static int set_list(void *cfg, const hpt_config_opt_t *o, const char *who, const char *val,
                    bool replace_list, hpt_err *err)
{
    int *n = (int *)((char *)cfg + o->count_offset);
    char *v = (char *)cfg + o->offset;   // (max, size) row-major
    if (val[0] == '\0')
        return hpt_err_set(err, -EINVAL, "%s: empty name", who);
    if (strlen(val) >= o->size)
        return hpt_err_set(err, -EINVAL, "%s: longer than %zu bytes", who, o->size - 1);
    if (replace_list)
        *n = 0;
    for (int i = 0; i < *n; i++)
        if (strcmp(v + (size_t)i * o->size, val) == 0)
            return 0;   // a repeated name counts once
    if (*n >= o->max)
        return hpt_err_set(err, -EINVAL, "%s: given more than %lld times", who, o->max);
    strcpy(v + (size_t)(*n)++ * o->size, val);
    return 0;
}

int hpt_config_set(void *cfg, const hpt_config_opt_t *o, const char *who, const char *val,
                   bool replace_list, hpt_err *err)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case HPT_CONFIG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end != '\0')
            return hpt_err_set(err, -EINVAL, "%s: '%s' is not an integer (allowed %lld..%lld)",
                               who, val, o->min, o->max);
        if (v < o->min || v > o->max)
            return hpt_err_set(err, -EINVAL, "%s: %lld is out of range (allowed %lld..%lld)",
                               who, v, o->min, o->max);
        *(int *)field = (int)v;
        return 0;
    }
    case HPT_CONFIG_BOOL:
        if (parse_bool(val, (bool *)field) < 0)
            return hpt_err_set(err, -EINVAL, "%s: '%s' is not yes or no", who, val);
        return 0;
    case HPT_CONFIG_STR:
        if (strlen(val) >= o->size)
            return hpt_err_set(err, -EINVAL, "%s: longer than %zu bytes", who, o->size - 1);
        strcpy(field, val);
        return 0;
    case HPT_CONFIG_ENUM:
        for (int i = 0; o->names[i]; i++) {
            if (strcmp(o->names[i], val) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        char allowed[200];
        join_names(o->names, allowed, sizeof allowed);
        return hpt_err_set(err, -EINVAL, "%s: unknown value '%s' (allowed: %s)", who, val,
                           allowed);
    case HPT_CONFIG_STRLIST:
        return set_list(cfg, o, who, val, replace_list, err);
    }
    return hpt_err_set(err, -EINVAL, "%s: bad option type", who);
}

// --- the config file -------------------------------------------------------

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* One non-blank, non-comment line (trimmed, modified in place). */
static int load_line(const hpt_config_spec_t *spec, void *cfg, char *s, const char *where,
                     bool *list_seen, hpt_err *err)
{
    size_t klen = strcspn(s, " \t");
    char *val = trim(s + klen);
    s[klen] = '\0';
    size_t vlen = strlen(val);
    if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
        val[vlen - 1] = '\0';
        val++;
    }
    const hpt_config_opt_t *o = hpt_config_find(spec, s, klen);
    if (!o)
        return hpt_err_set(err, -EINVAL, "%s: unknown key '%s'", where, s);
    size_t idx = (size_t)(o - spec->opts);
    char who[HPT_ERR_MSG_LEN + 64];   // "where: key"; hpt_err_set truncates
    snprintf(who, sizeof who, "%s: %s", where, o->name);
    int rc = hpt_config_set(cfg, o, who, val, !list_seen[idx], err);
    list_seen[idx] = true;
    return rc;
}

int hpt_config_load_file(const hpt_config_spec_t *spec, void *cfg, const char *path,
                         hpt_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return hpt_err_set(err, -errno, "%s: %s", path, strerror(errno));
    int rc = 0, lineno = 0;
    bool *list_seen = calloc(spec->n_opts, sizeof *list_seen);
    char *line = malloc(LINE_MAX_BYTES);
    if (!list_seen || !line) {
        rc = hpt_err_set(err, -ENOMEM, "%s: out of memory", path);
        goto out;
    }
    while (fgets(line, LINE_MAX_BYTES, f)) {
        lineno++;
        char where[HPT_ERR_MSG_LEN];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            rc = hpt_err_set(err, -EINVAL, "%s: line too long", where);
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if ((rc = load_line(spec, cfg, s, where, list_seen, err)) < 0)
            break;
    }
    if (rc == 0 && ferror(f))
        rc = hpt_err_set(err, -EIO, "%s: read error", path);
out:
    free(line);
    free(list_seen);
    fclose(f);
    return rc;
}

// --- the command line ------------------------------------------------------

/* "--hb-ivl-ms": the flag of option name. */
static void flag_name(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "--%s", name);
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = '-';
}

/* The --config FILE arguments, in order. */
static int load_config_args(const hpt_config_spec_t *spec, void *cfg, int argc, char **argv,
                            hpt_err *err)
{
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                return hpt_err_set(err, -EINVAL, "--config: missing value");
            path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
        }
        int rc = path ? hpt_config_load_file(spec, cfg, path, err) : 0;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One `--key [value]` at argv[*i]; advances *i past a separate value. */
static int apply_flag(const hpt_config_spec_t *spec, void *cfg, int argc, char **argv, int *i,
                      bool *list_seen, hpt_err *err)
{
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
        return hpt_err_set(err, -EINVAL, "unexpected argument '%s'", a);
    const char *key = a + 2;
    const char *eq = strchr(key, '=');
    size_t klen = eq ? (size_t)(eq - key) : strlen(key);
    const hpt_config_opt_t *o = hpt_config_find(spec, key, klen);
    if (!o)
        return hpt_err_set(err, -EINVAL, "unknown option '%.*s'", (int)klen + 2, a);
    char flag[80];
    flag_name(o->name, flag, sizeof flag);
    const char *val;
    if (eq)
        val = eq + 1;
    else if (o->type == HPT_CONFIG_BOOL)
        val = "yes";
    else if (*i + 1 >= argc)
        return hpt_err_set(err, -EINVAL, "%s: missing value", flag);
    else
        val = argv[++*i];
    size_t idx = (size_t)(o - spec->opts);
    int rc = hpt_config_set(cfg, o, flag, val, !list_seen[idx], err);
    list_seen[idx] = true;
    return rc;
}

int hpt_config_parse_args(const hpt_config_spec_t *spec, void *cfg, int argc, char **argv,
                          hpt_config_args_t *args, hpt_err *err)
{
    *args = (hpt_config_args_t){.action = HPT_CONFIG_RUN};
    int rc = load_config_args(spec, cfg, argc, argv, err);
    bool *list_seen = calloc(spec->n_opts, sizeof *list_seen);
    if (rc == 0 && !list_seen)
        rc = hpt_err_set(err, -ENOMEM, "out of memory");
    // In order, so that a value ("--name -h") is never taken for a flag.
    for (int i = 1; rc == 0 && i < argc && args->action != HPT_CONFIG_HELP &&
                    args->action != HPT_CONFIG_VERSION;
         i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            args->action = HPT_CONFIG_HELP;
        else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0)
            args->action = HPT_CONFIG_VERSION;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
            args->verbose++;
        else if (strcmp(a, "--dump-config") == 0)
            args->action = HPT_CONFIG_DUMP;
        else if (strcmp(a, "--config") == 0)
            i++;   // applied above
        else if (strncmp(a, "--config=", 9) != 0)
            rc = apply_flag(spec, cfg, argc, argv, &i, list_seen, err);
    }
    free(list_seen);
    if (rc == 0 && spec->check && args->action != HPT_CONFIG_HELP &&
        args->action != HPT_CONFIG_VERSION)
        rc = spec->check(cfg, err);
    return rc;
}

// --- help and dump ---------------------------------------------------------

/* The value of o in cfg as text, for --help and --dump-config (a list's
 * entries joined by commas). */
static void fmt_value(const void *cfg, const hpt_config_opt_t *o, char *buf, size_t len)
{
    const char *field = (const char *)cfg + o->offset;
    buf[0] = '\0';
    switch (o->type) {
    case HPT_CONFIG_INT: snprintf(buf, len, "%d", *(const int *)field); break;
    case HPT_CONFIG_BOOL: snprintf(buf, len, "%s", *(const bool *)field ? "yes" : "no"); break;
    case HPT_CONFIG_STR: snprintf(buf, len, "%s", field); break;
    case HPT_CONFIG_ENUM: snprintf(buf, len, "%s", o->names[*(const int *)field]); break;
    case HPT_CONFIG_STRLIST: {
        int n = *(const int *)((const char *)cfg + o->count_offset);
        size_t off = 0;
        for (int i = 0; i < n && off < len; i++) {
            int k = snprintf(buf + off, len - off, "%s%s", i ? "," : "", field + i * o->size);
            off += k > 0 ? (size_t)k : 0;
        }
        break;
    }
    }
}

/* Print text from column `indent` (the cursor is there), wrapping at spaces
 * before column `width`; continuation lines start with `lead` (its length
 * being indent). */
static void print_wrapped(FILE *f, const char *text, const char *lead, int width)
{
    int indent = (int)strlen(lead), col = indent;
    while (*text) {
        size_t wlen = strcspn(text, " ");
        if (col > indent && col + 1 + (int)wlen > width) {
            fprintf(f, "\n%s", lead);
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(text, 1, wlen, f);
        col += (int)wlen;
        text += wlen;
        text += strspn(text, " ");
    }
    fputc('\n', f);
}

#define HELP_INDENT "                            "   // 28 columns: the help text's

void hpt_config_print_help(const hpt_config_spec_t *spec, FILE *f, const void *defaults)
{
    fputs(spec->usage, f);
    fputs("\nOptions (each is also a config-file key, --data-dir being data_dir; flags\n"
          "override the file):\n",
          f);
    for (size_t i = 0; i < spec->n_opts; i++) {
        const hpt_config_opt_t *o = &spec->opts[i];
        char flag[80], arg[100], val[4096], text[5000];
        flag_name(o->name, flag, sizeof flag);
        snprintf(arg, sizeof arg, "%s%s%s", flag, o->meta ? " " : "", o->meta ? o->meta : "");
        fmt_value(defaults, o, val, sizeof val);
        size_t k = (size_t)snprintf(text, sizeof text, "%s", o->help);
        if (o->type == HPT_CONFIG_INT && k < sizeof text)
            k += (size_t)snprintf(text + k, sizeof text - k, ", %lld..%lld", o->min, o->max);
        if (val[0] && k < sizeof text)
            snprintf(text + k, sizeof text - k, " [%s]", val);
        fprintf(f, "  %-24s  ", arg);
        print_wrapped(f, text, HELP_INDENT, 80);
    }
    for (size_t i = 0; i < spec->n_aliases; i++) {
        const hpt_config_alias_t *al = &spec->aliases[i];
        const hpt_config_opt_t *o = hpt_config_find(spec, al->target, strlen(al->target));
        char flag[80], arg[100], target[80], text[200];
        flag_name(al->name, flag, sizeof flag);
        snprintf(arg, sizeof arg, "%s%s%s", flag, o && o->meta ? " " : "",
                 o && o->meta ? o->meta : "");
        flag_name(al->target, target, sizeof target);
        snprintf(text, sizeof text, "the same as %s", target);
        fprintf(f, "  %-24s  ", arg);
        print_wrapped(f, text, HELP_INDENT, 80);
    }
    fputs("  --config FILE             read `key value` lines from FILE first; flags\n"
          "                            override them\n"
          "  --dump-config             print the effective configuration and exit\n"
          "  -v, --verbose             log one level more (repeatable)\n"
          "  -h, --help                show this help\n"
          "  -V, --version             print the version\n",
          f);
    fputs(spec->epilog, f);
}

/* Does the file parser need quotes to read s back: empty, blank at either
 * end, or quoted already? */
static bool needs_quotes(const char *s)
{
    size_t n = strlen(s);
    return n == 0 || strchr(" \t", s[0]) || strchr(" \t", s[n - 1]) ||
           (n >= 2 && s[0] == '"' && s[n - 1] == '"');
}

void hpt_config_dump(const hpt_config_spec_t *spec, FILE *f, const void *cfg)
{
    fprintf(f, "# %s configuration (%s --dump-config)\n", spec->prog, spec->prog);
    for (size_t i = 0; i < spec->n_opts; i++) {
        const hpt_config_opt_t *o = &spec->opts[i];
        fputs("\n# ", f);
        print_wrapped(f, o->help, "# ", 80);
        if (o->type == HPT_CONFIG_STRLIST) {
            int n = *(const int *)((const char *)cfg + o->count_offset);
            if (n == 0)
                fprintf(f, "# %s (none: the defaults)\n", o->name);
            for (int j = 0; j < n; j++)
                fprintf(f, "%s %s\n", o->name, (const char *)cfg + o->offset + j * o->size);
            continue;
        }
        char val[4096];
        fmt_value(cfg, o, val, sizeof val);
        fprintf(f, needs_quotes(val) ? "%s \"%s\"\n" : "%s %s\n", o->name, val);
    }
}

bool hpt_config_print_action(const hpt_config_spec_t *spec, const hpt_config_args_t *args,
                             const void *cfg, const void *defaults)
{
    switch (args->action) {
    case HPT_CONFIG_HELP: hpt_config_print_help(spec, stdout, defaults); return true;
    case HPT_CONFIG_VERSION: printf("%s %s\n", spec->prog, spec->version); return true;
    case HPT_CONFIG_DUMP: hpt_config_dump(spec, stdout, cfg); return true;
    case HPT_CONFIG_RUN: return false;
    }
    return false;
}
