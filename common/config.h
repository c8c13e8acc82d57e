/*
 * config.h: the option-table engine both daemons use (STYLE §15, Redis'
 * standardConfig).
 *
 * A daemon describes each option once, as a row {name, type, offsetof(field),
 * range, help} of a table over its own config struct.  The table then drives:
 *   - the config file: `key value` lines, '#' starts a comment line, a value
 *     may be written in double quotes (an empty string, say);
 *   - the command line: `--key value`, `--key=value`, and a bare `--flag` for
 *     a bool, applied after every `--config FILE` whatever their order;
 *   - range checks, with errors naming file:line or the flag, the value and
 *     the allowed range;
 *   - --help, listing every option with its default;
 *   - --dump-config, which prints a file the parser reads back unchanged.
 * In keys and flags '-' and '_' are the same character: the key hb_ivl_ms is
 * the flag --hb-ivl-ms (--hb_ivl_ms works too).
 *
 * The engine knows nothing of either daemon: cross-field rules stay with the
 * daemon (coord_config.c, wrk_config.c).  Everything here runs on the main
 * thread before the loop starts; nothing is global.
 */
#ifndef HPT_CONFIG_H_
#define HPT_CONFIG_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"

typedef enum hpt_config_type {
    HPT_CONFIG_INT,      // int field, min..max
    HPT_CONFIG_BOOL,     // bool field; a bare flag on the command line; yes/no, on/off, 1/0
    HPT_CONFIG_STR,      // char[size] field
    HPT_CONFIG_ENUM,     // int field: the index of the value in names[]
    HPT_CONFIG_STRLIST,  // char[max][size] at offset, its int count at count_offset;
                         // repeatable, and a new source replaces an earlier one's entries
} hpt_config_type_t;

/* One option.  Build rows with the HPT_CONFIG_* macros below. */
typedef struct hpt_config_opt {
    const char *name;           // config key; the flag is --name with '_' -> '-'
    hpt_config_type_t type;
    size_t offset;              // offsetof(struct, field)
    size_t size;                // STR, STRLIST: bytes per value, NUL included
    size_t count_offset;        // STRLIST: offsetof the int entry count
    long long min, max;         // INT: the range; STRLIST: max = entries at most
    const char *const *names;   // ENUM: the values, NULL-terminated
    const char *meta;           // the value's name in --help ("MS"); NULL for a bool
    const char *help;           // one sentence or so; wrapped by --help
} hpt_config_opt_t;

#define HPT_CONFIG_FIELD_SIZE(T, field) sizeof(((T *)0)->field)

#define HPT_CONFIG_INT_OPT(T, field, lo, hi, meta_, help_)                                  \
    {.name = #field, .type = HPT_CONFIG_INT, .offset = offsetof(T, field), .min = (lo),     \
     .max = (hi), .meta = (meta_), .help = (help_)}
#define HPT_CONFIG_BOOL_OPT(T, field, help_)                                                \
    {.name = #field, .type = HPT_CONFIG_BOOL, .offset = offsetof(T, field), .min = 0,       \
     .max = 1, .help = (help_)}
#define HPT_CONFIG_STR_OPT(T, field, meta_, help_)                                          \
    {.name = #field, .type = HPT_CONFIG_STR, .offset = offsetof(T, field),                  \
     .size = HPT_CONFIG_FIELD_SIZE(T, field), .meta = (meta_), .help = (help_)}
#define HPT_CONFIG_ENUM_OPT(T, field, names_, meta_, help_)                                 \
    {.name = #field, .type = HPT_CONFIG_ENUM, .offset = offsetof(T, field),                 \
     .names = (names_), .meta = (meta_), .help = (help_)}
/* key: the option's name; list: a struct {int n; char v[N][LEN];} field. */
#define HPT_CONFIG_STRLIST_OPT(T, key, list, meta_, help_)                                  \
    {.name = (key), .type = HPT_CONFIG_STRLIST, .offset = offsetof(T, list.v),             \
     .size = HPT_CONFIG_FIELD_SIZE(T, list.v[0]), .count_offset = offsetof(T, list.n),      \
     .max = (long long)(HPT_CONFIG_FIELD_SIZE(T, list.v) /                                 \
                        HPT_CONFIG_FIELD_SIZE(T, list.v[0])),                              \
     .meta = (meta_), .help = (help_)}

/* A second name for an option, accepted in files and flags (listed by --help). */
typedef struct hpt_config_alias {
    const char *name;     // "heartbeat_ms"
    const char *target;   // the option's name, "hb_ivl_ms"
} hpt_config_alias_t;

/* A daemon's whole description: its table plus the text around --help. */
typedef struct hpt_config_spec {
    const char *prog;                     // "hptune-worker": --help, --version, --dump-config
    const char *version;                  // printed by --version
    const hpt_config_opt_t *opts;
    size_t n_opts;
    const hpt_config_alias_t *aliases;    // may be NULL
    size_t n_aliases;
    const char *usage;                    // --help before the option list, "Usage: ..."
    const char *epilog;                   // --help after it (environment, exit status)
    /* The rules joining two fields, run by hpt_config_parse_args once every
     * option is applied (not for --help or --version); may be NULL.  Returns
     * 0 or a negative errno with err naming the flags.  cfg: borrowed. */
    int (*check)(const void *cfg, hpt_err *err);
} hpt_config_spec_t;

/* The log levels as an ENUM's names: index i is hpt_log_level_t i. */
extern const char *const hpt_config_log_levels[];

/* What the command line asks for besides options. */
typedef enum hpt_config_action {
    HPT_CONFIG_RUN,       // run the daemon
    HPT_CONFIG_HELP,      // -h, --help
    HPT_CONFIG_VERSION,   // -V, --version
    HPT_CONFIG_DUMP,      // --dump-config (after every option is applied)
} hpt_config_action_t;

typedef struct hpt_config_args {
    hpt_config_action_t action;
    int verbose;          // how many -v / --verbose: the daemon lowers its log level so often
} hpt_config_args_t;

/* The option called key (key_len bytes, '-' matching '_'), or an alias of
 * one; NULL when there is none.  spec, key: borrowed. */
const hpt_config_opt_t *hpt_config_find(const hpt_config_spec_t *spec, const char *key,
                                        size_t key_len);

/* Set option o of cfg from the text val.  who names the option in errors
 * ("--slots" or "worker.conf:3: slots").  replace_list: a STRLIST's first
 * value from a new source drops the entries an earlier source set.  Returns 0,
 * or -EINVAL with err saying why (the value, the allowed range); cfg is then
 * unchanged.  All pointers borrowed. */
int hpt_config_set(void *cfg, const hpt_config_opt_t *o, const char *who, const char *val,
                   bool replace_list, hpt_err *err);

/* Apply the `key value` lines of the file at path to cfg (borrowed), stopping
 * at the first bad line.  Returns 0, -errno when the file cannot be read, or
 * -EINVAL with err as "path:line: key: why" (an unknown key, a bad value, a
 * line too long). */
int hpt_config_load_file(const hpt_config_spec_t *spec, void *cfg, const char *path,
                         hpt_err *err);

/* Apply argv to cfg (borrowed, holding the defaults): first every
 * `--config FILE` / `--config=FILE` in order, then every other option, so
 * flags override the files.  -h/--help and -V/--version stop parsing where they stand;
 * --dump-config and -v are recorded in *args.  Then spec->check, unless
 * --help or --version was given.  Returns 0, or -EINVAL (or the file's
 * -errno) with err naming the flag or file:line; the caller prints it and
 * exits 2. */
int hpt_config_parse_args(const hpt_config_spec_t *spec, void *cfg, int argc, char **argv,
                          hpt_config_args_t *args, hpt_err *err);

/* Print --help to f: spec->usage, one entry per option with its meta, help,
 * range and the value it has in defaults (borrowed), the aliases, the common
 * flags (--config, --dump-config, -v, -h, -V), then spec->epilog. */
void hpt_config_print_help(const hpt_config_spec_t *spec, FILE *f, const void *defaults);

/* Print cfg (borrowed) to f as a config file: each key under its help as a
 * comment.  hpt_config_load_file reads it back to an equal struct. */
void hpt_config_dump(const hpt_config_spec_t *spec, FILE *f, const void *cfg);

/* Carry out a non-RUN action on stdout: --help (with defaults), --version or
 * --dump-config (with cfg).  Returns true when it printed something and the
 * daemon should exit 0, false for HPT_CONFIG_RUN. */
bool hpt_config_print_action(const hpt_config_spec_t *spec, const hpt_config_args_t *args,
                             const void *cfg, const void *defaults);

#endif
