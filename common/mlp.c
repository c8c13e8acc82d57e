/*
 * mlp.c: the dense-layer MLP of mlp.h (forward, backward, step, init).
 *
 * Invariants:
 *   - Four arenas, allocated once in hpt_mlp_new (llm.c style): params and
 *     grads (same flat layout: per layer W then b, no padding, because the
 *     layout is part of the contract), the optimizer state (inside
 *     hpt_optim_t) and `acts`, which holds every per-batch buffer: the
 *     pre-activations, activations, dropout masks, the two backward delta
 *     buffers and the max-norm scratch, each padded to 64 bytes.  Forward,
 *     backward and step allocate nothing.
 *   - Every matrix product goes through hpt_blas_sgemm.  Element-wise work
 *     is done in plain loops over restrict pointers with the activation's
 *     switch outside the loop, so that gcc -O3 vectorises them: every
 *     backward (derivative times incoming delta times mask, one fused pass)
 *     but softplus', the relu/hard_sigmoid/softsign forwards, the masks, the
 *     bias gradient and max-norm.  The tanh/sigmoid/elu/selu/softplus
 *     forwards and softplus' call libm per element.
 *   - softmax is the one hidden activation that is not element-wise: it
 *     normalises each row (sample) over the layer's units, so its forward
 *     and backward take (rows, cols) and work row by row; its backward
 *     applies the dropout mask before the row's Jacobian, since the
 *     Jacobian mixes units.
 *   - Backward reads the input of the last forward through the pointer the
 *     forward was given (no copy: at batch 32 and 784 inputs a copy would
 *     cost a few percent of a step), so the caller's x must stay valid and
 *     unchanged until hpt_mlp_backward returns.  With input dropout the
 *     dropped copy lives in `acts` and x is not read again.
 *
 * Semantics (Keras 2 / tf.keras, documented where we choose):
 *   - Loss: categorical cross-entropy of the softmax, reported with Keras'
 *     clipping of the probability into [1e-7, 1 - 1e-7].  The gradient is
 *     the exact softmax-cross-entropy one, (p - onehot) / batch, which is
 *     what tf.keras computes too (it fuses softmax and the loss from logits).
 *   - Dropout is inverted: a unit is kept with probability 1 - rate and
 *     scaled by 1 / (1 - rate); none at evaluation.
 *   - Weight decay (hp->weight_decay = lambda > 0) with any optimizer but
 *     adamw is Keras' kernel_regularizer=l2(lambda) on every Dense layer,
 *     the softmax layer included: the loss gains lambda * sum(W^2) over the
 *     kernels (biases are not regularized, as Keras' bias_regularizer
 *     defaults to none), and each kernel's gradient gains 2 lambda W.  The
 *     penalty is part of the loss backward and loss return, as Keras
 *     reports it in `loss`.  With adamw the decay is decoupled instead and
 *     lives in the optimizer (optim.c); the model then adds nothing.
 *   - Max-norm is applied to the hidden layers' kernels only, as in the
 *     Keras blog model (Dense(units, kernel_constraint=maxnorm(c)) on the
 *     hidden layer, none on the softmax layer).  A column whose norm exceeds
 *     c is scaled by c / (1e-7 + norm) (Keras' MaxNorm); a column within the
 *     bound is left bit-for-bit unchanged, where Keras would multiply it by
 *     norm / (1e-7 + norm), a relative change of 1e-7 / norm (about one
 *     float ulp at norm 1, less above).
 */
#include "mlp.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "optim.h"

#define MAX_LAYERS (HPT_MAX_LAYERS + 1)  // hidden layers + the softmax layer
#define LOSS_EPS 1e-7                    // Keras' backend epsilon for the loss clip
#define MAXNORM_EPS 1e-7f                // Keras' MaxNorm epsilon
#define SELU_ALPHA 1.6732632423543772f
#define SELU_SCALE 1.0507009873554805f
#define TRUNC_STD_CORR 0.87962566103423978  // stddev of N(0,1) truncated to [-2, 2]

struct hpt_mlp {
    int n_layers;                  // hidden layers + 1
    int dims[MAX_LAYERS + 1];      // dims[0] = n_in, dims[l + 1] = fan_out of layer l
    int max_batch;                 // rows the activation buffers hold
    int batch;                     // rows of the last forward, 0 before any
    hpt_act_t act;                 // hidden-layer activation
    float in_rate;                 // input dropout rate, [0, 1)
    float hid_rate;                // hidden dropout rate, [0, 1)
    float max_norm;                // max-norm bound c, 0 = off
    float l2;                      // L2 coefficient lambda on every kernel, 0 = off (and
                                   // always 0 with adamw, whose decay is the optimizer's)
    bool hid_dropped;              // the last forward applied hidden dropout

    hpt_optim_t *opt;              // owns the optimizer-state arena
    float *params;                 // (n_params) arena: per layer W then b
    float *grads;                  // (n_params) arena, same layout
    float *acts;                   // (n_acts) arena of per-batch buffers
    size_t n_params;

    // Views into params / grads.
    float *W[MAX_LAYERS];          // (fan_in, fan_out) row-major
    float *b[MAX_LAYERS];          // (fan_out)
    float *dW[MAX_LAYERS];         // (fan_in, fan_out)
    float *db[MAX_LAYERS];         // (fan_out)

    // Views into acts.
    float *z[MAX_LAYERS];          // (max_batch, fan_out) pre-activation (logits for the last)
    float *h[MAX_LAYERS];          // (max_batch, fan_out) activation before dropout;
                                   // softmax probabilities for the last layer
    float *a[MAX_LAYERS];          // (max_batch, fan_out) after dropout; == h when no dropout
    float *mask[MAX_LAYERS];       // (max_batch, fan_out) 0 or 1/(1-rate); NULL w/o dropout
    float *x_drop;                 // (max_batch, n_in) input after dropout; NULL w/o it
    float *mask_in;                // (max_batch, n_in) input mask; NULL w/o input dropout
    float *delta[2];               // (max_batch, max fan_out) backward ping-pong buffers
    float *col;                    // (max fan_out) max-norm column scratch

    // The last forward's layer inputs: in[0] is x or x_drop (borrowed or in
    // acts), in[l + 1] is layer l's output as fed forward (a or h).
    const float *in[MAX_LAYERS + 1];
};

// --- activations (one definition each, shared by the public scalar API and
// --- the vectorisable loops below)

static inline float f_relu(float z) { return z < 0.0f ? 0.0f : z; }  // NaN passes
static inline float f_tanh(float z) { return tanhf(z); }
static inline float f_sigmoid(float z) { return 1.0f / (1.0f + expf(-z)); }
static inline float f_hard_sigmoid(float z)
{
    float v = 0.2f * z + 0.5f;
    v = v < 0.0f ? 0.0f : v;
    return v > 1.0f ? 1.0f : v;
}
static inline float f_elu(float z) { return z > 0.0f ? z : expm1f(z); }
static inline float f_selu(float z)
{
    return z > 0.0f ? SELU_SCALE * z : SELU_SCALE * SELU_ALPHA * expm1f(z);
}
/* log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z and no
 * cancellation for very negative z. */
static inline float f_softplus(float z)
{
    return (z > 0.0f ? z : 0.0f) + log1pf(expf(-fabsf(z)));
}
static inline float f_softsign(float z) { return z / (1.0f + fabsf(z)); }

/* Numerically stable row-wise softmax of z (rows, cols) into p: the row max
 * is subtracted first, so expf never overflows and the largest term is 1
 * (the sum is >= 1, no division by an underflowed 0).  Used by the output
 * layer and by softmax hidden layers. */
static void softmax(const float *restrict z, float *restrict p, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++) {
        const float *restrict zr = z + r * cols;
        float *restrict pr = p + r * cols;
        float mx = zr[0];
        for (size_t j = 1; j < cols; j++)
            mx = zr[j] > mx ? zr[j] : mx;
        float s = 0.0f;
        for (size_t j = 0; j < cols; j++) {
            pr[j] = expf(zr[j] - mx);
            s += pr[j];
        }
        float inv = 1.0f / s;
        for (size_t j = 0; j < cols; j++)
            pr[j] *= inv;
    }
}

/* Backward of a softmax hidden layer, in place on d (rows, cols), s being
 * the layer's softmax output.  Per row, with g = d * mask = dLoss/ds (the
 * mask factor only when mask is not NULL):
 *     dLoss/dz_i = s_i * (g_i - sum_j g_j s_j),
 * the product with the full Jacobian diag(s) - s s^T in O(cols), not
 * O(cols^2).  The dot is accumulated in float over one row, as the forward's
 * sum is. */
static void softmax_backward(float *restrict d, const float *restrict s,
                             const float *restrict mask, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++) {
        float *restrict dr = d + r * cols;
        const float *restrict sr = s + r * cols;
        if (mask) {
            const float *restrict mr = mask + r * cols;
            for (size_t j = 0; j < cols; j++)
                dr[j] *= mr[j];
        }
        float dot = 0.0f;
        for (size_t j = 0; j < cols; j++)
            dot += dr[j] * sr[j];
        for (size_t j = 0; j < cols; j++)
            dr[j] = sr[j] * (dr[j] - dot);
    }
}

/* select_f(c, a, b) = c ? a : b as a bit-blend of two computed values.
 * Why not the ternary: under the default -ftrapping-math gcc rewrites
 * `d * (z > 0 ? 1 : h + 1)` into a branch around the multiply, then refuses
 * to if-convert a possibly trapping float op, and the whole backward loop
 * stays scalar.  The blend has no branch to sink into and vectorises
 * (pand/pandn/por). */
static inline float select_f(bool c, float a, float b)
{
    uint32_t ua, ub, m = -(uint32_t)c;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    uint32_t r = (ua & m) | (ub & ~m);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

/* Derivatives d act / d z, from the pre-activation z and the value h = act(z)
 * whichever is cheaper.  At z = 0 relu, elu and selu take the left branch
 * as TF's gradients do (relu' = 0, the exponential branch for elu/selu);
 * hard_sigmoid' is 0 at its corners +-2.5. */
static inline float d_relu(float z, float h)
{
    (void)h;
    return select_f(z > 0.0f, 1.0f, 0.0f);
}
static inline float d_tanh(float z, float h) { (void)z; return 1.0f - h * h; }
static inline float d_sigmoid(float z, float h) { (void)z; return h * (1.0f - h); }
static inline float d_hard_sigmoid(float z, float h)
{
    (void)h;
    return select_f((z > -2.5f) & (z < 2.5f), 0.2f, 0.0f);  // & : no branch
}
static inline float d_elu(float z, float h) { return select_f(z > 0.0f, 1.0f, h + 1.0f); }
static inline float d_selu(float z, float h)
{
    return select_f(z > 0.0f, SELU_SCALE, h + SELU_SCALE * SELU_ALPHA);
}
static inline float d_softplus(float z, float h) { (void)h; return f_sigmoid(z); }
static inline float d_softsign(float z, float h)
{
    (void)h;
    float d = 1.0f + fabsf(z);
    return 1.0f / (d * d);
}

/* The scalar forms see a single value, that is a one-unit layer, where
 * softmax is the constant 1 with derivative 0. */
float hpt_act_apply(hpt_act_t act, float z)
{
    switch (act) {
    case HPT_ACT_RELU: return f_relu(z);
    case HPT_ACT_TANH: return f_tanh(z);
    case HPT_ACT_SIGMOID: return f_sigmoid(z);
    case HPT_ACT_HARD_SIGMOID: return f_hard_sigmoid(z);
    case HPT_ACT_ELU: return f_elu(z);
    case HPT_ACT_SELU: return f_selu(z);
    case HPT_ACT_SOFTPLUS: return f_softplus(z);
    case HPT_ACT_SOFTSIGN: return f_softsign(z);
    case HPT_ACT_SOFTMAX: return 1.0f;
    default: return z;
    }
}

float hpt_act_derivative(hpt_act_t act, float z, float a)
{
    switch (act) {
    case HPT_ACT_RELU: return d_relu(z, a);
    case HPT_ACT_TANH: return d_tanh(z, a);
    case HPT_ACT_SIGMOID: return d_sigmoid(z, a);
    case HPT_ACT_HARD_SIGMOID: return d_hard_sigmoid(z, a);
    case HPT_ACT_ELU: return d_elu(z, a);
    case HPT_ACT_SELU: return d_selu(z, a);
    case HPT_ACT_SOFTPLUS: return d_softplus(z, a);
    case HPT_ACT_SOFTSIGN: return d_softsign(z, a);
    case HPT_ACT_SOFTMAX: return 0.0f;
    default: return 1.0f;
    }
}

/* h = act(z) for a (rows, cols) batch: element-wise, or row-wise for softmax. */
static void act_forward(hpt_act_t act, const float *restrict z, float *restrict h, size_t rows,
                        size_t cols)
{
    const size_t n = rows * cols;
#define FWD(F)                                                                                    \
    do {                                                                                          \
        for (size_t i = 0; i < n; i++)                                                            \
            h[i] = F(z[i]);                                                                       \
    } while (0)
    switch (act) {
    case HPT_ACT_RELU: FWD(f_relu); break;
    case HPT_ACT_TANH: FWD(f_tanh); break;
    case HPT_ACT_SIGMOID: FWD(f_sigmoid); break;
    case HPT_ACT_HARD_SIGMOID: FWD(f_hard_sigmoid); break;
    case HPT_ACT_ELU: FWD(f_elu); break;
    case HPT_ACT_SELU: FWD(f_selu); break;
    case HPT_ACT_SOFTPLUS: FWD(f_softplus); break;
    case HPT_ACT_SOFTSIGN: FWD(f_softsign); break;
    case HPT_ACT_SOFTMAX: softmax(z, h, rows, cols); break;
    default: memcpy(h, z, n * sizeof *h); break;
    }
#undef FWD
}

/* The hidden layer's backward in one pass, in place on d (rows, cols):
 * d[i] = d[i] * mask[i] * act'(z[i], h[i]), the mask factor only when
 * mask is not NULL (d holds dLoss/d a on entry and dLoss/d z on return);
 * softmax goes through its row Jacobian instead (softmax_backward). */
static void act_backward(hpt_act_t act, float *restrict d, const float *restrict z,
                         const float *restrict h, const float *restrict mask, size_t rows,
                         size_t cols)
{
    const size_t n = rows * cols;
#define BWD(D)                                                                                    \
    do {                                                                                          \
        if (mask) {                                                                               \
            for (size_t i = 0; i < n; i++)                                                        \
                d[i] = d[i] * mask[i] * D(z[i], h[i]);                                            \
        } else {                                                                                  \
            for (size_t i = 0; i < n; i++)                                                        \
                d[i] = d[i] * D(z[i], h[i]);                                                      \
        }                                                                                         \
    } while (0)
    switch (act) {
    case HPT_ACT_RELU: BWD(d_relu); break;
    case HPT_ACT_TANH: BWD(d_tanh); break;
    case HPT_ACT_SIGMOID: BWD(d_sigmoid); break;
    case HPT_ACT_HARD_SIGMOID: BWD(d_hard_sigmoid); break;
    case HPT_ACT_ELU: BWD(d_elu); break;
    case HPT_ACT_SELU: BWD(d_selu); break;
    case HPT_ACT_SOFTPLUS: BWD(d_softplus); break;
    case HPT_ACT_SOFTSIGN: BWD(d_softsign); break;
    case HPT_ACT_SOFTMAX: softmax_backward(d, h, mask, rows, cols); break;
    default:
        if (mask)
            for (size_t i = 0; i < n; i++)
                d[i] *= mask[i];
        break;
    }
#undef BWD
}

// --- small kernels

/* Draw an inverted-dropout mask: each entry is 1/(1-rate) with probability
 * 1-rate, else 0.  Each hpt_rng_u64 call is cut into three 21-bit uniforms
 * (the ** scrambler's low bits are as good as its high ones): a third of
 * the calls of one-draw-per-element, with the keep probability quantised to
 * 2^-21 (Keras' float32 uniform has 2^-24).  The select is a bit-blend so
 * that a 20% drop rate costs no branch mispredictions. */
#define MASK_BITS 21
static void draw_mask(hpt_rng_t *rng, float *restrict mask, size_t n, float rate)
{
    const uint32_t one = 1u << MASK_BITS, low = one - 1;
    const double keep = 1.0 - (double)rate;
    const uint32_t thr = (uint32_t)lround(keep * one);  // keep iff chunk < thr
    const float scale = 1.0f / (1.0f - rate);
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint64_t r = hpt_rng_u64(rng);
        mask[i] = select_f((uint32_t)(r & low) < thr, scale, 0.0f);
        mask[i + 1] = select_f((uint32_t)((r >> MASK_BITS) & low) < thr, scale, 0.0f);
        mask[i + 2] = select_f((uint32_t)((r >> (2 * MASK_BITS)) & low) < thr, scale, 0.0f);
    }
    if (i < n) {
        uint64_t r = hpt_rng_u64(rng);
        for (; i < n; i++, r >>= MASK_BITS)
            mask[i] = select_f((uint32_t)(r & low) < thr, scale, 0.0f);
    }
}

static void mul(float *restrict out, const float *restrict x, const float *restrict mask,
                size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] * mask[i];
}

/* -log of the true class's probability, clipped as Keras does. */
static double xent(const float *p, uint8_t y)
{
    double py = p[y];
    if (py < LOSS_EPS)
        py = LOSS_EPS;
    if (py > 1.0 - LOSS_EPS)
        py = 1.0 - LOSS_EPS;
    return -log(py);
}

// --- lifecycle

static void fill_uniform(float *w, size_t n, double limit, hpt_rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((2.0 * hpt_rng_uniform(rng) - 1.0) * limit);
}

/* Keras VarianceScaling(distribution="truncated_normal"): a N(0, 1) cut at
 * +-2 has variance 0.8796^2, so the stddev is divided by that to make the
 * kernel's variance exactly scale / n. */
static void fill_truncated(float *w, size_t n, double variance, hpt_rng_t *rng)
{
    double sd = sqrt(variance) / TRUNC_STD_CORR;
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(hpt_rng_truncated_normal(rng) * sd);
}

static void init_kernel(float *W, int fan_in, int fan_out, hpt_init_t mode, hpt_rng_t *rng)
{
    size_t n = (size_t)fan_in * (size_t)fan_out;
    double fi = fan_in, fo = fan_out;
    switch (mode) {
    case HPT_INIT_UNIFORM: fill_uniform(W, n, 0.05, rng); break;
    case HPT_INIT_LECUN_UNIFORM: fill_uniform(W, n, sqrt(3.0 / fi), rng); break;
    case HPT_INIT_GLOROT_UNIFORM: fill_uniform(W, n, sqrt(6.0 / (fi + fo)), rng); break;
    case HPT_INIT_HE_UNIFORM: fill_uniform(W, n, sqrt(6.0 / fi), rng); break;
    case HPT_INIT_NORMAL:
        for (size_t i = 0; i < n; i++)
            W[i] = (float)(0.05 * hpt_rng_normal(rng));
        break;
    case HPT_INIT_GLOROT_NORMAL: fill_truncated(W, n, 2.0 / (fi + fo), rng); break;
    case HPT_INIT_HE_NORMAL: fill_truncated(W, n, 2.0 / fi, rng); break;
    default: memset(W, 0, n * sizeof *W); break;  // HPT_INIT_ZERO
    }
}

static int validate(const hpt_hparams_t *hp, int n_in, int n_out, int max_batch,
                    hpt_rng_t *rng, hpt_err *err)
{
    if (!hp)
        return hpt_err_set(err, -EINVAL, "mlp: no hyperparameters");
    if (!rng)
        return hpt_err_set(err, -EINVAL, "mlp: no rng for the initialiser");
    if (n_in < 1)
        return hpt_err_set(err, -EINVAL, "mlp: n_in %d must be >= 1", n_in);
    if (n_out < 1 || n_out > 256)
        return hpt_err_set(err, -EINVAL, "mlp: n_out %d is out of range (1..256, labels are "
                                         "bytes)", n_out);
    if (max_batch < 1 || max_batch > HPT_MAX_BATCH)
        return hpt_err_set(err, -EINVAL, "mlp: max_batch %d is out of range (1..%d)",
                           max_batch, HPT_MAX_BATCH);
    if (hp->layers < 1 || hp->layers > HPT_MAX_LAYERS)
        return hpt_err_set(err, -EINVAL, "mlp: layers %d is out of range (1..%d)", hp->layers,
                           HPT_MAX_LAYERS);
    for (int l = 0; l < hp->layers; l++)
        if (hp->units[l] < 1 || hp->units[l] > HPT_MAX_UNITS)
            return hpt_err_set(err, -EINVAL, "mlp: units[%d] = %d is out of range (1..%d)", l,
                               hp->units[l], HPT_MAX_UNITS);
    if ((int)hp->activation < 0 || hp->activation >= HPT_ACT__COUNT)
        return hpt_err_set(err, -EINVAL, "mlp: unknown activation %d", (int)hp->activation);
    if ((int)hp->init_mode < 0 || hp->init_mode >= HPT_INIT__COUNT)
        return hpt_err_set(err, -EINVAL, "mlp: unknown init_mode %d", (int)hp->init_mode);
    if ((int)hp->optimizer < 0 || hp->optimizer >= HPT_OPT__COUNT)
        return hpt_err_set(err, -EINVAL, "mlp: unknown optimizer %d", (int)hp->optimizer);
    if (!(hp->dropout >= 0.0 && hp->dropout < 1.0))
        return hpt_err_set(err, -EINVAL, "mlp: dropout %g is out of range [0, 1)", hp->dropout);
    if (!(hp->input_dropout >= 0.0 && hp->input_dropout < 1.0))
        return hpt_err_set(err, -EINVAL, "mlp: input_dropout %g is out of range [0, 1)",
                           hp->input_dropout);
    if (!(hp->weight_constraint >= 0.0 && isfinite(hp->weight_constraint)))
        return hpt_err_set(err, -EINVAL, "mlp: weight_constraint %g must be >= 0",
                           hp->weight_constraint);
    if (!(hp->weight_decay >= 0.0 && hp->weight_decay <= HPT_MAX_WEIGHT_DECAY))
        return hpt_err_set(err, -EINVAL, "mlp: weight_decay %g is out of range [0, %g]",
                           hp->weight_decay, HPT_MAX_WEIGHT_DECAY);
    return 0;
}

/* Round a float count up to a 64-byte boundary. */
static size_t pad16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

int hpt_mlp_new(hpt_mlp_t **out, const hpt_hparams_t *hp, int n_in, int n_out, int max_batch,
                hpt_rng_t *rng, hpt_err *err)
{
    hpt_mlp_t *m = NULL;
    int rc = validate(hp, n_in, n_out, max_batch, rng, err);
    if (rc < 0)
        goto out;

    m = calloc(1, sizeof *m);
    if (!m) {
        rc = hpt_err_set(err, -ENOMEM, "mlp: out of memory");
        goto out;
    }
    const int L = hp->layers + 1;
    m->n_layers = L;
    m->max_batch = max_batch;
    m->act = hp->activation;
    m->in_rate = (float)hp->input_dropout;
    m->hid_rate = (float)hp->dropout;
    m->max_norm = (float)hp->weight_constraint;
    m->l2 = hp->optimizer == HPT_OPT_ADAMW ? 0.0f : (float)hp->weight_decay;
    m->dims[0] = n_in;
    for (int l = 0; l < hp->layers; l++)
        m->dims[l + 1] = hp->units[l];
    m->dims[L] = n_out;

    // Size tables.  Every count fits size_t easily: at most 9 layers of
    // 65536 x 65536 floats times max_batch 65536.
    size_t n_params = 0, n_acts = 0, widest = 0;
    const size_t B = (size_t)max_batch;
    for (int l = 0; l < L; l++) {
        size_t fi = (size_t)m->dims[l], fo = (size_t)m->dims[l + 1];
        n_params += fi * fo + fo;
        widest = fo > widest ? fo : widest;
        size_t per = pad16(B * fo);
        n_acts += 2 * per;                              // z, h
        if (l < L - 1 && m->hid_rate > 0)
            n_acts += 2 * per;                          // a, mask
    }
    if (m->in_rate > 0)
        n_acts += 2 * pad16(B * (size_t)n_in);          // x_drop, mask_in
    n_acts += 2 * pad16(B * widest) + pad16(widest);    // delta[2], col
    m->n_params = n_params;

    m->params = calloc(n_params, sizeof(float));
    m->grads = calloc(n_params, sizeof(float));
    m->acts = aligned_alloc(64, n_acts * sizeof(float));  // n_acts is a multiple of 16
    if (!m->params || !m->grads || !m->acts) {
        rc = hpt_err_set(err, -ENOMEM, "mlp: out of memory (%zu parameters, %zu buffer floats)",
                         n_params, n_acts);
        goto out;
    }
    memset(m->acts, 0, n_acts * sizeof(float));
    rc = hpt_optim_new(&m->opt, hp, n_params);
    if (rc < 0) {
        hpt_err_set(err, rc, "mlp: cannot create the optimizer state");
        goto out;
    }

    // Carve the views.
    float *pp = m->params, *gp = m->grads, *ap = m->acts;
    for (int l = 0; l < L; l++) {
        size_t fi = (size_t)m->dims[l], fo = (size_t)m->dims[l + 1];
        m->W[l] = pp;
        m->b[l] = pp + fi * fo;
        pp += fi * fo + fo;
        m->dW[l] = gp;
        m->db[l] = gp + fi * fo;
        gp += fi * fo + fo;
        size_t per = pad16(B * fo);
        m->z[l] = ap;
        m->h[l] = ap + per;
        ap += 2 * per;
        m->a[l] = m->h[l];
        if (l < L - 1 && m->hid_rate > 0) {
            m->a[l] = ap;
            m->mask[l] = ap + per;
            ap += 2 * per;
            // Keep-everything masks, so TRAIN_FIXED before any TRAIN acts as EVAL.
            for (size_t i = 0; i < B * fo; i++)
                m->mask[l][i] = 1.0f;
        }
    }
    if (m->in_rate > 0) {
        size_t per = pad16(B * (size_t)n_in);
        m->x_drop = ap;
        m->mask_in = ap + per;
        ap += 2 * per;
        for (size_t i = 0; i < B * (size_t)n_in; i++)
            m->mask_in[i] = 1.0f;
    }
    m->delta[0] = ap;
    m->delta[1] = ap + pad16(B * widest);
    m->col = ap + 2 * pad16(B * widest);
    assert(m->col + pad16(widest) == m->acts + n_acts);

    for (int l = 0; l < L; l++)
        init_kernel(m->W[l], m->dims[l], m->dims[l + 1], hp->init_mode, rng);

out:
    if (rc < 0)
        hpt_mlp_destroy(&m);
    else
        *out = m;
    return rc;
}

void hpt_mlp_destroy(hpt_mlp_t **p)
{
    if (!p || !*p)
        return;
    hpt_mlp_t *m = *p;
    hpt_optim_destroy(&m->opt);
    free(m->params);
    free(m->grads);
    free(m->acts);
    free(m);
    *p = NULL;
}

// --- forward / backward

/* z[0] = x @ W[0] + b[0] starts with the bias broadcast into z[0]. */
static void bias_rows(float *restrict z, const float *restrict b, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++)
        memcpy(z + r * cols, b, cols * sizeof *z);
}

/* The forward pass; when z0_done the first layer's pre-activation z[0] is
 * already x @ W[0] + b[0] (a fused group computed it). */
static const float *forward(hpt_mlp_t *m, const float *x, int batch, hpt_mlp_mode_t mode,
                            hpt_rng_t *rng, bool z0_done)
{
    const bool train = mode != HPT_MLP_EVAL;
    const bool fresh = mode == HPT_MLP_TRAIN;
    assert(!fresh || rng || (m->in_rate == 0 && m->hid_rate == 0));
    const int L = m->n_layers;
    const size_t B = (size_t)batch;

    const float *in = x;
    if (train && m->in_rate > 0) {
        size_t n = B * (size_t)m->dims[0];
        if (fresh)
            draw_mask(rng, m->mask_in, n, m->in_rate);
        mul(m->x_drop, x, m->mask_in, n);
        in = m->x_drop;
    }
    m->in[0] = in;

    for (int l = 0; l < L; l++) {
        const int fi = m->dims[l], fo = m->dims[l + 1];
        float *z = m->z[l];
        // z = in @ W + b: broadcast the bias into z, then accumulate with beta = 1.
        if (l > 0 || !z0_done) {
            bias_rows(z, m->b[l], B, (size_t)fo);
            hpt_blas_sgemm(false, false, batch, fo, fi, 1.0f, in, m->W[l], 1.0f, z);
        }

        if (l == L - 1) {
            softmax(z, m->h[l], B, (size_t)fo);
            m->in[l + 1] = m->h[l];
            break;
        }
        const size_t n = B * (size_t)fo;
        act_forward(m->act, z, m->h[l], B, (size_t)fo);
        if (train && m->hid_rate > 0) {
            if (fresh)
                draw_mask(rng, m->mask[l], n, m->hid_rate);
            mul(m->a[l], m->h[l], m->mask[l], n);
            in = m->a[l];
        } else {
            in = m->h[l];
        }
        m->in[l + 1] = in;
    }
    m->batch = batch;
    m->hid_dropped = train && m->hid_rate > 0;
    return m->h[L - 1];
}

const float *hpt_mlp_forward(hpt_mlp_t *m, const float *x, int batch, hpt_mlp_mode_t mode,
                             hpt_rng_t *rng)
{
    if (batch < 1 || batch > m->max_batch)
        return NULL;
    return forward(m, x, batch, mode, rng, false);
}

/* sum(W^2) over n weights.  Sixteen float lanes, each summing every
 * sixteenth weight, let gcc vectorise the loop (a single running sum is a
 * serial dependency it may not reorder); the lanes are added in double.
 * Each lane sums at most n/16 squares, so float keeps ~1e-6 relative. */
static double sum_sq(const float *restrict W, size_t n)
{
    enum { LANES = 16 };
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++)
            acc[k] += W[i + k] * W[i + k];
    double s = 0.0;
    for (; i < n; i++)
        s += (double)W[i] * W[i];
    for (int k = 0; k < LANES; k++)
        s += acc[k];
    return s;
}

/* lambda * sum(W^2) over every kernel: the L2 term of the loss (0 when off). */
static double l2_penalty(const hpt_mlp_t *m)
{
    if (!(m->l2 > 0.0f))
        return 0.0;
    double s = 0.0;
    for (int l = 0; l < m->n_layers; l++)
        s += sum_sq(m->W[l], (size_t)m->dims[l] * (size_t)m->dims[l + 1]);
    return (double)m->l2 * s;
}

float hpt_mlp_loss(const hpt_mlp_t *m, const uint8_t *labels)
{
    const int no = m->dims[m->n_layers];
    const float *p = m->h[m->n_layers - 1];
    double loss = 0.0;
    for (int r = 0; r < m->batch; r++) {
        assert(labels[r] < no);
        loss += xent(p + (size_t)r * no, labels[r]);
    }
    return m->batch > 0 ? (float)(loss / m->batch + l2_penalty(m)) : 0.0f;
}

/* The first layer's bias gradient and L2 term, once dW[0] = in^T @ d is in
 * place; d is the first layer's delta (batch, fan_out).  The same code as
 * every other layer's in backward(). */
static void finish_layer(hpt_mlp_t *m, int l, const float *d)
{
    const int fi = m->dims[l], fo = m->dims[l + 1], B = m->batch;
    if (m->l2 > 0.0f) {
        const float two_l2 = 2.0f * m->l2;
        float *restrict dW = m->dW[l];
        const float *restrict W = m->W[l];
        const size_t nw = (size_t)fi * (size_t)fo;
        for (size_t i = 0; i < nw; i++)
            dW[i] += two_l2 * W[i];
    }
    // db = column sums of d
    float *restrict db = m->db[l];
    memset(db, 0, (size_t)fo * sizeof *db);
    for (int r = 0; r < B; r++) {
        const float *restrict dr = d + (size_t)r * fo;
        for (int j = 0; j < fo; j++)
            db[j] += dr[j];
    }
}

/* Backpropagation; when defer_dW0 the first layer's weight-gradient product
 * and finish_layer are left to the caller (a fused group), and *d0 returns
 * the first layer's delta they need. */
static float backward(hpt_mlp_t *m, const uint8_t *labels, bool defer_dW0, const float **d0)
{
    const int L = m->n_layers, B = m->batch, no = m->dims[L];
    assert(B > 0);
    const float inv = 1.0f / (float)B;
    const float *p = m->h[L - 1];

    // dLoss/dlogits of the mean loss: (p - onehot) / batch.
    float *d = m->delta[0];
    double loss = 0.0;
    for (int r = 0; r < B; r++) {
        const float *pr = p + (size_t)r * no;
        float *dr = d + (size_t)r * no;
        uint8_t y = labels[r];
        assert(y < no);
        loss += xent(pr, y);
        for (int j = 0; j < no; j++)
            dr[j] = pr[j] * inv;
        dr[y] -= inv;
    }

    int cur = 0;
    for (int l = L - 1; l >= 0; l--) {
        const int fi = m->dims[l], fo = m->dims[l + 1];
        if (l == 0 && defer_dW0) {
            *d0 = d;
            break;
        }
        // dW = in^T @ d  (fan_in, fan_out), plus L2's 2 lambda W when on, and db.
        hpt_blas_sgemm(true, false, fi, fo, B, 1.0f, m->in[l], d, 0.0f, m->dW[l]);
        finish_layer(m, l, d);
        if (l == 0)
            break;  // the input needs no gradient
        // d_prev = d @ W^T  (batch, fan_in), then through dropout and the activation.
        float *dp = m->delta[cur ^ 1];
        hpt_blas_sgemm(false, true, B, fi, fo, 1.0f, d, m->W[l], 0.0f, dp);
        act_backward(m->act, dp, m->z[l - 1], m->h[l - 1], m->hid_dropped ? m->mask[l - 1] : NULL,
                     (size_t)B, (size_t)fi);
        d = dp;
        cur ^= 1;
    }
    return (float)(loss / B + l2_penalty(m));
}

float hpt_mlp_backward(hpt_mlp_t *m, const uint8_t *labels)
{
    return backward(m, labels, false, NULL);
}

// --- horizontally fused groups

/* Whether member m of a group on input x can join the fused first-layer
 * forward: it reads x itself (no input dropout in this mode), has x's width,
 * and the narrow forward kernel would take its product alone. */
static bool fuse_fwd_ok(const hpt_mlp_t *m, int n_in, int batch, hpt_mlp_mode_t mode)
{
    return m->dims[0] == n_in && (mode == HPT_MLP_EVAL || !(m->in_rate > 0)) &&
           batch <= m->max_batch && hpt_blas_fused_ok(1, batch, m->dims[1], n_in);
}

int hpt_mlp_forward_group(hpt_mlp_t *const *ms, int n, const float *x, int batch,
                          hpt_mlp_mode_t mode, hpt_rng_t *const *rngs)
{
    if (n < 1 || n > HPT_MLP_GROUP_MAX || !x)
        return -EINVAL;
    for (int i = 0; i < n; i++)
        if (batch < 1 || batch > ms[i]->max_batch)
            return -EINVAL;
    const int n_in = ms[0]->dims[0];
    hpt_blas_member_t mem[HPT_MLP_GROUP_MAX];
    bool fused[HPT_MLP_GROUP_MAX];
    int nf = 0;
    for (int i = 0; i < n; i++)
        nf += fused[i] = fuse_fwd_ok(ms[i], n_in, batch, mode);
    if (nf < 2) {  // nothing to share: a lone member takes the single-member kernel
        memset(fused, 0, sizeof fused);
        nf = 0;
    }
    for (int i = 0, j = 0; i < n && nf > 0; i++) {
        hpt_mlp_t *m = ms[i];
        if (!fused[i])
            continue;
        bias_rows(m->z[0], m->b[0], (size_t)batch, (size_t)m->dims[1]);
        mem[j++] = (hpt_blas_member_t){.B = m->W[0], .C = m->z[0], .N = m->dims[1]};
    }
    if (nf > 0 && hpt_blas_fused_fwd(batch, n_in, x, mem, nf, true) < 0)
        return -EINVAL;  // not reached: every member passed hpt_blas_fused_ok
    for (int i = 0; i < n; i++)
        forward(ms[i], x, batch, mode, rngs ? rngs[i] : NULL, fused[i]);
    return nf;
}

int hpt_mlp_backward_group(hpt_mlp_t *const *ms, int n, const uint8_t *labels, float *losses)
{
    if (n < 1 || n > HPT_MLP_GROUP_MAX)
        return -EINVAL;
    const float *x = ms[0]->in[0];
    const int n_in = ms[0]->dims[0];
    hpt_blas_member_t mem[HPT_MLP_GROUP_MAX];
    const float *d0[HPT_MLP_GROUP_MAX];
    bool fused[HPT_MLP_GROUP_MAX];
    int nf = 0;
    for (int i = 0; i < n; i++) {
        hpt_mlp_t *m = ms[i];
        assert(m->batch > 0);
        fused[i] = m->in[0] == x && m->dims[0] == n_in && m->batch == ms[0]->batch &&
                   hpt_blas_fused_ok(2, n_in, m->dims[1], m->batch);
        nf += fused[i];
    }
    if (nf < 2)  // nothing to share: a lone member takes the single-member kernel
        memset(fused, 0, sizeof fused);
    nf = 0;
    for (int i = 0; i < n; i++) {
        hpt_mlp_t *m = ms[i];
        d0[i] = NULL;
        float loss = backward(m, labels, fused[i], &d0[i]);
        if (losses)
            losses[i] = loss;
        if (fused[i])
            mem[nf++] = (hpt_blas_member_t){.B = d0[i], .C = m->dW[0], .N = m->dims[1]};
    }
    if (nf > 0 && hpt_blas_fused_wgrad(n_in, ms[0]->batch, x, mem, nf) < 0)
        return -EINVAL;  // not reached: every member passed hpt_blas_fused_ok
    for (int i = 0; i < n; i++)
        if (fused[i])
            finish_layer(ms[i], 0, d0[i]);
    return nf;
}

// --- update

void hpt_mlp_apply_max_norm(hpt_mlp_t *m)
{
    const float c = m->max_norm;
    if (!(c > 0.0f))
        return;
    // Hidden layers only; see the file comment.
    for (int l = 0; l < m->n_layers - 1; l++) {
        const int fi = m->dims[l], fo = m->dims[l + 1];
        float *restrict W = m->W[l];
        float *restrict col = m->col;
        // Squared column norms, accumulated row by row so the inner loop is
        // contiguous.
        memset(col, 0, (size_t)fo * sizeof *col);
        for (int r = 0; r < fi; r++) {
            const float *restrict wr = W + (size_t)r * fo;
            for (int j = 0; j < fo; j++)
                col[j] += wr[j] * wr[j];
        }
        bool any = false;
        for (int j = 0; j < fo; j++) {
            float norm = sqrtf(col[j]);
            if (norm > c) {
                col[j] = c / (MAXNORM_EPS + norm);
                any = true;
            } else {
                col[j] = 1.0f;  // exact: such columns are left unchanged
            }
        }
        if (!any)
            continue;
        for (int r = 0; r < fi; r++) {
            float *restrict wr = W + (size_t)r * fo;
            for (int j = 0; j < fo; j++)
                wr[j] *= col[j];
        }
    }
}

void hpt_mlp_step(hpt_mlp_t *m)
{
    hpt_optim_step(m->opt, m->params, m->grads);
    hpt_mlp_apply_max_norm(m);
}

// --- accessors

float *hpt_mlp_params(hpt_mlp_t *m, size_t *n)
{
    if (n)
        *n = m->n_params;
    return m->params;
}

float *hpt_mlp_grads(hpt_mlp_t *m, size_t *n)
{
    if (n)
        *n = m->n_params;
    return m->grads;
}

int hpt_mlp_n_layers(const hpt_mlp_t *m)
{
    return m->n_layers;
}

void hpt_mlp_layer(hpt_mlp_t *m, int l, float **W, float **b, int *fan_in, int *fan_out)
{
    bool ok = l >= 0 && l < m->n_layers;
    assert(ok);
    if (W)
        *W = ok ? m->W[l] : NULL;
    if (b)
        *b = ok ? m->b[l] : NULL;
    if (fan_in)
        *fan_in = ok ? m->dims[l] : 0;
    if (fan_out)
        *fan_out = ok ? m->dims[l + 1] : 0;
}

const float *hpt_mlp_activation(const hpt_mlp_t *m, int l)
{
    if (l < 0 || l >= m->n_layers || m->batch == 0)
        return NULL;
    return m->in[l + 1];
}

double hpt_mlp_flops_per_sample(const hpt_mlp_t *m)
{
    double f = 0.0;
    for (int l = 0; l < m->n_layers; l++) {
        double mac = (double)m->dims[l] * (double)m->dims[l + 1];
        f += 2.0 * mac;        // forward z = a_prev @ W
        f += 2.0 * mac;        // dW = a_prev^T @ dz
        if (l > 0)
            f += 2.0 * mac;    // da_prev = dz @ W^T (not for the input)
    }
    return f;
}
