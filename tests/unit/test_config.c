/*
 * test_config.c: the option-table engine (common/config.c) on a small table
 * of every type: bad values, ranges, unknown keys with file:line, the order
 * in which files and flags apply, aliases, and --dump-config read back.
 *
 * Config files are written to a temporary directory that each test removes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "hpt_test.h"

typedef struct t_cfg {
    int n;                 // 1..10
    bool on;
    char s[8];             // at most 7 bytes
    int level;             // hpt_config_log_levels index
    struct {
        int n;
        char v[2][8];
    } list;
} t_cfg;

static const hpt_config_opt_t opts[] = {
    HPT_CONFIG_INT_OPT(t_cfg, n, 1, 10, "N", "a number"),
    HPT_CONFIG_BOOL_OPT(t_cfg, on, "a switch"),
    HPT_CONFIG_STR_OPT(t_cfg, s, "TEXT", "a short string"),
    HPT_CONFIG_ENUM_OPT(t_cfg, level, hpt_config_log_levels, "LEVEL", "a log level"),
    HPT_CONFIG_STRLIST_OPT(t_cfg, "item", list, "NAME", "repeatable"),
};
static const hpt_config_alias_t aliases[] = {{"number", "n"}};
static const hpt_config_spec_t spec = {
    .prog = "t",
    .version = "0",
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .aliases = aliases,
    .n_aliases = 1,
    .usage = "Usage: t\n",
    .epilog = "",
};
static const t_cfg T_DEFAULT = {.n = 5, .s = "abc", .level = 1};

// --- helpers ---------------------------------------------------------------

static char dir[64];

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    if (!dir[0]) {
        strcpy(dir, "/tmp/hpt_test_config.XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
    return path;
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (dir[0] && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    dir[0] = '\0';
}

/* Parse the NULL-terminated flags into *cfg (from T_DEFAULT). */
static int parse(t_cfg *cfg, hpt_config_args_t *args, hpt_err *err, ...)
{
    char *argv[16] = {"t"};
    int argc = 1;
    va_list ap;
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 15;)
        argv[argc++] = a;
    va_end(ap);
    *cfg = T_DEFAULT;
    return hpt_config_parse_args(&spec, cfg, argc, argv, args, err);
}

// --- values ----------------------------------------------------------------

HPT_TEST(bad_values)
{
    t_cfg c;
    hpt_config_args_t a;
    hpt_err err = {0};
    ASSERT(parse(&c, &a, &err, "--n", "x", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "--n: 'x' is not an integer (allowed 1..10)") == 0);
    ASSERT(parse(&c, &a, &err, "--n", "3x", NULL) == -EINVAL);
    ASSERT(parse(&c, &a, &err, "--on=maybe", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "--on: 'maybe' is not yes or no") == 0);
    ASSERT(parse(&c, &a, &err, "--s", "12345678", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "--s: longer than 7 bytes") == 0);
    ASSERT(parse(&c, &a, &err, "--level", "loud", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "--level: unknown value 'loud' (allowed: debug, info, warn, error)") ==
           0);
    ASSERT(parse(&c, &a, &err, "--item", "", NULL) == -EINVAL);
    ASSERT(parse(&c, &a, &err, "--item", "a", "--item", "b", "--item", "c", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "--item: given more than 2 times") == 0);
    ASSERT(parse(&c, &a, &err, "--n", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "--n: missing value") == 0);
    ASSERT(parse(&c, &a, &err, "--nope", "1", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "unknown option '--nope'") == 0);
    ASSERT(parse(&c, &a, &err, "stray", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "unexpected argument 'stray'") == 0);
}

HPT_TEST(out_of_range)
{
    t_cfg c;
    hpt_config_args_t a;
    hpt_err err = {0};
    ASSERT(parse(&c, &a, &err, "--n", "0", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "--n: 0 is out of range (allowed 1..10)") == 0);
    ASSERT(parse(&c, &a, &err, "--n=11", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "--n: 11 is out of range (allowed 1..10)") == 0);
    ASSERT(c.n == 5);   // a rejected value leaves the field alone
    ASSERT(parse(&c, &a, &err, "--n", "99999999999999999999", NULL) == -EINVAL);
    ASSERT_OK(parse(&c, &a, &err, "--n", "10", NULL));
    ASSERT_EQ(c.n, 10);
}

HPT_TEST(every_type_and_spelling)
{
    t_cfg c;
    hpt_config_args_t a;
    hpt_err err = {0};
    ASSERT_OK(parse(&c, &a, &err, "--number", "7", "--on", "--s=", "--level", "warn", "--item",
                    "x", "--item", "y", "--item", "x", "-v", "-v", NULL));
    ASSERT_EQ(c.n, 7);
    ASSERT(c.on);
    ASSERT(strcmp(c.s, "") == 0);
    ASSERT_EQ(c.level, 2);
    ASSERT_EQ(c.list.n, 2);   // a repeated name counts once
    ASSERT(strcmp(c.list.v[1], "y") == 0);
    ASSERT_EQ(a.verbose, 2);
    ASSERT_EQ((int)a.action, (int)HPT_CONFIG_RUN);
    ASSERT_OK(parse(&c, &a, &err, "--on", "--on=off", NULL));
    ASSERT(!c.on);
    ASSERT_OK(parse(&c, &a, &err, "--dump-config", "--s", "-h", NULL));   // a value, not --help
    ASSERT_EQ((int)a.action, (int)HPT_CONFIG_DUMP);
    ASSERT(strcmp(c.s, "-h") == 0);
    ASSERT_OK(parse(&c, &a, &err, "--help", "--n", "0", NULL));   // help stops parsing
    ASSERT_EQ((int)a.action, (int)HPT_CONFIG_HELP);
}

// --- files -----------------------------------------------------------------

HPT_TEST(file_errors_name_file_and_line)
{
    t_cfg c = T_DEFAULT;
    hpt_err err = {0};
    const char *p = write_file("a.conf", "# comment\n\nn 3\ncolour blue\n");
    ASSERT(hpt_config_load_file(&spec, &c, p, &err) == -EINVAL);
    char want[300];
    snprintf(want, sizeof want, "%s:4: unknown key 'colour'", p);
    ASSERT(strcmp(err.msg, want) == 0);
    ASSERT_EQ(c.n, 3);   // lines before the bad one were applied

    p = write_file("b.conf", "  n   \t 42  \n");
    ASSERT(hpt_config_load_file(&spec, &c, p, &err) == -EINVAL);
    snprintf(want, sizeof want, "%s:1: n: 42 is out of range (allowed 1..10)", p);
    ASSERT(strcmp(err.msg, want) == 0);

    char *big = malloc(10000);
    memset(big, 'x', 9998);
    memcpy(big, "s ", 2);
    big[9998] = '\n';
    big[9999] = '\0';
    p = write_file("c.conf", big);
    free(big);
    ASSERT(hpt_config_load_file(&spec, &c, p, &err) == -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, ":1: line too long");

    ASSERT(hpt_config_load_file(&spec, &c, "/nonexistent/x.conf", &err) == -ENOENT);
    cleanup();
}

HPT_TEST(override_order)
{
    // Defaults, then the files in order, then the flags wherever they stand.
    const char *p1 = write_file("1.conf", "n 2\ns one\nitem a\nitem b\n");
    char path1[128];
    strcpy(path1, p1);
    const char *p2 = write_file("2.conf", "n 3\nitem c\n");
    t_cfg c;
    hpt_config_args_t a;
    hpt_err err = {0};
    ASSERT_OK(parse(&c, &a, &err, "--n", "9", "--config", path1, "--config", p2, NULL));
    ASSERT_EQ(c.n, 9);
    ASSERT(strcmp(c.s, "one") == 0);
    ASSERT_EQ(c.list.n, 1);   // the second file's list replaced the first's
    ASSERT(strcmp(c.list.v[0], "c") == 0);
    ASSERT_OK(parse(&c, &a, &err, "--item", "d", "--config", p2, NULL));
    ASSERT_EQ(c.list.n, 1);   // the flags' list replaced the file's
    ASSERT(strcmp(c.list.v[0], "d") == 0);
    ASSERT(parse(&c, &a, &err, "--config", NULL) == -EINVAL);
    ASSERT(strcmp(err.msg, "--config: missing value") == 0);
    cleanup();
}

HPT_TEST(dump_round_trip)
{
    t_cfg c;
    hpt_config_args_t a;
    hpt_err err = {0};
    ASSERT_OK(parse(&c, &a, &err, "--n", "4", "--on", "--s", " a b ", "--level", "error",
                    "--item", "p", "--item", "q", NULL));
    const char *p = write_file("dump.conf", "");
    FILE *f = fopen(p, "w");
    ASSERT(f != NULL);
    hpt_config_dump(&spec, f, &c);
    fclose(f);
    t_cfg back = T_DEFAULT;
    ASSERT_OK(hpt_config_load_file(&spec, &back, p, &err));
    ASSERT(memcmp(&back, &c, sizeof c) == 0);

    // The empty and the quoted string survive too.
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(parse(&c, &a, &err, "--s", i ? "\"q\"" : "", NULL));
        f = fopen(p, "w");
        hpt_config_dump(&spec, f, &c);
        fclose(f);
        back = T_DEFAULT;
        ASSERT_OK(hpt_config_load_file(&spec, &back, p, &err));
        ASSERT(strcmp(back.s, c.s) == 0);
    }
    cleanup();
}

HPT_TEST(help_lists_defaults)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ASSERT(f != NULL);
    hpt_config_print_help(&spec, f, &T_DEFAULT);
    fclose(f);
    ASSERT_STR_CONTAINS(text, "Usage: t\n");
    ASSERT_STR_CONTAINS(text, "--n N");
    ASSERT_STR_CONTAINS(text, "a number, 1..10 [5]");
    ASSERT_STR_CONTAINS(text, "a short string [abc]");
    ASSERT_STR_CONTAINS(text, "a log level [info]");
    ASSERT_STR_CONTAINS(text, "--number N");
    ASSERT_STR_CONTAINS(text, "the same as --n");
    ASSERT_STR_CONTAINS(text, "--dump-config");
    free(text);
}

HPT_TEST_MAIN()
