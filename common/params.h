/*
 * params.h: the hyperparameters of one training run (a Keras-style MLP) and
 * the name tables that map them to and from text.
 *
 * hpt_hparams_t is plain data: the CLI, the sweep spec and the wire all fill
 * one, validate it with hpt_hparams_validate() and hand it to the trainer.
 * Defaults are Keras' own (HPT_HPARAMS_DEFAULT).
 */
#ifndef HPT_PARAMS_H
#define HPT_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define HPT_MAX_LAYERS 8       // hidden layers, 1..HPT_MAX_LAYERS
#define HPT_MAX_UNITS 65536    // units per hidden layer
#define HPT_MAX_BATCH 65536
#define HPT_MAX_EPOCHS 100000
#define HPT_MAX_WEIGHT_DECAY 10.0  // weight_decay is in [0, 10], as learning_rate is in (0, 10]

typedef enum hpt_act {
    HPT_ACT_RELU,
    HPT_ACT_TANH,
    HPT_ACT_SIGMOID,
    HPT_ACT_HARD_SIGMOID,  // Keras 2: clip(0.2 x + 0.5, 0, 1)
    HPT_ACT_ELU,           // alpha = 1
    HPT_ACT_SELU,          // alpha = 1.67326324, scale = 1.05070098
    HPT_ACT_SOFTPLUS,
    HPT_ACT_SOFTSIGN,
    HPT_ACT_LINEAR,
    HPT_ACT_SOFTMAX,       // row-wise: over the layer's units, per sample (Keras' Dense)
    HPT_ACT__COUNT         // new values go last, so the existing ones keep their numbers
} hpt_act_t;

typedef enum hpt_init {
    HPT_INIT_UNIFORM,         // U(-0.05, 0.05)            (Keras RandomUniform defaults)
    HPT_INIT_LECUN_UNIFORM,   // U(+-sqrt(3 / fan_in))
    HPT_INIT_NORMAL,          // N(0, 0.05^2)              (Keras RandomNormal defaults)
    HPT_INIT_ZERO,            // all zeros
    HPT_INIT_GLOROT_NORMAL,   // truncated N, var 2 / (fan_in + fan_out)
    HPT_INIT_GLOROT_UNIFORM,  // U(+-sqrt(6 / (fan_in + fan_out)))   (Keras' default)
    HPT_INIT_HE_NORMAL,       // truncated N, var 2 / fan_in
    HPT_INIT_HE_UNIFORM,      // U(+-sqrt(6 / fan_in))
    HPT_INIT__COUNT
} hpt_init_t;

typedef enum hpt_opt {
    HPT_OPT_SGD,       // lr 0.01, momentum 0 (Keras defaults); nesterov flag applies
    HPT_OPT_NESTEROV,  // sgd with nesterov = true
    HPT_OPT_RMSPROP,   // lr 0.001, rho 0.9, eps 1e-7
    HPT_OPT_ADAGRAD,   // lr 0.001, initial accumulator 0.1, eps 1e-7
    HPT_OPT_ADADELTA,  // lr 0.001, rho 0.95, eps 1e-7
    HPT_OPT_ADAM,      // lr 0.001, beta1 0.9, beta2 0.999, eps 1e-7
    HPT_OPT_ADAMAX,    // lr 0.001, beta1 0.9, beta2 0.999, eps 1e-7
    HPT_OPT_NADAM,     // lr 0.001, beta1 0.9, beta2 0.999, eps 1e-7
    HPT_OPT_ADAMW,     // adam with decoupled weight decay (tf.keras AdamW: lr 0.001, beta1 0.9,
                       // beta2 0.999, eps 1e-7); weight_decay is its decay rate
    HPT_OPT__COUNT     // new values go last, so the existing ones keep their numbers
} hpt_opt_t;

typedef enum hpt_metric {
    HPT_METRIC_ACCURACY,  // fraction correct, maximize
    HPT_METRIC_LOG_LOSS,  // mean cross-entropy (nats), minimize
    HPT_METRIC_F1_MACRO,  // unweighted mean of per-class F1, maximize
    HPT_METRIC__COUNT
} hpt_metric_t;

typedef struct hpt_hparams {
    int layers;                   // hidden layers, 1..HPT_MAX_LAYERS
    int units[HPT_MAX_LAYERS];    // units of hidden layer i (i < layers)
    hpt_act_t activation;         // hidden-layer activation
    hpt_init_t init_mode;         // kernel initializer; biases start at 0
    hpt_opt_t optimizer;
    double learning_rate;         // < 0 means "the optimizer's Keras default"
    double momentum;              // sgd/nesterov momentum (and rmsprop momentum), [0, 1)
    bool nesterov;                // sgd: Nesterov momentum
    double dropout;               // rate on each hidden layer's output, [0, 1)
    double input_dropout;         // rate on the input layer, [0, 1)
    double weight_constraint;     // max-norm of each unit's incoming weights; 0 = off
    double weight_decay;          // [0, HPT_MAX_WEIGHT_DECAY], 0 = off.  adamw: the decoupled
                                  // decay rate (w -= lr * weight_decay * w each step, every
                                  // parameter); any other optimizer: Keras' l2(weight_decay)
                                  // on every kernel (not the biases): the loss gains
                                  // weight_decay * sum(w^2), the gradient 2 * weight_decay * w
    int batch_size;               // samples per mini-batch, 1..HPT_MAX_BATCH
    int epochs;                   // passes over the training data, 1..HPT_MAX_EPOCHS
    uint64_t seed;                // seeds init, dropout and shuffles
    hpt_metric_t metric;          // validation score reported per epoch
} hpt_hparams_t;

/* Keras' defaults with the blog post's model: 1 hidden layer of 32 relu units,
 * glorot_uniform, adam, batch 32, 10 epochs, no weight decay. */
extern const hpt_hparams_t HPT_HPARAMS_DEFAULT;

/* Name tables.  *_name() returns a static string ("?" when out of range);
 * *_parse() returns the enum value or -EINVAL when the name is unknown. */
const char *hpt_act_name(hpt_act_t a);
const char *hpt_init_name(hpt_init_t i);
const char *hpt_opt_name(hpt_opt_t o);
const char *hpt_metric_name(hpt_metric_t m);
int hpt_act_parse(const char *s);
int hpt_init_parse(const char *s);
int hpt_opt_parse(const char *s);
int hpt_metric_parse(const char *s);

/* "relu, tanh, ..." for error messages and --help; static string. */
const char *hpt_act_names(void);
const char *hpt_init_names(void);
const char *hpt_opt_names(void);
const char *hpt_metric_names(void);

/* True when a larger metric value is better. */
bool hpt_metric_maximize(hpt_metric_t m);

/* The learning rate actually used: hp->learning_rate, or the optimizer's Keras
 * default when that is negative. */
double hpt_hparams_lr(const hpt_hparams_t *hp);

/* Keras' default learning rate for an optimizer. */
double hpt_opt_default_lr(hpt_opt_t o);

/* Check every field's range; on failure fills err with the field's name and
 * the allowed range and returns -EINVAL. */
int hpt_hparams_validate(const hpt_hparams_t *hp, hpt_err *err);

/* Write a compact one-line description ("layers=1 units=32 activation=relu
 * ...") into buf (borrowed, size len).  Returns the length snprintf would
 * have written. */
int hpt_hparams_format(const hpt_hparams_t *hp, char *buf, int len);

#endif
