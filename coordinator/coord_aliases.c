/*
 * coord_aliases.c: the alias table of coord_aliases.h.
 *
 * Each row maps a name configs use to hptune's.  A row is added when the
 * meaning carries over whole; a name whose meaning does not (a CNN's
 * `filters`, an optimizer hptune lacks) is left out, so it stays an error
 * with a suggestion rather than a silent approximation.  Where a mapping
 * picks one reading of a loose name (xavier: uniform or normal?), the note
 * says which, and docs/spec.md says why.
 */
#include "coord_aliases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAG_MOMENTUM 0.9  // "SGD with momentum" in the configs that name it: the usual 0.9

static const coord_alias_t table[] = {
    // --- parameter names
    {COORD_ALIAS_PARAM, "lr", "learning_rate", NULL, 0},
    {COORD_ALIAS_PARAM, "learningrate", "learning_rate", NULL, 0},
    {COORD_ALIAS_PARAM, "learning_rate_init", "learning_rate", "scikit-learn's name", 0},
    {COORD_ALIAS_PARAM, "learn_rate", "learning_rate", NULL, 0},
    {COORD_ALIAS_PARAM, "num_layers", "layers", "hidden layers", 0},
    {COORD_ALIAS_PARAM, "n_layers", "layers", "hidden layers", 0},
    {COORD_ALIAS_PARAM, "hidden_layers", "layers", "a count; a list of sizes is hidden_sizes", 0},
    {COORD_ALIAS_PARAM, "num_hidden_layers", "layers", NULL, 0},
    {COORD_ALIAS_PARAM, "n_hidden_layers", "layers", NULL, 0},
    {COORD_ALIAS_PARAM, "depth", "layers", "hidden layers", 0},
    {COORD_ALIAS_PARAM, "hidden_size", "units", "every hidden layer's width", 0},
    {COORD_ALIAS_PARAM, "hidden_units", "units", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_dim", "units", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_layer_size", "units", NULL, 0},
    {COORD_ALIAS_PARAM, "fc_layer_size", "units", "W&B's own example", 0},
    {COORD_ALIAS_PARAM, "layer_size", "units", NULL, 0},
    {COORD_ALIAS_PARAM, "num_units", "units", NULL, 0},
    {COORD_ALIAS_PARAM, "n_units", "units", NULL, 0},
    {COORD_ALIAS_PARAM, "units_per_layer", "units", NULL, 0},
    {COORD_ALIAS_PARAM, "neurons", "units", NULL, 0},
    {COORD_ALIAS_PARAM, "num_neurons", "units", NULL, 0},
    {COORD_ALIAS_PARAM, "layer_1_size", "units_1", "layer N's width; also hidden_layer_N_size", 0},
    {COORD_ALIAS_PARAM, "layer_2_size", "units_2", NULL, 0},
    {COORD_ALIAS_PARAM, "layer_3_size", "units_3", NULL, 0},
    {COORD_ALIAS_PARAM, "layer_4_size", "units_4", NULL, 0},
    {COORD_ALIAS_PARAM, "layer_5_size", "units_5", NULL, 0},
    {COORD_ALIAS_PARAM, "layer_6_size", "units_6", NULL, 0},
    {COORD_ALIAS_PARAM, "layer_7_size", "units_7", NULL, 0},
    {COORD_ALIAS_PARAM, "layer_8_size", "units_8", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_layer_1_size", "units_1", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_layer_2_size", "units_2", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_layer_3_size", "units_3", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_layer_4_size", "units_4", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_layer_5_size", "units_5", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_layer_6_size", "units_6", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_layer_7_size", "units_7", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_layer_8_size", "units_8", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_layer_sizes", "hidden_sizes", "scikit-learn's name", 0},
    {COORD_ALIAS_PARAM, "layer_sizes", "hidden_sizes", NULL, 0},
    {COORD_ALIAS_PARAM, "hidden_dims", "hidden_sizes", NULL, 0},
    {COORD_ALIAS_PARAM, "architecture", "hidden_sizes", NULL, 0},
    {COORD_ALIAS_PARAM, "weight_init", "init_mode", NULL, 0},
    {COORD_ALIAS_PARAM, "init", "init_mode", NULL, 0},
    {COORD_ALIAS_PARAM, "initializer", "init_mode", NULL, 0},
    {COORD_ALIAS_PARAM, "kernel_initializer", "init_mode", "Keras' name", 0},
    {COORD_ALIAS_PARAM, "weight_initializer", "init_mode", NULL, 0},
    {COORD_ALIAS_PARAM, "weight_initialization", "init_mode", NULL, 0},
    {COORD_ALIAS_PARAM, "init_method", "init_mode", NULL, 0},
    {COORD_ALIAS_PARAM, "wd", "weight_decay", NULL, 0},
    {COORD_ALIAS_PARAM, "l2", "weight_decay", NULL, 0},
    {COORD_ALIAS_PARAM, "l2_reg", "weight_decay", NULL, 0},
    {COORD_ALIAS_PARAM, "l2_lambda", "weight_decay", NULL, 0},
    {COORD_ALIAS_PARAM, "l2_regularization", "weight_decay", NULL, 0},
    {COORD_ALIAS_PARAM, "weight_decay_rate", "weight_decay", NULL, 0},
    {COORD_ALIAS_PARAM, "batch", "batch_size", NULL, 0},
    {COORD_ALIAS_PARAM, "bs", "batch_size", NULL, 0},
    {COORD_ALIAS_PARAM, "batchsize", "batch_size", NULL, 0},
    {COORD_ALIAS_PARAM, "mini_batch_size", "batch_size", NULL, 0},
    {COORD_ALIAS_PARAM, "minibatch_size", "batch_size", NULL, 0},
    {COORD_ALIAS_PARAM, "train_batch_size", "batch_size", NULL, 0},
    {COORD_ALIAS_PARAM, "num_epochs", "epochs", NULL, 0},
    {COORD_ALIAS_PARAM, "n_epochs", "epochs", NULL, 0},
    {COORD_ALIAS_PARAM, "epoch", "epochs", NULL, 0},
    {COORD_ALIAS_PARAM, "nepochs", "epochs", NULL, 0},
    {COORD_ALIAS_PARAM, "max_epochs", "epochs", NULL, 0},
    {COORD_ALIAS_PARAM, "dropout_rate", "dropout", NULL, 0},
    {COORD_ALIAS_PARAM, "drop_rate", "dropout", NULL, 0},
    {COORD_ALIAS_PARAM, "dropout_prob", "dropout", NULL, 0},
    {COORD_ALIAS_PARAM, "drop_out", "dropout", NULL, 0},
    {COORD_ALIAS_PARAM, "input_dropout_rate", "input_dropout", NULL, 0},
    {COORD_ALIAS_PARAM, "activation_function", "activation", NULL, 0},
    {COORD_ALIAS_PARAM, "activation_fn", "activation", NULL, 0},
    {COORD_ALIAS_PARAM, "act", "activation", NULL, 0},
    {COORD_ALIAS_PARAM, "act_fn", "activation", NULL, 0},
    {COORD_ALIAS_PARAM, "activations", "activation", NULL, 0},
    {COORD_ALIAS_PARAM, "nonlinearity", "activation", NULL, 0},
    {COORD_ALIAS_PARAM, "opt", "optimizer", NULL, 0},
    {COORD_ALIAS_PARAM, "optim", "optimizer", NULL, 0},
    {COORD_ALIAS_PARAM, "optimiser", "optimizer", NULL, 0},
    {COORD_ALIAS_PARAM, "optimizer_name", "optimizer", NULL, 0},
    {COORD_ALIAS_PARAM, "optimizer_type", "optimizer", NULL, 0},
    {COORD_ALIAS_PARAM, "mom", "momentum", NULL, 0},
    {COORD_ALIAS_PARAM, "use_nesterov", "nesterov", NULL, 0},
    {COORD_ALIAS_PARAM, "max_norm", "weight_constraint", "max-norm of each unit's weights", 0},
    {COORD_ALIAS_PARAM, "maxnorm", "weight_constraint", NULL, 0},
    {COORD_ALIAS_PARAM, "kernel_constraint", "weight_constraint", NULL, 0},
    {COORD_ALIAS_PARAM, "random_seed", "seed", NULL, 0},
    {COORD_ALIAS_PARAM, "random_state", "seed", NULL, 0},

    // --- optimizer values
    {COORD_ALIAS_OPTIMIZER, "momentum", "sgd", "SGD with momentum 0.9 unless the trial sets "
                                               "momentum", NAG_MOMENTUM},
    {COORD_ALIAS_OPTIMIZER, "sgdm", "sgd", "SGD with momentum 0.9 unless the trial sets "
                                           "momentum", NAG_MOMENTUM},
    {COORD_ALIAS_OPTIMIZER, "sgd_momentum", "sgd", "SGD with momentum 0.9 unless the trial sets "
                                                   "momentum", NAG_MOMENTUM},
    {COORD_ALIAS_OPTIMIZER, "nag", "nesterov", "Nesterov momentum 0.9 unless the trial sets "
                                               "momentum", NAG_MOMENTUM},
    {COORD_ALIAS_OPTIMIZER, "sgd_nesterov", "nesterov", "Nesterov momentum 0.9 unless the "
                                                       "trial sets momentum", NAG_MOMENTUM},
    {COORD_ALIAS_OPTIMIZER, "rms", "rmsprop", NULL, 0},
    {COORD_ALIAS_OPTIMIZER, "adam_w", "adamw", NULL, 0},

    // --- activation values
    {COORD_ALIAS_ACTIVATION, "identity", "linear", NULL, 0},
    {COORD_ALIAS_ACTIVATION, "none", "linear", "the string none, not null", 0},
    {COORD_ALIAS_ACTIVATION, "logistic", "sigmoid", NULL, 0},
    {COORD_ALIAS_ACTIVATION, "hardsigmoid", "hard_sigmoid", "Keras 2's clip(0.2 x + 0.5, 0, 1)",
     0},

    // --- init_mode values
    {COORD_ALIAS_INIT, "xavier", "glorot_uniform", "Keras' default Glorot, PyTorch's "
                                                   "xavier_uniform_", 0},
    {COORD_ALIAS_INIT, "xavier_uniform", "glorot_uniform", NULL, 0},
    {COORD_ALIAS_INIT, "xavier_normal", "glorot_normal", NULL, 0},
    {COORD_ALIAS_INIT, "glorot", "glorot_uniform", NULL, 0},
    {COORD_ALIAS_INIT, "he", "he_normal", "He et al.'s Gaussian, Keras' he_normal", 0},
    {COORD_ALIAS_INIT, "kaiming", "he_normal", NULL, 0},
    {COORD_ALIAS_INIT, "kaiming_normal", "he_normal", NULL, 0},
    {COORD_ALIAS_INIT, "kaiming_uniform", "he_uniform", NULL, 0},
    {COORD_ALIAS_INIT, "msra", "he_normal", NULL, 0},
    {COORD_ALIAS_INIT, "random", "normal", "N(0, 0.05^2), Keras' RandomNormal", 0},
    {COORD_ALIAS_INIT, "random_normal", "normal", NULL, 0},
    {COORD_ALIAS_INIT, "gaussian", "normal", NULL, 0},
    {COORD_ALIAS_INIT, "random_uniform", "uniform", "U(-0.05, 0.05), Keras' RandomUniform", 0},
    {COORD_ALIAS_INIT, "lecun", "lecun_uniform", NULL, 0},

    // --- metric words (after a val_/validation_/valid_/eval_ prefix, none,
    // --- or train_/training_ for the training score)
    {COORD_ALIAS_METRIC, "acc", "accuracy", NULL, 0},
    {COORD_ALIAS_METRIC, "categorical_accuracy", "accuracy", NULL, 0},
    {COORD_ALIAS_METRIC, "sparse_categorical_accuracy", "accuracy", NULL, 0},
    {COORD_ALIAS_METRIC, "loss", "log_loss", "the mean cross-entropy, which hptune trains", 0},
    {COORD_ALIAS_METRIC, "logloss", "log_loss", NULL, 0},
    {COORD_ALIAS_METRIC, "cross_entropy", "log_loss", NULL, 0},
    {COORD_ALIAS_METRIC, "crossentropy", "log_loss", NULL, 0},
    {COORD_ALIAS_METRIC, "categorical_crossentropy", "log_loss", NULL, 0},
    {COORD_ALIAS_METRIC, "sparse_categorical_crossentropy", "log_loss", NULL, 0},
    {COORD_ALIAS_METRIC, "xent", "log_loss", NULL, 0},
    {COORD_ALIAS_METRIC, "nll", "log_loss", NULL, 0},
    {COORD_ALIAS_METRIC, "ce", "log_loss", NULL, 0},
    {COORD_ALIAS_METRIC, "f1", "f1_macro", "the unweighted mean of the per-class F1", 0},
    {COORD_ALIAS_METRIC, "macro_f1", "f1_macro", NULL, 0},
    {COORD_ALIAS_METRIC, "f1_score", "f1_macro", NULL, 0},
    {COORD_ALIAS_METRIC, "f1score", "f1_macro", NULL, 0},

    // --- datasets
    {COORD_ALIAS_DATASET, "fashion_mnist", "fashion-mnist", NULL, 0},
    {COORD_ALIAS_DATASET, "fashionmnist", "fashion-mnist", NULL, 0},
    {COORD_ALIAS_DATASET, "fmnist", "fashion-mnist", NULL, 0},
    {COORD_ALIAS_DATASET, "mnist10k", "mnist-10k", NULL, 0},

    // --- parameters naming a setting hptune fixes: accepted with hptune's
    // --- value (another single value is a warning, several an error)
    {COORD_ALIAS_SETTING, "loss", "cross_entropy", "the training loss; other losses are refused",
     0},
    {COORD_ALIAS_SETTING, "loss_function", "cross_entropy", NULL, 0},
    {COORD_ALIAS_SETTING, "criterion", "cross_entropy", NULL, 0},
    {COORD_ALIAS_SETTING, "beta1", "0.9", "Adam's beta1, Keras' value", 0},
    {COORD_ALIAS_SETTING, "beta_1", "0.9", NULL, 0},
    {COORD_ALIAS_SETTING, "beta2", "0.999", "Adam's beta2, Keras' value", 0},
    {COORD_ALIAS_SETTING, "beta_2", "0.999", NULL, 0},
    {COORD_ALIAS_SETTING, "epsilon", "1e-07", "the optimizers' epsilon, Keras' value", 0},
    {COORD_ALIAS_SETTING, "eps", "1e-07", NULL, 0},
    {COORD_ALIAS_SETTING, "rho", "0.9", "RMSprop's decay, Keras' value", 0},
    {COORD_ALIAS_SETTING, "beta", "0.9", "RMSprop's decay, as some scripts call it", 0},

    // --- parameters naming the script's plumbing: kept, not used (a warning);
    // --- several values are an error
    {COORD_ALIAS_UNUSED, "validation_split", "cv", "hptune holds out CV folds instead: cv.folds", 0},
    {COORD_ALIAS_UNUSED, "val_split", "cv", "hptune holds out CV folds instead: cv.folds", 0},
    {COORD_ALIAS_UNUSED, "valid_split", "cv", "hptune holds out CV folds instead: cv.folds", 0},
    {COORD_ALIAS_UNUSED, "num_workers", "workers", "data-loader processes; hptune's workers are its daemons", 0},
    {COORD_ALIAS_UNUSED, "device", "workers", "hptune's workers train on their CPUs", 0},
    {COORD_ALIAS_UNUSED, "gpus", "workers", "hptune's workers train on their CPUs", 0},
    {COORD_ALIAS_UNUSED, "log_interval", "logs", "hptune reports every epoch", 0},
    {COORD_ALIAS_UNUSED, "log_freq", "logs", "hptune reports every epoch", 0},
    {COORD_ALIAS_UNUSED, "data_dir", "dataset", "hptune's workers load the dataset the spec names", 0},
    {COORD_ALIAS_UNUSED, "save_model", "results", "hptune keeps scores; refit trains the best again", 0},
};

/* Names of hptune's own (relu, mnist) are not rows: they are accepted in any
 * case by the same folded comparison. */
static int fold(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A' + 'a';
    return (ch == '-' || ch == '.' || ch == '/' || ch == ' ') ? '_' : ch;
}

bool coord_alias_same(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (fold((unsigned char)*a) != fold((unsigned char)*b))
            return false;
    return *a == *b;
}

const coord_alias_t *coord_alias_find(coord_alias_kind_t kind, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].kind == kind && coord_alias_same(table[i].alias, name))
            return &table[i];
    return NULL;
}

const coord_alias_t *coord_alias_list(coord_alias_kind_t kind, int *n)
{
    size_t first = 0, count = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].kind == kind) {
            if (count++ == 0)
                first = i;
        }
    *n = (int)count;
    return count ? &table[first] : NULL;
}

char *coord_aliases_text(void)
{
    static const char *const heads[COORD_ALIAS__COUNT] = {
        [COORD_ALIAS_PARAM] = "parameter names",
        [COORD_ALIAS_OPTIMIZER] = "optimizer values",
        [COORD_ALIAS_ACTIVATION] = "activation values",
        [COORD_ALIAS_INIT] = "init_mode values",
        [COORD_ALIAS_METRIC] = "metric names: alone, or after val_, validation_, valid_ or\n"
                               "eval_, the held-out fold's score; after train_ or training_, "
                               "the training score",
        [COORD_ALIAS_DATASET] = "dataset names (also as a parameter, dataset: {value: NAME})",
        [COORD_ALIAS_SETTING] = "parameters naming a setting hptune fixes: accepted at hptune's\n"
                                "value, another single value is a warning, several are an "
                                "error",
        [COORD_ALIAS_UNUSED] = "parameters naming the script's plumbing: a single value is "
                               "kept, not used,\nwith a warning; several are an error (what "
                               "hptune does instead)",
    };
    size_t cap = 16384, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int k = 0; k < COORD_ALIAS__COUNT; k++) {
        int n;
        const coord_alias_t *a = coord_alias_list((coord_alias_kind_t)k, &n);
        for (int i = -1; i < n; i++) {
            char line[320];
            if (i < 0)
                snprintf(line, sizeof line, "%s%s:\n", k ? "\n" : "", heads[k]);
            else
                snprintf(line, sizeof line, "  %-31s %s%s%s%s\n", a[i].alias, a[i].target,
                         a[i].note ? "  (" : "", a[i].note ? a[i].note : "",
                         a[i].note ? ")" : "");
            size_t l = strlen(line);
            if (len + l + 1 > cap) {
                cap *= 2;
                char *t = realloc(s, cap);
                if (!t) {
                    free(s);
                    return NULL;
                }
                s = t;
            }
            memcpy(s + len, line, l + 1);
            len += l;
        }
    }
    return s;
}
