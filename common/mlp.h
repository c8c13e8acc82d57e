/*
 * mlp.h: a multilayer perceptron (dense layers, softmax output, cross-entropy)
 * trained with mini-batch gradients.
 *
 * Shapes: input x (batch, n_in) float32 row-major; hidden layer l has units
 * u_l; output (batch, n_out).  Layer l's kernel W_l is (fan_in, fan_out)
 * row-major, bias b_l is (fan_out).  Forward: z = x @ W + b (one
 * hpt_blas_sgemm), a = act(z), dropout (inverted) on the input and on every
 * hidden output when training; the last layer is softmax.
 *
 * Memory: four arenas allocated once in hpt_mlp_new (params, grads, optimizer
 * state, activations sized for max_batch); forward, backward and step
 * allocate nothing.  Not thread-safe: one model per thread.
 */
#ifndef HPT_MLP_H
#define HPT_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"
#include "rng.h"

typedef struct hpt_mlp hpt_mlp_t;

typedef enum hpt_mlp_mode {
    HPT_MLP_EVAL,        // no dropout
    HPT_MLP_TRAIN,       // dropout with fresh masks drawn from the rng
    HPT_MLP_TRAIN_FIXED, // dropout reusing the masks of the previous TRAIN call
                         // (for finite-difference gradient checks)
} hpt_mlp_mode_t;

/* Build a model for hp (layers, units, activation, init_mode, dropout,
 * input_dropout, weight_constraint, weight_decay, optimizer) with n_in inputs, n_out classes
 * and room for batches of up to max_batch rows.  Parameters are initialised
 * from rng per hp->init_mode (biases zero).  hp, rng borrowed.  *out returns
 * owned.  Returns 0, -EINVAL (bad shape, err says which) or -ENOMEM. */
int hpt_mlp_new(hpt_mlp_t **out, const hpt_hparams_t *hp, int n_in, int n_out, int max_batch,
                hpt_rng_t *rng, hpt_err *err);

/* Free; accepts NULL and sets *p = NULL. */
void hpt_mlp_destroy(hpt_mlp_t **p);

/* Forward pass of `batch` rows (1..max_batch) of x (borrowed, (batch, n_in)).
 * Returns the softmax probabilities (batch, n_out), owned by the model and
 * valid until the next forward, or NULL when batch is out of range.  rng is
 * used only in HPT_MLP_TRAIN mode.  x is not copied: backward reads it, so it
 * must stay valid and unchanged until hpt_mlp_backward returns. */
const float *hpt_mlp_forward(hpt_mlp_t *m, const float *x, int batch, hpt_mlp_mode_t mode,
                             hpt_rng_t *rng);

/* Mean cross-entropy of the last forward's probabilities against labels
 * (borrowed, batch values in 0..n_out-1), plus the L2 term lambda * sum(W^2)
 * over every kernel when hp->weight_decay is on (not with adamw, whose decay
 * is decoupled), and backpropagation of that loss into the gradient arena
 * (overwritten, not accumulated).  Must follow a forward in a TRAIN mode (or
 * EVAL, for tests) with the same batch.  Returns the loss in nats. */
float hpt_mlp_backward(hpt_mlp_t *m, const uint8_t *labels);

/* Horizontal fusion (HFTA): n models (1..HPT_MLP_GROUP_MAX, any shapes)
 * trained on the same mini-batch x.  The members whose first layer reads x
 * itself (no input dropout), with x's width and a narrow first layer (units
 * a multiple of 8 up to 32, see hpt_blas_fused_ok), do their first-layer
 * forward product and, in backward, their first-layer weight-gradient
 * product as one wider product each (hpt_blas_fused_*); the others and every
 * other layer run as hpt_mlp_forward / hpt_mlp_backward would.  Every
 * member's probabilities, loss, gradients (and so its training, after
 * hpt_mlp_step) are bit-for-bit those of the lone calls, whatever the other
 * members are.
 * forward_group: as hpt_mlp_forward on each member, rngs[i] (or NULL) being
 * member i's rng; returns how many members were fused, or -EINVAL (n or
 * batch out of range; nothing done).  x borrowed, as for hpt_mlp_forward.
 * backward_group: as hpt_mlp_backward on each member, after a forward_group
 * (or forwards) of the same batch; losses[i] receives member i's loss (losses
 * may be NULL); returns how many were fused, or -EINVAL.  Labels borrowed. */
#define HPT_MLP_GROUP_MAX 16
int hpt_mlp_forward_group(hpt_mlp_t *const *ms, int n, const float *x, int batch,
                          hpt_mlp_mode_t mode, hpt_rng_t *const *rngs);
int hpt_mlp_backward_group(hpt_mlp_t *const *ms, int n, const uint8_t *labels, float *losses);

/* The loss hpt_mlp_backward returns (mean cross-entropy plus the L2 term),
 * without touching gradients. */
float hpt_mlp_loss(const hpt_mlp_t *m, const uint8_t *labels);

/* One optimizer update from the gradient arena, then the max-norm constraint
 * when on: each hidden unit's incoming weight vector (each column of every
 * hidden layer's W; not the output layer, as in the blog's Keras models) is
 * scaled to norm <= weight_constraint; biases are not constrained. */
void hpt_mlp_step(hpt_mlp_t *m);

/* Apply the max-norm constraint alone (hpt_mlp_step calls it). */
void hpt_mlp_apply_max_norm(hpt_mlp_t *m);

/* Flat views of the parameter and gradient arenas, for tests and for
 * checkpoints.  Layout: for each layer l in order, W_l (fan_in, fan_out)
 * then b_l (fan_out).  *n receives the element count.  Owned by the model. */
float *hpt_mlp_params(hpt_mlp_t *m, size_t *n);
float *hpt_mlp_grads(hpt_mlp_t *m, size_t *n);

/* Layer l (0 = first hidden layer, n_layers-1 = output layer): kernel and
 * bias pointers into the params arena and their shape. */
int hpt_mlp_n_layers(const hpt_mlp_t *m);  // hidden layers + 1
void hpt_mlp_layer(hpt_mlp_t *m, int l, float **W, float **b, int *fan_in, int *fan_out);

/* Post-activation output of layer l from the last forward, (batch, fan_out),
 * after dropout when training (the output layer gives the probabilities). */
const float *hpt_mlp_activation(const hpt_mlp_t *m, int l);

/* Floating-point operations for one training sample (forward + backward,
 * counting a multiply-add as 2), for throughput figures. */
double hpt_mlp_flops_per_sample(const hpt_mlp_t *m);

/* Element-wise activation and its derivative, exposed for tests.
 * act_derivative takes the pre-activation z and the activation value a.
 * softmax is row-wise, not element-wise; for it these give the one-unit
 * layer's values, 1 and 0 (the MLP itself normalises over each row). */
float hpt_act_apply(hpt_act_t act, float z);
float hpt_act_derivative(hpt_act_t act, float z, float a);

#endif
