/*
 * optim.h: the nine optimizers with Keras semantics and default constants.
 *
 * An hpt_optim_t owns the per-parameter state (velocity, Adam m and v, ...)
 * for one flat parameter vector and applies one update per call.  Formulas
 * (g = gradient, t = step count starting at 1, lr = learning rate):
 *   sgd       v = mom*v - lr*g;  w += v          (nesterov: w += mom*v - lr*g)
 *   rmsprop   a = rho*a + (1-rho)*g^2;  w -= lr*g/(sqrt(a)+eps)      rho .9
 *             (with momentum m>0: mv = m*mv + lr*g/(sqrt(a)+eps); w -= mv)
 *   adagrad   a += g^2 (a starts at 0.1);  w -= lr*g/(sqrt(a)+eps)
 *   adadelta  a = rho*a + (1-rho)*g^2;  d = sqrt(u+eps)/sqrt(a+eps)*g;
 *             u = rho*u + (1-rho)*d^2;  w -= lr*d                   rho .95
 *   adam      m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
 *             w -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps)
 *   adamax    m = b1*m + (1-b1)*g;  u = max(b2*u, |g|);  w -= lr/(1-b1^t) * m/(u+eps)
 *   nadam     Keras' Nadam with the 0.96^(0.004 t) momentum schedule.
 *   adamw     w -= lr*wd*w, then the adam update (tf.keras AdamW, Loshchilov & Hutter's
 *             decoupled weight decay scaled by the learning rate, as tf.keras and
 *             PyTorch do): every parameter decays, biases included, and the decay
 *             never enters m or v.
 * b1 = 0.9, b2 = 0.999, eps = 1e-7 throughout (Keras' values).
 */
#ifndef HPT_OPTIM_H
#define HPT_OPTIM_H

#include <stddef.h>

#include "params.h"

typedef struct hpt_optim hpt_optim_t;

/* Create the state for n parameters from hp's optimizer, learning rate,
 * momentum, nesterov flag and (adamw only) weight_decay.  *out returns owned;
 * -ENOMEM on failure. */
int hpt_optim_new(hpt_optim_t **out, const hpt_hparams_t *hp, size_t n);

/* Free; accepts NULL and sets *p = NULL. */
void hpt_optim_destroy(hpt_optim_t **p);

/* One update of w[0..n) from g[0..n) (both borrowed; n as given to new).
 * Increments the step count first.  Allocates nothing. */
void hpt_optim_step(hpt_optim_t *o, float *w, const float *g);

/* Steps taken so far. */
long hpt_optim_steps(const hpt_optim_t *o);

#endif
