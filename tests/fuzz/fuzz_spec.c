/*
 * fuzz_spec.c: fuzz target for sweep specs (coordinator/coord_spec.c,
 * coord_spec_wandb.c for the W&B forms, coord_aliases.c, coord_check.c and
 * the search strategies), the text a client submits and the coordinator
 * parses on its loop thread.
 *
 * The input is the spec text (not NUL-terminated, as the parser allows).  It
 * goes through coord_check_spec, as the coordinator's Submit handler and
 * `hptune check` run it.  A rejected spec must come back as a negative
 * errno with at least one error, each a whole line naming the path, and no
 * spec.  An accepted one gets its report (coord_check_report) and is run
 * the way coord_sweep_submit and the scheduler run it: coord_search_new,
 * then a few suggestions, each applied with coord_spec_apply and its values
 * formatted for display.  A trial the spec produces and coord_spec_apply
 * accepts must also survive the trip to the worker
 * (hpt_proto_hparams_to_wire / _from_wire): otherwise the task would fail on
 * every worker instead of being refused at submission.  coord_spec_parse
 * (the first error in an hpt_err) must agree with it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coord_check.h"
#include "coord_spec.h"
#include "fuzz.h"
#include "proto_io.h"
#include "search.h"

#define MAX_SUGGEST 8

static void check_spec_invariants(const coord_spec_t *spec)
{
    FUZZ_CHECK(spec->n_params >= 0 && spec->n_params <= COORD_SPEC_MAX_PARAMS);
    FUZZ_CHECK((unsigned)spec->method < COORD_METHOD__COUNT);
    FUZZ_CHECK(memchr(spec->name, '\0', sizeof spec->name) != NULL);
    FUZZ_CHECK(memchr(spec->dataset, '\0', sizeof spec->dataset) != NULL);
    FUZZ_CHECK(spec->dataset[0] != '\0');
    FUZZ_CHECK(spec->cv.folds >= 2 && spec->cv.repeats >= 1);
    for (int i = 0; i < spec->n_params; i++) {
        const coord_param_t *p = &spec->params[i];
        FUZZ_CHECK(memchr(p->name, '\0', sizeof p->name) != NULL);
        FUZZ_CHECK(p->n_values >= 0 && p->n_values <= COORD_SPEC_MAX_VALUES);
        if (p->dist == COORD_PDIST_VALUE || p->dist == COORD_PDIST_VALUES ||
            p->dist == COORD_PDIST_CATEGORICAL)
            FUZZ_CHECK(p->n_values >= 1 && p->values != NULL);
        if (p->dist != COORD_PDIST_VALUE && p->dist != COORD_PDIST_VALUES &&
            p->dist != COORD_PDIST_CATEGORICAL) {
            FUZZ_CHECK(isfinite(p->min) && isfinite(p->max) && p->min <= p->max);
            FUZZ_CHECK(p->q >= 0 && isfinite(p->q));
            if (p->dist == COORD_PDIST_NORMAL || p->dist == COORD_PDIST_LOG_NORMAL)
                FUZZ_CHECK(p->sigma > 0 && isfinite(p->mu));
        }
        if (p->kind == COORD_PKIND_ARCH)
            FUZZ_CHECK(p->arch != NULL || p->n_values == 0);
        if (p->dist == COORD_PDIST_CATEGORICAL && p->probs) {
            double sum = 0;
            for (int k = 0; k < p->n_values; k++) {
                FUZZ_CHECK(isfinite(p->probs[k]) && p->probs[k] >= 0);
                sum += p->probs[k];
            }
            FUZZ_CHECK(fabs(sum - 1.0) < 1e-3);
        }
    }
}

static void run_search(const coord_spec_t *spec)
{
    coord_search_t *s = NULL;
    hpt_err err = {0};
    int rc = coord_search_new(&s, spec, &err);
    if (rc < 0) {
        FUZZ_CHECK(s == NULL && err.msg[0] != '\0');
        return;
    }
    long total = coord_search_total(s);
    FUZZ_CHECK(total == -1 || total >= 1);
    for (int i = 0; i < MAX_SUGGEST; i++) {
        coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
        memset(vals, 0, sizeof vals);
        bool done_before = coord_search_done(s);
        int r = coord_search_suggest(s, vals);
        if (r == COORD_SEARCH_DONE) {
            FUZZ_CHECK(done_before);
            break;
        }
        if (r != COORD_SEARCH_OK)
            break;
        for (int k = 0; k < spec->n_params; k++) {
            char buf[64];
            coord_pval_format(&spec->params[k], &vals[k], buf, sizeof buf);
            FUZZ_CHECK(memchr(buf, '\0', sizeof buf) != NULL);
            if (spec->params[k].kind != COORD_PKIND_ENUM)
                FUZZ_CHECK(!isinf(vals[k].num));
        }
        hpt_hparams_t hp;
        hpt_err aerr = {0};
        if (coord_spec_apply(spec, vals, &hp, &aerr) == 0) {
            hp.seed = 12345;
            uint32_t units[HPT_MAX_LAYERS];
            Hpt__HParams w;
            hpt_proto_hparams_to_wire(&hp, &w, units);
            hpt_hparams_t back;
            hpt_err werr = {0};
            int wrc = hpt_proto_hparams_from_wire(&w, &back, &werr);
            if (wrc != 0)
                fprintf(stderr, "trial accepted by coord_spec_apply, refused on the wire: %s\n",
                        werr.msg);
            FUZZ_CHECK(wrc == 0);
        } else {
            FUZZ_CHECK(aerr.msg[0] != '\0');
        }
        coord_search_observe_epoch(s, (uint64_t)i + 1, 1, 0.5);
        coord_search_observe(s, (uint64_t)i + 1, i % 3 ? 0.25 * i : NAN);
    }
    coord_search_destroy(&s);
    FUZZ_CHECK(s == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    coord_check_t c;
    int rc = coord_check_spec((const char *)data, size, "fuzz.yaml", &c);
    /* The hpt_err form agrees on whether the spec parses (the check adds
     * only the sweep-size limit and the search's own refusals). */
    coord_spec_t *again = NULL;
    hpt_err err = {0};
    int prc = coord_spec_parse((const char *)data, size, "fuzz.yaml", &again, &err);
    FUZZ_CHECK(prc == 0 || (again == NULL && err.msg[0] != '\0'));
    if (rc == 0)
        FUZZ_CHECK(prc == 0);
    coord_spec_destroy(&again);
    int errors = 0;
    for (int i = 0; i < c.diags.n; i++) {
        const char *t = c.diags.v[i].text;
        FUZZ_CHECK(t && strncmp(t, "fuzz.yaml:", 10) == 0 && !strchr(t, '\n'));
        errors += c.diags.v[i].level == COORD_DIAG_ERROR;
    }
    if (rc < 0) {
        FUZZ_CHECK(c.spec == NULL);
        FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
        FUZZ_CHECK(rc == -ENOMEM || (errors >= 1 && c.diags.n_errors >= errors));
        coord_check_free(&c);
        return 0;
    }
    FUZZ_CHECK(rc == 0 && c.spec != NULL && errors == 0);
    check_spec_invariants(c.spec);
    char *report = coord_check_report(&c, 3);
    FUZZ_CHECK(report != NULL);
    free(report);
    run_search(c.spec);
    coord_check_free(&c);
    FUZZ_CHECK(c.spec == NULL);
    return 0;
}
