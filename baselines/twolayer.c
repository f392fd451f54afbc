/* twolayer.c: forward, backward and Adam training of the wide two-layer ReLU baseline. */
#include "twolayer.h"

#include <cblas.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "optim.h"
#include "rng.h"

#define EVAL_CHUNK 1024 /* rows per forward call when predicting */

void bfc_twolayer_defaults(bfc_twolayer_config *c)
{
    c->width = 1024;
    c->steps = 6000;
    c->batch = 256;
    bfc_optim_defaults(&c->opt);
    c->opt.lr = 1e-3;
    c->a_scale = 0.1;
    c->standardize = 1;
    c->eval_every = 500;
    c->progress = 0;
    c->seed = 0;
}

int bfc_twolayer_validate(const bfc_twolayer_config *c)
{
    if (c->width < 1 || c->width > 1 << 24)
        return bfc_fail(BFC_EINVAL, "two-layer width must be in 1..16777216 (got %d)", c->width);
    if (c->steps < 1)
        return bfc_fail(BFC_EINVAL, "two-layer steps must be >= 1 (got %d)", c->steps);
    if (c->batch < 1 || c->batch > 65536)
        return bfc_fail(BFC_EINVAL, "two-layer batch must be in 1..65536 (got %d)", c->batch);
    int st = bfc_optim_validate(&c->opt, "two-layer ");
    if (st) return st;
    if (!(c->a_scale >= 0) || !isfinite(c->a_scale))
        return bfc_fail(BFC_EINVAL, "two-layer a_scale must be >= 0 (got %g)", c->a_scale);
    if (c->eval_every < 1)
        return bfc_fail(BFC_EINVAL, "two-layer eval_every must be >= 1 (got %d)", c->eval_every);
    return BFC_OK;
}

size_t bfc_twolayer_nparams(int d, int m) { return (size_t)m * d + 2 * (size_t)m + 1; }

void bfc_twolayer_forward(const double *theta, int d, int m, const double *X, int B, double *out,
                          double *A)
{
    const double *W = theta, *b = theta + (size_t)m * d, *a = b + m, c = a[m];
    /* A = relu(X Wᵀ + b) */
    for (int r = 0; r < B; r++) memcpy(A + (size_t)r * m, b, sizeof(double) * (size_t)m);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, m, d, 1.0, X, d, W, d, 1.0, A, m);
    for (size_t i = 0; i < (size_t)B * m; i++) A[i] = A[i] > 0.0 ? A[i] : 0.0;
    for (int r = 0; r < B; r++) out[r] = c;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, B, m, 1.0, A, m, a, 1, 1.0, out, 1);
}

double bfc_twolayer_loss_grad(const double *theta, int d, int m, const double *X, const double *y,
                              int B, double *grad, double *work)
{
    double *A = work, *e = work + (size_t)B * m;
    const double *a = theta + (size_t)m * d + m;
    double *gW = grad, *gb = grad + (size_t)m * d, *ga = gb + m, *gc = ga + m;
    bfc_twolayer_forward(theta, d, m, X, B, e, A);
    /* e = d loss / d out = 2 (out − y) / B */
    double loss = 0.0, sum_e = 0.0;
    for (int r = 0; r < B; r++) {
        double res = e[r] - y[r];
        loss += res * res;
        e[r] = 2.0 * res / B;
        sum_e += e[r];
    }
    *gc = sum_e;
    /* ga = Aᵀ e; then A becomes dZ = e aᵀ ⊙ [Z > 0] (A > 0 exactly where Z > 0) */
    cblas_dgemv(CblasRowMajor, CblasTrans, B, m, 1.0, A, m, e, 1, 0.0, ga, 1);
    memset(gb, 0, sizeof(double) * (size_t)m);
    for (int r = 0; r < B; r++) {
        double *Ar = A + (size_t)r * m;
        const double er = e[r];
        for (int i = 0; i < m; i++) {
            Ar[i] = Ar[i] > 0.0 ? er * a[i] : 0.0;
            gb[i] += Ar[i];
        }
    }
    /* gW = dZᵀ X */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, d, B, 1.0, A, m, X, d, 0.0, gW, d);
    return loss / B;
}

/* pred (n) = f(x) for X (n, d), in chunks; A (EVAL_CHUNK, m) scratch; mapped back by mu, sd. */
static void predict(const double *theta, int d, int m, const double *X, int n, double mu, double sd,
                    double *pred, double *A)
{
    for (int i = 0; i < n; i += EVAL_CHUNK) {
        int B = n - i < EVAL_CHUNK ? n - i : EVAL_CHUNK;
        bfc_twolayer_forward(theta, d, m, X + (size_t)i * d, B, pred + i, A);
    }
    for (int i = 0; i < n; i++) pred[i] = mu + sd * pred[i];
}

int bfc_twolayer_fit(const bfc_twolayer_config *c, const bfc_data *train, const bfc_data *test,
                     bfc_twolayer_result *res)
{
    const double t0 = bfc_wall_seconds();
    memset(res, 0, sizeof *res);
    res->test_error = res->test_error_bulk = res->train_error = res->final_loss = NAN;
    int st = bfc_twolayer_validate(c);
    if (st) return st;
    if (!train || !test || train->d != test->d || train->d < 1)
        return bfc_fail(BFC_EINVAL, "two-layer: training and test sets must share d >= 1");
    if (train->n < c->batch)
        return bfc_fail(BFC_EINVAL, "two-layer: n (%d) must be at least the batch size (%d)",
                        train->n, c->batch);
    const int d = train->d, m = c->width, B = c->batch, n = train->n;
    const size_t np = bfc_twolayer_nparams(d, m);
    const int rows = B > EVAL_CHUNK ? B : EVAL_CHUNK;
    res->n_params = np;
    res->step_flops = 4.0 * B * m * d + 8.0 * B * m + 12.0 * (double)np;

    /* one block: theta, grad; then the optimiser's state, batch buffers */
    double *block = bfc_alloc_d(2 * np);
    double *work = bfc_alloc_d((size_t)rows * (m + 1));
    double *Xb = bfc_alloc_d((size_t)B * d), *yb = bfc_alloc_d((size_t)B);
    int nmax = train->n > test->n ? train->n : test->n;
    double *pred = bfc_alloc_d((size_t)nmax);
    gsl_rng *ri = bfc_rng_new(c->seed, BFC_STREAM_INIT);
    bfc_optim o = {0};
    bfc_batcher bat = {0};
    if (!block || !work || !Xb || !yb || !pred || !ri) {
        st = bfc_fail(BFC_ENOMEM, "two-layer: out of memory for width %d (%zu parameters)", m, np);
        goto out;
    }
    double *theta = block, *grad = block + np;
    bfc_rng_normal(ri, theta, (size_t)m * d, sqrt(2.0 / d));
    bfc_rng_normal(ri, theta + (size_t)m * d + m, (size_t)m, c->a_scale / sqrt((double)m));

    double mu = 0.0, sd = 1.0;
    if (c->standardize) {
        double s1 = 0.0, s2 = 0.0;
        for (int i = 0; i < n; i++) s1 += train->y[i];
        mu = s1 / n;
        for (int i = 0; i < n; i++) s2 += (train->y[i] - mu) * (train->y[i] - mu);
        sd = sqrt(s2 / n);
        if (!(sd > 0) || !isfinite(sd)) sd = 1.0;
        if (!isfinite(mu)) {
            st = bfc_fail(BFC_ENUMERIC, "two-layer: the training labels are not finite");
            goto out;
        }
    }
    if ((st = bfc_optim_init(&o, &c->opt, np, theta)) ||
        (st = bfc_batcher_init(&bat, (size_t)n, c->seed)))
        goto out;

    const bfc_range all = {0, np};
    double train_s = 0.0, loss_acc = 0.0, loss0 = NAN;
    int loss_cnt = 0;
    long s;
    for (s = 0; s < c->steps; s++) {
        const double ts = bfc_wall_seconds();
        bfc_batch_next(&bat, train, B, Xb, yb);
        for (int b = 0; b < B; b++) yb[b] = (yb[b] - mu) / sd;
        const double loss = bfc_twolayer_loss_grad(theta, d, m, Xb, yb, B, grad, work);
        if (s == 0) loss0 = loss;
        if (bfc_loss_diverged(loss, loss0)) {
            bfc_optim_revert(&o, theta);
            res->diverged = 1;
            st = bfc_fail(BFC_EDIVERGED,
                          "two-layer network diverged at step %ld of %d (loss %g, first %g); the "
                          "errors are those of the parameters before that step; try a smaller "
                          "lr (now %g, e.g. %g)",
                          s, c->steps, loss, loss0, c->opt.lr, c->opt.lr / 10);
            snprintf(res->message, sizeof res->message, "%s", bfc_last_error());
            break;
        }
        bfc_optim_update(&o, theta, grad, &all, 1, bfc_optim_lr(&c->opt, s, c->steps), s + 1);
        train_s += bfc_wall_seconds() - ts;
        loss_acc += loss;
        loss_cnt++;
        if ((s + 1) % c->eval_every == 0 || s + 1 == c->steps) {
            res->final_loss = loss_acc / loss_cnt;
            loss_acc = 0.0;
            loss_cnt = 0;
            if (c->progress) {
                predict(theta, d, m, test->X, test->n, mu, sd, pred, work);
                double te = bfc_relative_error(pred, test->g, test->n);
                double el = bfc_wall_seconds() - t0;
                char eta[32];
                bfc_format_duration(el / (double)(s + 1) * (double)(c->steps - s - 1), eta,
                                    sizeof eta);
                fprintf(stderr, "[two-layer m=%d] step %6ld/%d  loss %.3e  test %.3e  %.1fs  ETA %s\n",
                        m, s + 1, c->steps, res->final_loss, te, el, eta);
            }
        }
    }
    /* diverged at step s: the parameters are those after s − 1 updates */
    res->steps = st ? (s > 0 ? s - 1 : 0) : c->steps;
    res->train_s = train_s;
    res->us_per_step = s > 0 ? 1e6 * train_s / (double)s : 0.0;
    predict(theta, d, m, test->X, test->n, mu, sd, pred, work);
    res->test_error = bfc_relative_error(pred, test->g, test->n);
    res->test_error_bulk = bfc_relative_error_bulk(pred, test->g, test->n, BFC_BULK_KEEP);
    predict(theta, d, m, train->X, train->n, mu, sd, pred, work);
    res->train_error = bfc_relative_error(pred, train->g, train->n);
    if (!st && !isfinite(res->test_error)) {
        st = bfc_fail(BFC_ENUMERIC, "two-layer: the test predictions are not finite");
        snprintf(res->message, sizeof res->message, "%s", bfc_last_error());
    }
out:
    if (ri) gsl_rng_free(ri);
    bfc_optim_free(&o);
    bfc_batcher_free(&bat);
    bfc_free(block);
    bfc_free(work);
    bfc_free(Xb);
    bfc_free(yb);
    bfc_free(pred);
    res->wall_s = bfc_wall_seconds() - t0;
    return st;
}
