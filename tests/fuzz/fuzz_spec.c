/*
 * fuzz_spec.c: fuzz target for sweep specs (coordinator/coord_spec.c and the
 * search strategies), the text a client submits and the coordinator parses
 * on its loop thread.
 *
 * The input is the spec text (not NUL-terminated, as the parser allows).  A
 * rejected spec must come back as a negative errno with a message and no
 * spec.  An accepted one is run the way coord_sweep_submit and the
 * scheduler run it: coord_search_new, then a few suggestions, each applied
 * with coord_spec_apply and its values formatted for display.  A trial the
 * spec produces and coord_spec_apply accepts must also survive the trip to
 * the worker (hpt_proto_hparams_to_wire / _from_wire): otherwise the task
 * would fail on every worker instead of being refused at submission.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

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
    coord_spec_t *spec = NULL;
    hpt_err err = {0};
    int rc = coord_spec_parse((const char *)data, size, "fuzz.yaml", &spec, &err);
    if (rc < 0) {
        FUZZ_CHECK(spec == NULL);
        FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
        FUZZ_CHECK(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof err.msg));
        return 0;
    }
    FUZZ_CHECK(rc == 0 && spec != NULL);
    check_spec_invariants(spec);
    run_search(spec);
    coord_spec_destroy(&spec);
    FUZZ_CHECK(spec == NULL);
    return 0;
}
