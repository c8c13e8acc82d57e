/*
 * search_table.c: method bayes (coordinator/search/tpe.c) on the tabular
 * search benchmark of bench/search_tpe.sh, in process.
 *
 * The table (bench/search_table.py writes it from real hptune grid sweeps)
 * holds, for every configuration of bench/search_space.py's grid, the
 * validation accuracy of each CV fold for R model seeds ("replicates").  A
 * trial's score is a pure function of (its values, the seed, its trial
 * number), computed here and in bench/search_table.py (Optuna's side) by
 * the same rules:
 *
 *   - Listed parameters (optimizer, activation) select their grid value.
 *     Numeric ones are placed on their grid axis in model space (log for
 *     log-uniform parameters) and the score is the multilinear interpolation
 *     of the grid corners around the point (at a grid point: the
 *     measurement itself).
 *   - Noise: fold k (0..F-1) of trial t (1, 2, ...) under seed s uses
 *     replicate splitmix64(s * 2^32 + t * 16 + k) mod R of every corner, so
 *     a configuration scored twice can score differently, as in a real
 *     sweep, while both samplers face the same draw at the same (seed,
 *     trial).  The trial's score is the mean over the folds.
 *   - The true value of a configuration is the same interpolation of the
 *     mean over all folds and replicates.
 *
 * Trials run one at a time (suggest, score, observe), as Optuna's
 * optimize(n_jobs=1), unless --parallel P keeps P trials pending (observed
 * oldest first), as P workers would.
 *
 * Output: one JSON line per seed,
 *   {"impl": "hptune", "variant": NAME, "seed": S,
 *    "trials": [[score, true, {param: value, ...}], ...]}
 * (bench/search_table.py recomputes every score from the values, so the two
 * implementations of the objective are checked against each other.)
 *
 * Usage: search_table --table FILE --spec FILE [--seeds A-B] [--trials N]
 *                     [--parallel P] [--variant NAME] [--noise-seed S]
 *   --noise-seed S draws the noise from S instead of each run's seed (to ask
 *   many seeds for their next suggestion after the same history).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_spec.h"
#include "search.h"

#define TBL_MAX_COLS 16     // parameter columns
#define TBL_MAX_AXIS 16     // grid values per parameter
#define TBL_MAX_SCORES 64   // folds x replicates per row
#define TBL_MAX_ROWS 65536

typedef struct table {
    int n_cols;                         // parameter columns
    char name[TBL_MAX_COLS][32];        // their names
    int folds, reps;                    // scores per row: folds x reps, fold-major
    int n_axis[TBL_MAX_COLS];           // distinct values per column
    char axis[TBL_MAX_COLS][TBL_MAX_AXIS][32];   // the values as written
    double axis_num[TBL_MAX_COLS][TBL_MAX_AXIS]; // numeric columns: sorted ascending
    bool numeric[TBL_MAX_COLS];         // every value parses as a number
    int n_rows;
    int *cell;                          // owned, n_rows x n_cols axis indices
    double *score;                      // owned, n_rows x folds x reps
    double *truth;                      // owned, n_rows: mean of the row's scores
    int *index;                         // owned, prod(n_axis): row of each grid point, -1
} table_t;

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Split line (modified) at commas into at most max fields. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    char *nl = strpbrk(f[n - 1], "\r\n");
    if (nl)
        *nl = '\0';
    return n;
}

static bool parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static void table_free(table_t *t)
{
    free(t->cell);
    free(t->score);
    free(t->truth);
    free(t->index);
}

/* Read the CSV: '#' lines are comments; the header names the parameter
 * columns, then s<fold>r<rep> columns; each row one grid configuration. */
static int table_read(table_t *t, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "search_table: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[8192], *fld[TBL_MAX_COLS + TBL_MAX_SCORES + 1];
    int lineno = 0, rc = -1, n_fields = 0, cap = 0;
    bool header = false;
    char **raw = NULL;   // the rows' parameter fields, resolved to indices at the end
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        int n = split(line, fld, TBL_MAX_COLS + TBL_MAX_SCORES + 1);
        if (!header) {
            int k = 0;
            while (k < n && fld[k][0] != 's')
                k++;
            t->n_cols = k;
            if (k < 1 || k > TBL_MAX_COLS || n - k < 1 || n - k > TBL_MAX_SCORES) {
                fprintf(stderr, "search_table: %s:%d: header: expected 1..%d parameter columns "
                                "then 1..%d s<fold>r<rep> columns\n",
                        path, lineno, TBL_MAX_COLS, TBL_MAX_SCORES);
                goto out;
            }
            for (int i = 0; i < k; i++)
                snprintf(t->name[i], sizeof t->name[i], "%s", fld[i]);
            int maxf = 0, maxr = 0;
            for (int i = k; i < n; i++) {
                int a, b;
                if (sscanf(fld[i], "s%dr%d", &a, &b) != 2 || a < 1 || b < 1) {
                    fprintf(stderr, "search_table: %s:%d: header: '%s' is not s<fold>r<rep>\n",
                            path, lineno, fld[i]);
                    goto out;
                }
                maxf = a > maxf ? a : maxf;
                maxr = b > maxr ? b : maxr;
            }
            t->folds = maxf;
            t->reps = maxr;
            if (maxf * maxr != n - k) {
                fprintf(stderr, "search_table: %s:%d: header: %d score columns for %d folds x "
                                "%d replicates\n", path, lineno, n - k, maxf, maxr);
                goto out;
            }
            n_fields = n;
            header = true;
            continue;
        }
        if (n != n_fields) {
            fprintf(stderr, "search_table: %s:%d: %d fields, the header has %d\n", path, lineno,
                    n, n_fields);
            goto out;
        }
        if (t->n_rows == TBL_MAX_ROWS) {
            fprintf(stderr, "search_table: %s:%d: more than %d rows\n", path, lineno,
                    TBL_MAX_ROWS);
            goto out;
        }
        if (t->n_rows == cap) {
            cap = cap ? 2 * cap : 256;
            double *s = realloc(t->score, (size_t)cap * (size_t)(n - t->n_cols) * sizeof *s);
            char **r = s ? realloc(raw, (size_t)cap * (size_t)t->n_cols * sizeof *r) : NULL;
            if (s)
                t->score = s;
            if (!s || !r) {
                fprintf(stderr, "search_table: out of memory\n");
                goto out;
            }
            raw = r;
        }
        for (int i = 0; i < t->n_cols; i++) {
            char *v = strdup(fld[i]);
            if (!v) {
                fprintf(stderr, "search_table: out of memory\n");
                goto out;
            }
            raw[(size_t)t->n_rows * (size_t)t->n_cols + (size_t)i] = v;
            int a = 0;
            while (a < t->n_axis[i] && strcmp(t->axis[i][a], v) != 0)
                a++;
            if (a == t->n_axis[i]) {
                if (a == TBL_MAX_AXIS || strlen(v) >= sizeof t->axis[i][a]) {
                    fprintf(stderr, "search_table: %s:%d: %s: more than %d values or a value "
                                    "longer than 31 bytes\n", path, lineno, t->name[i],
                            TBL_MAX_AXIS);
                    t->n_rows++;   // so that its fields are freed
                    goto out;
                }
                snprintf(t->axis[i][a], sizeof t->axis[i][a], "%s", v);
                t->n_axis[i]++;
            }
        }
        for (int j = t->n_cols; j < n; j++) {
            double v;
            if (!parse_num(fld[j], &v) || v < 0 || v > 1) {
                fprintf(stderr, "search_table: %s:%d: field %d: '%s' is not a score in [0, 1]\n",
                        path, lineno, j + 1, fld[j]);
                t->n_rows++;
                goto out;
            }
            /* Columns s<f>r<r> are written fold-major: s1r1 s1r2 ... s2r1 ... */
            t->score[(size_t)t->n_rows * (size_t)(n - t->n_cols) + (size_t)(j - t->n_cols)] = v;
        }
        t->n_rows++;
    }
    if (!header || t->n_rows == 0) {
        fprintf(stderr, "search_table: %s: no header or no rows\n", path);
        goto out;
    }
    /* Numeric axes sorted, so interpolation can bracket a value. */
    size_t n_grid = 1;
    for (int i = 0; i < t->n_cols; i++) {
        t->numeric[i] = true;
        for (int a = 0; a < t->n_axis[i] && t->numeric[i]; a++)
            t->numeric[i] = parse_num(t->axis[i][a], &t->axis_num[i][a]);
        if (t->numeric[i]) {
            qsort(t->axis_num[i], (size_t)t->n_axis[i], sizeof(double), cmp_double);
            for (int a = 0; a < t->n_axis[i]; a++)
                snprintf(t->axis[i][a], sizeof t->axis[i][a], "%.17g", t->axis_num[i][a]);
        }
        n_grid *= (size_t)t->n_axis[i];
    }
    if (n_grid != (size_t)t->n_rows) {
        fprintf(stderr, "search_table: %s: %d rows for a grid of %zu points\n", path, t->n_rows,
                n_grid);
        goto out;
    }
    t->cell = calloc((size_t)t->n_rows * (size_t)t->n_cols, sizeof *t->cell);
    t->truth = calloc((size_t)t->n_rows, sizeof *t->truth);
    t->index = malloc(n_grid * sizeof *t->index);
    if (!t->cell || !t->truth || !t->index) {
        fprintf(stderr, "search_table: out of memory\n");
        goto out;
    }
    for (size_t g = 0; g < n_grid; g++)
        t->index[g] = -1;
    int ns = t->folds * t->reps;
    for (int r = 0; r < t->n_rows; r++) {
        size_t g = 0;
        for (int i = 0; i < t->n_cols; i++) {
            const char *v = raw[(size_t)r * (size_t)t->n_cols + (size_t)i];
            int a = 0;
            if (t->numeric[i]) {
                double x;
                parse_num(v, &x);
                while (t->axis_num[i][a] != x)
                    a++;
            } else {
                while (strcmp(t->axis[i][a], v) != 0)
                    a++;
            }
            t->cell[(size_t)r * (size_t)t->n_cols + (size_t)i] = a;
            g = g * (size_t)t->n_axis[i] + (size_t)a;
        }
        if (t->index[g] >= 0) {
            fprintf(stderr, "search_table: %s: row %d repeats row %d's configuration\n", path,
                    r + 1, t->index[g] + 1);
            goto out;
        }
        t->index[g] = r;
        double s = 0;
        for (int j = 0; j < ns; j++)
            s += t->score[(size_t)r * (size_t)ns + (size_t)j];
        t->truth[r] = s / ns;
    }
    rc = 0;
out:
    if (raw) {
        for (size_t i = 0; i < (size_t)t->n_rows * (size_t)t->n_cols; i++)
            free(raw[i]);
        free(raw);
    }
    fclose(f);
    return rc;
}

/* The score (fold replicates drawn from seed and trial) and the true value
 * of a trial; see the file comment.  map[i] is the spec parameter of table
 * column i, logsp[i] whether its axis is interpolated in log space. */
static int evaluate(const table_t *t, const coord_spec_t *spec, const int *map,
                    const bool *logsp, const coord_pval_t *v, uint64_t seed, uint64_t trial,
                    double *score, double *truth)
{
    int lo[TBL_MAX_COLS];
    double w[TBL_MAX_COLS];   // weight of the upper corner
    for (int i = 0; i < t->n_cols; i++) {
        const coord_pval_t *x = &v[map[i]];
        w[i] = 0;
        if (x->absent)
            return -EINVAL;
        if (!t->numeric[i]) {
            const char *s = spec->params[map[i]].kind == COORD_PKIND_ENUM ? x->str : NULL;
            char buf[32];
            if (!s) {
                snprintf(buf, sizeof buf, "%.17g", x->num);
                s = buf;
            }
            lo[i] = -1;
            for (int a = 0; a < t->n_axis[i]; a++)
                if (strcmp(t->axis[i][a], s) == 0)
                    lo[i] = a;
            if (lo[i] < 0)
                return -EINVAL;
            continue;
        }
        int n = t->n_axis[i];
        double u = logsp[i] ? log(x->num) : x->num;
        int a = 0;
        while (a + 2 < n && (logsp[i] ? log(t->axis_num[i][a + 1]) : t->axis_num[i][a + 1]) <= u)
            a++;
        lo[i] = a;
        if (n == 1)
            continue;
        double u0 = logsp[i] ? log(t->axis_num[i][a]) : t->axis_num[i][a];
        double u1 = logsp[i] ? log(t->axis_num[i][a + 1]) : t->axis_num[i][a + 1];
        double f = (u - u0) / (u1 - u0);
        w[i] = f < 0 ? 0 : f > 1 ? 1 : f;   // outside the grid: its edge
    }
    int ns = t->folds * t->reps;
    double fold_sum[TBL_MAX_SCORES] = {0}, tr = 0;
    int rep[TBL_MAX_SCORES];
    for (int k = 0; k < t->folds; k++)
        rep[k] = (int)(splitmix64((seed << 32) + trial * 16 + (uint64_t)k) % (uint64_t)t->reps);
    int n_num = 0, num[TBL_MAX_COLS];
    for (int i = 0; i < t->n_cols; i++)
        if (t->numeric[i] && t->n_axis[i] > 1)
            num[n_num++] = i;
    for (int corner = 0; corner < (1 << n_num); corner++) {
        double wc = 1;
        int idx[TBL_MAX_COLS];
        memcpy(idx, lo, sizeof idx);
        for (int b = 0; b < n_num; b++) {
            int i = num[b];
            bool up = (corner >> b) & 1;
            wc *= up ? w[i] : 1 - w[i];
            idx[i] += up;
        }
        if (wc == 0)
            continue;
        size_t g = 0;
        for (int i = 0; i < t->n_cols; i++)
            g = g * (size_t)t->n_axis[i] + (size_t)idx[i];
        int r = t->index[g];
        for (int k = 0; k < t->folds; k++)
            fold_sum[k] += wc * t->score[(size_t)r * (size_t)ns + (size_t)(k * t->reps + rep[k])];
        tr += wc * t->truth[r];
    }
    double s = 0;
    for (int k = 0; k < t->folds; k++)
        s += fold_sum[k];
    *score = s / t->folds;
    *truth = tr;
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? 2 * cap : 65536;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int run_seed(const table_t *t, coord_spec_t *spec, const int *map, const bool *logsp,
                    uint64_t seed, uint64_t noise, int trials, int parallel, const char *variant)
{
    spec->seed = seed;
    spec->max_trials = trials;
    coord_search_t *s = NULL;
    hpt_err err = {0};
    int rc = -1;
    coord_pval_t *vals = calloc((size_t)trials * COORD_SPEC_MAX_PARAMS, sizeof *vals);
    double *score = calloc((size_t)trials, sizeof *score);
    double *truth = calloc((size_t)trials, sizeof *truth);
    if (!vals || !score || !truth) {
        fprintf(stderr, "search_table: out of memory\n");
        goto out;
    }
    if (coord_search_new(&s, spec, &err) != 0) {
        fprintf(stderr, "search_table: %s\n", err.msg);
        goto out;
    }
    int next = 0, seen = 0;   // trials suggested / observed
    while (seen < trials) {
        while (next < trials && next - seen < parallel) {
            coord_pval_t *v = vals + (size_t)next * COORD_SPEC_MAX_PARAMS;
            int r = coord_search_suggest(s, v);
            if (r != COORD_SEARCH_OK) {
                fprintf(stderr, "search_table: seed %llu: the search stopped at trial %d\n",
                        (unsigned long long)seed, next + 1);
                goto out;
            }
            if (evaluate(t, spec, map, logsp, v, noise ? noise : seed, (uint64_t)next + 1,
                         &score[next],
                         &truth[next]) != 0) {
                fprintf(stderr, "search_table: seed %llu trial %d: a value not in the table\n",
                        (unsigned long long)seed, next + 1);
                goto out;
            }
            next++;
        }
        coord_search_observe(s, (uint64_t)seen + 1, score[seen]);
        seen++;
    }
    printf("{\"impl\": \"hptune\", \"variant\": \"%s\", \"seed\": %llu, \"trials\": [", variant,
           (unsigned long long)seed);
    for (int k = 0; k < trials; k++) {
        printf("%s[%.9g, %.9g, {", k ? ", " : "", score[k], truth[k]);
        for (int i = 0; i < t->n_cols; i++) {
            const coord_pval_t *x = &vals[(size_t)k * COORD_SPEC_MAX_PARAMS + (size_t)map[i]];
            if (t->numeric[i])
                printf("%s\"%s\": %.17g", i ? ", " : "", t->name[i], x->num);
            else
                printf("%s\"%s\": \"%s\"", i ? ", " : "", t->name[i], x->str);
        }
        printf("}]");
    }
    printf("]}\n");
    rc = 0;
out:
    coord_search_destroy(&s);
    free(vals);
    free(score);
    free(truth);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: search_table --table FILE --spec FILE [--seeds A-B] [--trials N] "
               "[--parallel P] [--variant NAME] [--noise-seed S]\n");
}

int main(int argc, char **argv)
{
    const char *table_path = NULL, *spec_path = NULL, *variant = "bayes";
    unsigned long long s_from = 1, s_to = 20;
    int trials = 60, parallel = 1;
    unsigned long long noise = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        i++;
        if (strcmp(a, "--table") == 0)
            table_path = v;
        else if (strcmp(a, "--spec") == 0)
            spec_path = v;
        else if (strcmp(a, "--variant") == 0)
            variant = v;
        else if (strcmp(a, "--seeds") == 0) {
            if (sscanf(v, "%llu-%llu", &s_from, &s_to) != 2 || s_from < 1 || s_to < s_from ||
                s_to > 1000000) {
                fprintf(stderr, "search_table: --seeds must be A-B with 1 <= A <= B <= 1000000\n");
                return 2;
            }
        } else if (strcmp(a, "--trials") == 0) {
            trials = atoi(v);
            if (trials < 1 || trials > 100000) {
                fprintf(stderr, "search_table: --trials must be 1..100000\n");
                return 2;
            }
        } else if (strcmp(a, "--noise-seed") == 0) {
            noise = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--parallel") == 0) {
            parallel = atoi(v);
            if (parallel < 1 || parallel > 1000) {
                fprintf(stderr, "search_table: --parallel must be 1..1000\n");
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!table_path || !spec_path) {
        usage(stderr);
        return 2;
    }
    for (const char *c = variant; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) {
            fprintf(stderr, "search_table: --variant: no quotes, backslashes or controls\n");
            return 2;
        }
    table_t t = {0};
    coord_spec_t *spec = NULL;
    hpt_err err = {0};
    size_t len = 0;
    char *text = NULL;
    int rc = 1;
    if (table_read(&t, table_path) != 0)
        goto out;
    text = read_file(spec_path, &len);
    if (!text) {
        fprintf(stderr, "search_table: %s: %s\n", spec_path, strerror(errno));
        goto out;
    }
    if (coord_spec_parse(text, len, spec_path, &spec, &err) != 0) {
        fprintf(stderr, "search_table: %s\n", err.msg);
        goto out;
    }
    int map[TBL_MAX_COLS];
    bool logsp[TBL_MAX_COLS];
    for (int i = 0; i < t.n_cols; i++) {
        map[i] = -1;
        for (int j = 0; j < spec->n_params; j++)
            if (strcmp(spec->params[j].name, t.name[i]) == 0)
                map[i] = j;
        if (map[i] < 0) {
            fprintf(stderr, "search_table: the spec has no parameter '%s'\n", t.name[i]);
            goto out;
        }
        coord_pdist_t d = spec->params[map[i]].dist;
        logsp[i] = d == COORD_PDIST_LOG_UNIFORM_VALUES || d == COORD_PDIST_Q_LOG_UNIFORM_VALUES ||
                   d == COORD_PDIST_LOG_NORMAL;
    }
    rc = 0;
    for (unsigned long long s = s_from; s <= s_to && rc == 0; s++)
        if (run_seed(&t, spec, map, logsp, s, noise, trials, parallel, variant) != 0)
            rc = 1;
out:
    coord_spec_destroy(&spec);
    free(text);
    table_free(&t);
    return rc;
}
