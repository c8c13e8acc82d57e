/*
 * gen_envelopes.c: writes the envelope seed corpus: one packed hpt.Envelope
 * per file, every body kind of proto/hptune.proto filled the way the daemons
 * fill it, plus near misses the validator must refuse (wrong version, no
 * body, out-of-range fields, infinities, truncations).  Seeds that start
 * close to valid let the fuzzer reach the per-body checks at once.
 *
 * Usage: fuzz-gen-envelopes DIR   (tests/fuzz/corpus/envelope is its output,
 * checked in; rerun it when the .proto changes)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_io.h"

static const char *out_dir;
static int n_written, n_failed;

static void write_bytes(const char *name, const uint8_t *buf, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len) {
        fprintf(stderr, "fuzz-gen-envelopes: %s: %s\n", path, strerror(errno));
        n_failed++;
    } else {
        n_written++;
    }
    if (f)
        fclose(f);
}

/* Pack env as is (the caller sets protocol) and write it; with cut > 0 also
 * write the first len - cut bytes as NAME.cutK. */
static void emit(const char *name, hpt_env_t *env, size_t cut)
{
    size_t len = hpt__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        n_failed++;
        return;
    }
    hpt__envelope__pack(env, buf);
    char file[256];
    snprintf(file, sizeof file, "%s.bin", name);
    write_bytes(file, buf, len);
    if (cut > 0 && cut < len) {
        snprintf(file, sizeof file, "%s.cut%zu.bin", name, cut);
        write_bytes(file, buf, len - cut);
    }
    free(buf);
}

#define ENV(var, kind, field, msg)                  \
    hpt_env_t var = HPT__ENVELOPE__INIT;            \
    var.protocol = HPT__VERSION__PROTOCOL_VERSION;  \
    var.body_case = HPT__ENVELOPE__BODY_##kind;     \
    var.field = &(msg)

static void worker_messages(void)
{
    Hpt__DatasetInfo ds[2] = {HPT__DATASET_INFO__INIT, HPT__DATASET_INFO__INIT};
    Hpt__DatasetInfo *dp[2] = {&ds[0], &ds[1]};
    ds[0].name = "mnist";
    ds[0].fingerprint = "9f2c4e0b7a1d3c5e8f6a0b2d4c6e8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f";
    ds[0].n_train = 60000;
    ds[0].n_test = 10000;
    ds[1].name = "fashion-mnist";
    ds[1].fingerprint = "dry-run";
    Hpt__Hello h = HPT__HELLO__INIT;
    h.worker_id = "vm:4242:1a2b3c4d";
    h.name = "vm";
    h.host = "vm";
    h.slots = 4;
    h.version = "0.1.0";
    h.n_datasets = 2;
    h.datasets = dp;
    ENV(e, HELLO, hello, h);
    emit("hello", &e, 7);
    h.slots = 0;
    emit("hello-bad-slots0", &e, 0);
    h.slots = 1025;
    emit("hello-bad-slots1025", &e, 0);
    h.slots = 1024;
    h.worker_id = "";
    emit("hello-bad-no-id", &e, 0);
    h.worker_id = "vm:4242:1a2b3c4d";
    e.protocol = 2;
    emit("hello-bad-version2", &e, 0);
    e.protocol = 0;
    emit("hello-bad-version0", &e, 0);

    Hpt__TaskProgress tp[2] = {HPT__TASK_PROGRESS__INIT, HPT__TASK_PROGRESS__INIT};
    Hpt__TaskProgress *tpp[2] = {&tp[0], &tp[1]};
    tp[0].task = 17;
    tp[0].attempt = 1;
    tp[0].epoch = 3;
    tp[1].task = 18;
    tp[1].attempt = 2;
    Hpt__Heartbeat hb = HPT__HEARTBEAT__INIT;
    hb.running = tpp;
    hb.n_running = 2;
    hb.free_slots = 2;
    ENV(e2, HEARTBEAT, heartbeat, hb);
    emit("heartbeat", &e2, 3);
    hb.n_running = 0;
    emit("heartbeat-empty", &e2, 0);
    tp[0].task = 0;
    hb.n_running = 1;
    emit("heartbeat-bad-task0", &e2, 0);

    Hpt__Progress pr = HPT__PROGRESS__INIT;
    pr.task = 17;
    pr.attempt = 1;
    pr.epoch = 2;
    pr.epochs = 10;
    pr.val_score = 0.91;
    pr.train_loss = 0.3;
    ENV(e3, PROGRESS, progress, pr);
    emit("progress", &e3, 5);
    pr.val_score = NAN;
    emit("progress-nan", &e3, 0);
    pr.train_loss = INFINITY;
    emit("progress-bad-inf", &e3, 0);
    pr.train_loss = 0.3;
    pr.epoch = 11;
    emit("progress-bad-epoch", &e3, 0);

    Hpt__Result r = HPT__RESULT__INIT;
    r.task = 17;
    r.attempt = 1;
    r.ok = true;
    r.error = "";
    r.score = 0.9123;
    r.accuracy = 0.9123;
    r.log_loss = 0.31;
    r.f1_macro = 0.905;
    r.train_score = NAN;
    r.fit_seconds = 1.25;
    r.epochs = 10;
    ENV(e4, RESULT, result, r);
    emit("result-ok", &e4, 9);
    r.diverged = true;
    r.score = NAN;
    emit("result-diverged", &e4, 0);
    r.diverged = false;
    emit("result-bad-nan-score", &e4, 0);
    r.score = 0.5;
    r.fit_seconds = -1;
    emit("result-bad-fit-seconds", &e4, 0);
    r.fit_seconds = 0.5;
    r.ok = false;
    r.error = "dataset mnist: fingerprint differs";
    r.refused = true;
    emit("result-refused", &e4, 0);
    r.refused = false;
    r.error = "training diverged at epoch 3";
    emit("result-failed", &e4, 0);
    r.task = 0;
    emit("result-bad-task0", &e4, 0);

    Hpt__Goodbye g = HPT__GOODBYE__INIT;
    g.drain = true;
    ENV(e5, GOODBYE, goodbye, g);
    emit("goodbye-drain", &e5, 0);
    g.drain = false;
    emit("goodbye", &e5, 0);
}

static void coordinator_messages(void)
{
    Hpt__Welcome w = HPT__WELCOME__INIT;
    w.heartbeat_ms = 1000;
    w.liveness = 3;
    ENV(e, WELCOME, welcome, w);
    emit("welcome", &e, 0);
    w.liveness = 0;
    emit("welcome-bad-liveness", &e, 0);

    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 2;
    hp.units[0] = 64;
    hp.units[1] = 32;
    hp.batch_size = 128;
    hp.epochs = 5;
    hp.seed = 0x1234567890abcdefULL;
    hp.dropout = 0.2;
    uint32_t units[HPT_MAX_LAYERS];
    Hpt__HParams wh;
    hpt_proto_hparams_to_wire(&hp, &wh, units);
    Hpt__Assign a = HPT__ASSIGN__INIT;
    a.task = 17;
    a.attempt = 1;
    a.sweep = 1;
    a.trial = 4;
    a.fold = 2;
    a.folds = 5;
    a.cv_seed = 42;
    a.stratified = true;
    a.shuffle = true;
    a.dataset = "mnist";
    a.fingerprint = "9f2c4e0b7a1d3c5e8f6a0b2d4c6e8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f";
    a.hparams = &wh;
    ENV(e2, ASSIGN, assign, a);
    emit("assign", &e2, 11);
    a.refit = true;
    a.fold = 0;
    a.folds = 0;
    emit("assign-refit", &e2, 0);
    a.refit = false;
    a.folds = 5;
    a.fold = 5;
    emit("assign-bad-fold", &e2, 0);
    a.fold = 1;
    wh.layers = 3;
    emit("assign-bad-units", &e2, 0);
    wh.layers = 2;
    wh.activation = "swish";
    emit("assign-bad-activation", &e2, 0);
    wh.activation = "relu";
    wh.learning_rate = -1;
    emit("assign-bad-lr", &e2, 0);
    wh.learning_rate = 0.001;
    a.hparams = NULL;
    emit("assign-bad-no-hparams", &e2, 0);

    Hpt__Cancel c = HPT__CANCEL__INIT;
    c.task = 17;
    c.attempt = 1;
    ENV(e3, CANCEL, cancel, c);
    emit("cancel", &e3, 0);

    Hpt__Disconnect d = HPT__DISCONNECT__INIT;
    d.reason = "unknown worker: send Hello";
    ENV(e4, DISCONNECT, disconnect, d);
    emit("disconnect", &e4, 0);

    Hpt__Reject rj = HPT__REJECT__INIT;
    rj.reason = "protocol version 2, this build speaks 1";
    ENV(e5, REJECT, reject, rj);
    emit("reject", &e5, 0);
}

/* The dataset transfer (docs/protocol.md, "Dataset transfer"). */
static void transfer_messages(void)
{
    static const char fp[] = "6003ea9d5f0cea4cba0ad3dc4165ad97219539e48a8e35eead7a0766538ddab6";
    Hpt__DatasetFile f[4] = {HPT__DATASET_FILE__INIT, HPT__DATASET_FILE__INIT,
                             HPT__DATASET_FILE__INIT, HPT__DATASET_FILE__INIT};
    Hpt__DatasetFile *fp4[4] = {&f[0], &f[1], &f[2], &f[3]};
    f[0].name = "train-images-idx3-ubyte.gz";
    f[0].size = 1300447;
    f[1].name = "train-labels-idx1-ubyte.gz";
    f[1].size = 4084;
    f[2].name = "t10k-images-idx3-ubyte";
    f[2].size = 1568016;
    f[3].name = "t10k-labels-idx1-ubyte.gz";
    f[3].size = 1030;
    Hpt__DatasetOffer o = HPT__DATASET_OFFER__INIT;
    o.dataset = "mnist";
    o.fingerprint = (char *)fp;
    o.n_files = 4;
    o.files = fp4;
    o.sweep = 3;
    ENV(e, DATASET_OFFER, dataset_offer, o);
    emit("dataset-offer", &e, 9);
    f[1].name = "../../etc/passwd";
    emit("dataset-offer-bad-path", &e, 0);
    f[1].name = "t10k-labels-idx1-ubyte.gz";   // another file's name in slot 1
    emit("dataset-offer-bad-order", &e, 0);
    f[1].name = "train-labels-idx1-ubyte.gz";
    f[1].size = 0;
    emit("dataset-offer-bad-size0", &e, 0);
    f[1].size = 4084;
    o.n_files = 3;
    emit("dataset-offer-bad-3-files", &e, 0);
    o.n_files = 4;
    o.fingerprint = "dry-run";
    emit("dataset-offer-bad-fingerprint", &e, 0);

    Hpt__FetchChunk q = HPT__FETCH_CHUNK__INIT;
    q.dataset = "mnist";
    q.fingerprint = (char *)fp;
    q.file = "train-images-idx3-ubyte.gz";
    q.offset = 262144;
    q.size = 262144;
    q.xfer = 0x1234abcd0000ULL;
    ENV(e2, FETCH_CHUNK, fetch_chunk, q);
    emit("fetch-chunk", &e2, 5);
    q.size = 0;
    emit("fetch-chunk-bad-size0", &e2, 0);
    q.size = 2 * 1024 * 1024;
    emit("fetch-chunk-bad-size-big", &e2, 0);
    q.size = 262144;
    q.file = "/etc/shadow";
    emit("fetch-chunk-bad-file", &e2, 0);
    q.file = "train-images-idx3-ubyte.gz";
    q.dataset = "";
    emit("fetch-chunk-bad-no-dataset", &e2, 0);

    static uint8_t bytes[64] = {0, 0, 8, 3, 0, 0, 0x1f, 0x40};
    Hpt__DatasetChunk ch = HPT__DATASET_CHUNK__INIT;
    ch.dataset = "mnist";
    ch.file = "train-images-idx3-ubyte.gz";
    ch.offset = 0;
    ch.data.data = bytes;
    ch.data.len = sizeof bytes;
    ch.file_size = 1300447;
    ch.xfer = 0x1234abcd0000ULL;
    ch.error = "";
    ENV(e3, DATASET_CHUNK, dataset_chunk, ch);
    emit("dataset-chunk", &e3, 13);
    ch.offset = 1300447 - 8;
    emit("dataset-chunk-bad-past-end", &e3, 0);
    ch.offset = 0;
    ch.data.len = 0;
    ch.error = "dataset mnist with fingerprint 6003ea9d5f0c is not the dataset of a queued or "
               "running sweep";
    emit("dataset-chunk-refused", &e3, 0);

    Hpt__DatasetInfo ds = HPT__DATASET_INFO__INIT;
    Hpt__DatasetInfo *dsp = &ds;
    ds.name = "mnist";
    ds.fingerprint = (char *)fp;
    ds.n_train = 8000;
    ds.n_test = 2000;
    Hpt__Datasets d = HPT__DATASETS__INIT;
    d.n_datasets = 1;
    d.datasets = &dsp;
    ENV(e4, DATASETS, datasets, d);
    emit("datasets", &e4, 3);
    ds.name = "";
    emit("datasets-bad-name", &e4, 0);
}

static const char spec_text[] =
    "name: seed\n"
    "dataset: mnist\n"
    "method: random\n"
    "seed: 3\n"
    "cv: {folds: 3}\n"
    "budget: {max_trials: 4}\n"
    "parameters:\n"
    "  units: {values: [8, 16]}\n"
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}\n";

static void client_messages(void)
{
    Hpt__Submit s = HPT__SUBMIT__INIT;
    s.spec = (char *)spec_text;
    s.path = "seed.yaml";
    ENV(e, SUBMIT, submit, s);
    e.req_id = 1;
    emit("submit", &e, 20);
    s.spec = "";
    emit("submit-bad-empty", &e, 0);

    Hpt__SubmitReply sr = HPT__SUBMIT_REPLY__INIT;
    sr.sweep = 3;
    sr.name = "seed";
    sr.trials = 4;
    sr.tasks = 13;
    ENV(e2, SUBMIT_REPLY, submit_reply, sr);
    e2.req_id = 1;
    emit("submit-reply", &e2, 0);

    Hpt__StatusRequest st = HPT__STATUS_REQUEST__INIT;
    ENV(e3, STATUS, status, st);
    e3.req_id = 2;
    emit("status", &e3, 0);
    st.sweep = 99;
    emit("status-sweep", &e3, 0);

    Hpt__Param pa[2] = {HPT__PARAM__INIT, HPT__PARAM__INIT};
    Hpt__Param *pp[2] = {&pa[0], &pa[1]};
    pa[0].name = "units";
    pa[0].text = "16";
    pa[0].number = 16;
    pa[0].numeric = true;
    pa[1].name = "optimizer";
    pa[1].text = "adam";
    Hpt__SweepInfo si = HPT__SWEEP_INFO__INIT;
    Hpt__SweepInfo *sip = &si;
    si.id = 3;
    si.name = "seed";
    si.state = "running";
    si.method = "random";
    si.dataset = "mnist";
    si.metric = "accuracy";
    si.maximize = true;
    si.trials_total = 4;
    si.tasks_total = 13;
    si.tasks_done = 5;
    si.best_trial = 1;
    si.best_mean = 0.9;
    si.best_std = 0.01;
    si.n_best_params = 2;
    si.best_params = pp;
    si.refit_score = NAN;
    si.eta_seconds = -1;
    si.error = "";
    si.folds = 3;
    si.repeats = 1;
    Hpt__StatusReply str = HPT__STATUS_REPLY__INIT;
    str.n_sweeps = 1;
    str.sweeps = &sip;
    str.workers = 2;
    str.slots = 8;
    str.slots_busy = 5;
    ENV(e4, STATUS_REPLY, status_reply, str);
    e4.req_id = 2;
    emit("status-reply", &e4, 13);

    Hpt__WorkersRequest wr = HPT__WORKERS_REQUEST__INIT;
    ENV(e5, WORKERS, workers, wr);
    e5.req_id = 3;
    emit("workers", &e5, 0);

    Hpt__WorkerInfo wi = HPT__WORKER_INFO__INIT;
    Hpt__WorkerInfo *wip = &wi;
    Hpt__DatasetInfo ds = HPT__DATASET_INFO__INIT;
    Hpt__DatasetInfo *dsp = &ds;
    ds.name = "mnist";
    ds.fingerprint = "dry-run";
    wi.id = "vm:4242:1a2b3c4d";
    wi.name = "vm";
    wi.host = "vm";
    wi.slots = 4;
    wi.busy = 1;
    wi.version = "0.1.0";
    wi.n_datasets = 1;
    wi.datasets = &dsp;
    wi.last_seen_ago = 0.2;
    wi.state = "ready";
    Hpt__WorkersReply wrr = HPT__WORKERS_REPLY__INIT;
    wrr.n_workers = 1;
    wrr.workers = &wip;
    ENV(e6, WORKERS_REPLY, workers_reply, wrr);
    e6.req_id = 3;
    emit("workers-reply", &e6, 0);

    Hpt__ResultsRequest rr = HPT__RESULTS_REQUEST__INIT;
    rr.sweep = 3;
    ENV(e7, RESULTS, results, rr);
    e7.req_id = 4;
    emit("results", &e7, 0);

    double splits[3] = {0.9, NAN, 0.91};
    Hpt__TrialResult tr = HPT__TRIAL_RESULT__INIT;
    Hpt__TrialResult *trp = &tr;
    tr.trial = 1;
    tr.state = "running";
    tr.n_params = 2;
    tr.params = pp;
    tr.n_split_scores = 3;
    tr.split_scores = splits;
    tr.mean_test_score = NAN;
    tr.error = "";
    tr.splits_done = 2;
    char *names[2] = {"units", "optimizer"};
    Hpt__ResultsReply rrr = HPT__RESULTS_REPLY__INIT;
    rrr.sweep = &si;
    rrr.n_param_names = 2;
    rrr.param_names = names;
    rrr.n_trials = 1;
    rrr.trials = &trp;
    ENV(e8, RESULTS_REPLY, results_reply, rrr);
    e8.req_id = 4;
    emit("results-reply", &e8, 17);

    Hpt__CancelRequest cr = HPT__CANCEL_REQUEST__INIT;
    cr.sweep = 3;
    ENV(e9, CANCEL_SWEEP, cancel_sweep, cr);
    e9.req_id = 5;
    emit("cancel-sweep", &e9, 0);

    Hpt__CancelReply crr = HPT__CANCEL_REPLY__INIT;
    crr.cancelled = true;
    crr.state = "cancelled";
    ENV(e10, CANCEL_REPLY, cancel_reply, crr);
    e10.req_id = 5;
    emit("cancel-reply", &e10, 0);

    Hpt__Subscribe sub = HPT__SUBSCRIBE__INIT;
    sub.level = "debug";
    sub.history = true;
    sub.follow = true;
    ENV(e11, SUBSCRIBE, subscribe, sub);
    e11.req_id = 6;
    emit("subscribe", &e11, 0);
    sub.level = "this-level-name-is-too-long";
    emit("subscribe-bad-level", &e11, 0);

    Hpt__Event ev = HPT__EVENT__INIT;
    ev.ts_us = 1700000000000000;
    ev.level = "info";
    ev.component = "sched";
    ev.message = "trial done";
    ev.fields = "sweep=3 trial=1 mean=0.9";
    ev.sweep = 3;
    ev.seq = 77;
    ENV(e12, EVENT, event, ev);
    emit("event", &e12, 0);

    Hpt__HistoryEnd he = HPT__HISTORY_END__INIT;
    he.events = 77;
    ENV(e13, HISTORY_END, history_end, he);
    e13.req_id = 6;
    emit("history-end", &e13, 0);

    Hpt__Unsubscribe un = HPT__UNSUBSCRIBE__INIT;
    ENV(e14, UNSUBSCRIBE, unsubscribe, un);
    emit("unsubscribe", &e14, 0);

    Hpt__ErrorReply er = HPT__ERROR_REPLY__INIT;
    er.code = 4;
    er.message = "no sweep 99";
    ENV(e15, ERROR, error, er);
    e15.req_id = 2;
    emit("error", &e15, 0);
}

static void raw_seeds(void)
{
    hpt_env_t e = HPT__ENVELOPE__INIT;
    e.protocol = HPT__VERSION__PROTOCOL_VERSION;
    emit("no-body", &e, 0);
    // Field 99 (an unknown oneof number, length-delimited, empty) after protocol = 1.
    static const uint8_t unknown_body[] = {0x08, 0x01, 0x9a, 0x06, 0x00};
    write_bytes("unknown-body-99.bin", unknown_body, sizeof unknown_body);
    // A length prefix that runs past the end.
    static const uint8_t overlong[] = {0x08, 0x01, 0x52, 0x7f, 0x0a, 0x01};
    write_bytes("overlong-length.bin", overlong, sizeof overlong);
    // Two bodies: hello then heartbeat (protobuf: the last oneof member wins).
    static const uint8_t two_bodies[] = {0x08, 0x01, 0x52, 0x05, 0x0a, 0x01, 0x78,
                                         0x20, 0x01, 0x5a, 0x00};
    write_bytes("two-bodies.bin", two_bodies, sizeof two_bodies);
    // A varint that never ends.
    static const uint8_t varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    write_bytes("endless-varint.bin", varint, sizeof varint);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz-gen-envelopes DIR\n");
        return 2;
    }
    out_dir = argv[1];
    worker_messages();
    coordinator_messages();
    client_messages();
    transfer_messages();
    raw_seeds();
    printf("fuzz-gen-envelopes: %d files written to %s\n", n_written, out_dir);
    return n_failed ? 1 : 0;
}
