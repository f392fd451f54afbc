/* optim.c: Adam, SGD with momentum, clipping, cosine decay, divergence rule, minibatches. */
#include "optim.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

void bfc_optim_defaults(bfc_optim_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = BFC_OPT_ADAM;
    c->lr = 0.0;
    c->momentum = 0.9;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->cosine = 1;
    c->clip = 0.0;
}

void bfc_optim_resolve(bfc_optim_config *c)
{
    if (c->lr == 0.0) c->lr = c->kind == BFC_OPT_SGD ? BFC_SGD_LR : BFC_ADAM_LR;
}

int bfc_optim_parse(const char *s, int *kind)
{
    if (!strcmp(s, "adam")) *kind = BFC_OPT_ADAM;
    else if (!strcmp(s, "sgd")) *kind = BFC_OPT_SGD;
    else return bfc_fail(BFC_EINVAL, "--optimizer must be adam or sgd (got '%s')", s);
    return BFC_OK;
}

const char *bfc_optim_name(int kind) { return kind == BFC_OPT_SGD ? "sgd" : "adam"; }

int bfc_optim_validate(const bfc_optim_config *c, const char *who)
{
    if (c->kind != BFC_OPT_ADAM && c->kind != BFC_OPT_SGD)
        return bfc_fail(BFC_EINVAL, "%soptimizer must be adam or sgd", who);
    if (!(c->lr > 0) || !isfinite(c->lr))
        return bfc_fail(BFC_EINVAL, "%slr must be positive and finite (got %g)", who, c->lr);
    if (!(c->momentum >= 0 && c->momentum < 1))
        return bfc_fail(BFC_EINVAL, "%smomentum must be in [0, 1) (got %g)", who, c->momentum);
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1) || !(c->eps > 0))
        return bfc_fail(BFC_EINVAL, "%sAdam needs beta1, beta2 in [0, 1) and eps > 0", who);
    if (!(c->clip >= 0) || !isfinite(c->clip))
        return bfc_fail(BFC_EINVAL, "%sclip must be >= 0 (0 = off; got %g)", who, c->clip);
    return BFC_OK;
}

double bfc_optim_lr(const bfc_optim_config *c, long s, long T)
{
    double lr = c->lr;
    if (c->cosine) lr *= 0.5 * (1.0 + cos(M_PI * (double)s / (double)T));
    return lr;
}

int bfc_optim_init(bfc_optim *o, const bfc_optim_config *c, size_t n, const double *theta)
{
    memset(o, 0, sizeof *o);
    o->c = *c;
    o->n = n;
    o->m1 = bfc_alloc_d(3 * n); /* zeroed */
    if (!o->m1) return bfc_fail(BFC_ENOMEM, "out of memory for the optimiser (%zu parameters)", n);
    o->m2 = o->m1 + n;
    o->keep = o->m2 + n;
    memcpy(o->keep, theta, sizeof(double) * n);
    return BFC_OK;
}

void bfc_optim_free(bfc_optim *o)
{
    bfc_free(o->m1);
    o->m1 = o->m2 = o->keep = NULL;
}

void bfc_optim_reset(bfc_optim *o)
{
    memset(o->m1, 0, sizeof(double) * o->n);
    memset(o->m2, 0, sizeof(double) * o->n);
}

void bfc_adam_update(double *restrict theta, const double *restrict grad, double *restrict m1,
                     double *restrict m2, size_t n, double scale, double lr, double beta1,
                     double beta2, double eps, long t)
{
    const double c1 = 1.0 - pow(beta1, (double)t), c2 = 1.0 - pow(beta2, (double)t);
    const double a1 = 1.0 - beta1, a2 = 1.0 - beta2;
    for (size_t i = 0; i < n; i++) {
        const double g = grad[i] * scale;
        m1[i] = beta1 * m1[i] + a1 * g;
        m2[i] = beta2 * m2[i] + a2 * g * g;
        theta[i] -= lr * (m1[i] / c1) / (sqrt(m2[i] / c2) + eps);
    }
}

static void sgd_update(double *restrict theta, const double *restrict grad, double *restrict v,
                       size_t n, double scale, double lr, double mu)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = mu * v[i] + grad[i] * scale;
        theta[i] -= lr * v[i];
    }
}

void bfc_optim_update(bfc_optim *o, double *theta, const double *grad, const bfc_range *r,
                      int nr, double lr, long t)
{
    const bfc_optim_config *c = &o->c;
    double scale = 1.0;
    if (c->clip > 0) {
        double nrm2 = 0.0;
        for (int k = 0; k < nr; k++)
            for (size_t i = r[k].off; i < r[k].off + r[k].len; i++) nrm2 += grad[i] * grad[i];
        const double nrm = sqrt(nrm2);
        if (nrm > c->clip) scale = c->clip / nrm;
    }
    /* all of theta, not only the parts updated: a part frozen since an earlier update must
     * come back as it is now, not as it was before its own last update */
    memcpy(o->keep, theta, sizeof(double) * o->n);
    for (int k = 0; k < nr; k++) {
        const size_t a = r[k].off, n = r[k].len;
        if (c->kind == BFC_OPT_ADAM)
            bfc_adam_update(theta + a, grad + a, o->m1 + a, o->m2 + a, n, scale, lr, c->beta1,
                            c->beta2, c->eps, t);
        else
            sgd_update(theta + a, grad + a, o->m1 + a, n, scale, lr, c->momentum);
    }
}

void bfc_optim_revert(const bfc_optim *o, double *theta)
{
    memcpy(theta, o->keep, sizeof(double) * o->n);
}

int bfc_loss_diverged(double loss, double loss0)
{
    return !isfinite(loss) || !isfinite(loss0) || (loss0 > 0 && loss > BFC_DIVERGE_FACTOR * loss0);
}

int bfc_batcher_init(bfc_batcher *b, size_t n, uint64_t seed)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    b->perm = malloc(sizeof(size_t) * (n ? n : 1));
    b->rng = bfc_rng_new(seed, BFC_STREAM_BATCH);
    if (!b->perm || !b->rng) {
        bfc_batcher_free(b);
        return bfc_fail(BFC_ENOMEM, "out of memory for the minibatch order (%zu points)", n);
    }
    for (size_t i = 0; i < n; i++) b->perm[i] = i;
    gsl_ran_shuffle(b->rng, b->perm, n, sizeof(size_t));
    return BFC_OK;
}

void bfc_batcher_free(bfc_batcher *b)
{
    free(b->perm);
    if (b->rng) gsl_rng_free(b->rng);
    b->perm = NULL;
    b->rng = NULL;
}

void bfc_batch_next(bfc_batcher *b, const bfc_data *data, int B, double *Xb, double *yb)
{
    const int d = data->d;
    for (int r = 0; r < B; r++) {
        if (b->cursor == b->n) {
            gsl_ran_shuffle(b->rng, b->perm, b->n, sizeof(size_t));
            b->cursor = 0;
        }
        const size_t i = b->perm[b->cursor++];
        memcpy(Xb + (size_t)r * d, data->X + i * d, sizeof(double) * (size_t)d);
        yb[r] = data->y[i];
    }
}
