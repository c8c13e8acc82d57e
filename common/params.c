/* params.c: hyperparameter defaults, name tables and validation. */
#include "params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const hpt_hparams_t HPT_HPARAMS_DEFAULT = {
    .layers = 1,
    .units = {32, 32, 32, 32, 32, 32, 32, 32},
    .activation = HPT_ACT_RELU,
    .init_mode = HPT_INIT_GLOROT_UNIFORM,
    .optimizer = HPT_OPT_ADAM,
    .learning_rate = -1.0,
    .momentum = 0.0,
    .nesterov = false,
    .dropout = 0.0,
    .input_dropout = 0.0,
    .weight_constraint = 0.0,
    .weight_decay = 0.0,
    .batch_size = 32,
    .epochs = 10,
    .seed = 42,
    .metric = HPT_METRIC_ACCURACY,
};

static const char *const act_names[HPT_ACT__COUNT] = {
    "relu", "tanh",     "sigmoid", "hard_sigmoid", "elu",
    "selu", "softplus", "softsign", "linear",       "softmax",
};
static const char *const init_names[HPT_INIT__COUNT] = {
    "uniform",       "lecun_uniform", "normal",    "zero",
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
};
static const char *const opt_names[HPT_OPT__COUNT] = {
    "sgd", "nesterov", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam", "adamw",
};
static const char *const metric_names[HPT_METRIC__COUNT] = {
    "accuracy",
    "log_loss",
    "f1_macro",
};

static const char *name_of(const char *const *tab, int n, int v)
{
    return (v >= 0 && v < n) ? tab[v] : "?";
}

static int parse_in(const char *const *tab, int n, const char *s)
{
    if (!s)
        return -EINVAL;
    for (int i = 0; i < n; i++)
        if (strcmp(tab[i], s) == 0)
            return i;
    return -EINVAL;
}

static const char *join(char *buf, size_t len, const char *const *tab, int n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", tab[i]);
    return buf;
}

const char *hpt_act_name(hpt_act_t a) { return name_of(act_names, HPT_ACT__COUNT, (int)a); }
const char *hpt_init_name(hpt_init_t i) { return name_of(init_names, HPT_INIT__COUNT, (int)i); }
const char *hpt_opt_name(hpt_opt_t o) { return name_of(opt_names, HPT_OPT__COUNT, (int)o); }
const char *hpt_metric_name(hpt_metric_t m)
{
    return name_of(metric_names, HPT_METRIC__COUNT, (int)m);
}
int hpt_act_parse(const char *s) { return parse_in(act_names, HPT_ACT__COUNT, s); }
int hpt_init_parse(const char *s)
{
    /* Keras spells it "zeros"; the blog post says "zero".  Accept both. */
    if (s && strcmp(s, "zeros") == 0)
        return HPT_INIT_ZERO;
    return parse_in(init_names, HPT_INIT__COUNT, s);
}
int hpt_opt_parse(const char *s) { return parse_in(opt_names, HPT_OPT__COUNT, s); }
int hpt_metric_parse(const char *s) { return parse_in(metric_names, HPT_METRIC__COUNT, s); }

/* The joined lists are built once into static buffers; the tables are
 * constant, so concurrent first calls write identical bytes. */
const char *hpt_act_names(void)
{
    static char buf[160];
    return join(buf, sizeof buf, act_names, HPT_ACT__COUNT);
}
const char *hpt_init_names(void)
{
    static char buf[160];
    return join(buf, sizeof buf, init_names, HPT_INIT__COUNT);
}
const char *hpt_opt_names(void)
{
    static char buf[160];
    return join(buf, sizeof buf, opt_names, HPT_OPT__COUNT);
}
const char *hpt_metric_names(void)
{
    static char buf[160];
    return join(buf, sizeof buf, metric_names, HPT_METRIC__COUNT);
}

bool hpt_metric_maximize(hpt_metric_t m)
{
    return m != HPT_METRIC_LOG_LOSS;
}

double hpt_opt_default_lr(hpt_opt_t o)
{
    return (o == HPT_OPT_SGD || o == HPT_OPT_NESTEROV) ? 0.01 : 0.001;
}

double hpt_hparams_lr(const hpt_hparams_t *hp)
{
    return hp->learning_rate < 0 ? hpt_opt_default_lr(hp->optimizer) : hp->learning_rate;
}

int hpt_hparams_validate(const hpt_hparams_t *hp, hpt_err *err)
{
    if (hp->layers < 1 || hp->layers > HPT_MAX_LAYERS)
        return hpt_err_set(err, -EINVAL, "layers: %d is out of range (1..%d)", hp->layers,
                           HPT_MAX_LAYERS);
    for (int i = 0; i < hp->layers; i++)
        if (hp->units[i] < 1 || hp->units[i] > HPT_MAX_UNITS)
            return hpt_err_set(err, -EINVAL, "units: layer %d has %d units (allowed 1..%d)",
                               i + 1, hp->units[i], HPT_MAX_UNITS);
    if ((unsigned)hp->activation >= HPT_ACT__COUNT)
        return hpt_err_set(err, -EINVAL, "activation: unknown value (allowed: %s)",
                           hpt_act_names());
    if ((unsigned)hp->init_mode >= HPT_INIT__COUNT)
        return hpt_err_set(err, -EINVAL, "init_mode: unknown value (allowed: %s)",
                           hpt_init_names());
    if ((unsigned)hp->optimizer >= HPT_OPT__COUNT)
        return hpt_err_set(err, -EINVAL, "optimizer: unknown value (allowed: %s)",
                           hpt_opt_names());
    if ((unsigned)hp->metric >= HPT_METRIC__COUNT)
        return hpt_err_set(err, -EINVAL, "metric: unknown value (allowed: %s)",
                           hpt_metric_names());
    double lr = hpt_hparams_lr(hp);
    if (!isfinite(lr) || lr <= 0 || lr > 10)
        return hpt_err_set(err, -EINVAL, "learning_rate: %g is out of range (0, 10]", lr);
    if (!isfinite(hp->momentum) || hp->momentum < 0 || hp->momentum >= 1)
        return hpt_err_set(err, -EINVAL, "momentum: %g is out of range [0, 1)", hp->momentum);
    if (!isfinite(hp->dropout) || hp->dropout < 0 || hp->dropout >= 1)
        return hpt_err_set(err, -EINVAL, "dropout: %g is out of range [0, 1)", hp->dropout);
    if (!isfinite(hp->input_dropout) || hp->input_dropout < 0 || hp->input_dropout >= 1)
        return hpt_err_set(err, -EINVAL, "input_dropout: %g is out of range [0, 1)",
                           hp->input_dropout);
    if (!isfinite(hp->weight_constraint) || hp->weight_constraint < 0 ||
        hp->weight_constraint > 1e6)
        return hpt_err_set(err, -EINVAL,
                           "weight_constraint: %g is out of range [0, 1e6] (0 = off)",
                           hp->weight_constraint);
    if (!isfinite(hp->weight_decay) || hp->weight_decay < 0 ||
        hp->weight_decay > HPT_MAX_WEIGHT_DECAY)
        return hpt_err_set(err, -EINVAL, "weight_decay: %g is out of range [0, %g] (0 = off)",
                           hp->weight_decay, HPT_MAX_WEIGHT_DECAY);
    if (hp->batch_size < 1 || hp->batch_size > HPT_MAX_BATCH)
        return hpt_err_set(err, -EINVAL, "batch_size: %d is out of range (1..%d)",
                           hp->batch_size, HPT_MAX_BATCH);
    if (hp->epochs < 1 || hp->epochs > HPT_MAX_EPOCHS)
        return hpt_err_set(err, -EINVAL, "epochs: %d is out of range (1..%d)", hp->epochs,
                           HPT_MAX_EPOCHS);
    return 0;
}

int hpt_hparams_format(const hpt_hparams_t *hp, char *buf, int len)
{
    char units[HPT_MAX_LAYERS * 8 + 8];
    int off = 0;
    for (int i = 0; i < hp->layers && i < HPT_MAX_LAYERS; i++)
        off += snprintf(units + off, sizeof units - (size_t)off, "%s%d", i ? "," : "",
                        hp->units[i]);
    return snprintf(buf, (size_t)len,
                    "layers=%d units=%s activation=%s init_mode=%s optimizer=%s "
                    "learning_rate=%g momentum=%g nesterov=%s dropout=%g input_dropout=%g "
                    "weight_constraint=%g weight_decay=%g batch_size=%d epochs=%d seed=%llu",
                    hp->layers, units, hpt_act_name(hp->activation),
                    hpt_init_name(hp->init_mode), hpt_opt_name(hp->optimizer),
                    hpt_hparams_lr(hp), hp->momentum, hp->nesterov ? "true" : "false",
                    hp->dropout, hp->input_dropout, hp->weight_constraint, hp->weight_decay,
                    hp->batch_size,
                    hp->epochs, (unsigned long long)hp->seed);
}
