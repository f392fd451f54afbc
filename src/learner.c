/* learner.c: forward and backward of the hierarchical learner of SPEC §2 over BLAS.
 * Forward and backward of each operation sit next to each other; no allocation after
 * bfc_learner_new. Shapes are row-major, B is the batch size. */
#include "learner.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* Parameters and workspace in one precision (bmax rows). In double, theta aliases the
 * learner's parameters and grad is unused; in single, theta, grad and R are float copies. */
#define LEARNER_WS(real)                                                                         \
    struct {                                                                                     \
        real *theta, *grad;                                                                      \
        real *R[BFC_MAX_L + 1];              /* p_l × k_l, fixed */                               \
        real *h[BFC_MAX_L + 1], *dh[BFC_MAX_L + 1];                                              \
        real *P[BFC_MAX_L + 1];              /* B × m: F (clamp path) */                          \
        real *S[BFC_MAX_L + 1], *dS[BFC_MAX_L + 1];                                              \
        real *U[BFC_MAX_L + 1];              /* B × p: R S before clamping */                     \
        real *Q[BFC_MAX_L + 1], *D[BFC_MAX_L + 1], *M[BFC_MAX_L + 1]; /* H × H */                \
        real *f[BFC_MAX_L + 1];              /* B: ‖clamp(F_l)‖² (clamp path) */                  \
        real *hs, *hgs, *Ps;                 /* B × H*: union h* of h_2..h_top, e ⊙ h*, h*Q* */   \
        real *Qs, *Ms;                       /* H* × H*: Σ α_l Q_l, 2 h*ᵀ diag(e) h* */           \
        real *scratch;                       /* B × max(H, m) */                                  \
        real *e;                             /* B: d objective / d out */                         \
    }

struct bfc_learner {
    bfc_learner_config cfg;
    int d, L, task, bmax;
    int k[BFC_MAX_L + 1];
    unsigned J[BFC_MAX_L + 1];
    double alpha[BFC_MAX_L + 1];
    int H[BFC_MAX_L + 1];                  /* dim h_l (with the constant) */
    int m[BFC_MAX_L + 1];                  /* wide branch width */
    int p[BFC_MAX_L + 1];                  /* rows of R_l; 0 if S_l feeds nothing */
    int seg[BFC_MAX_L + 1][BFC_MAX_L];     /* offset of segment j inside h_l, −1 if absent */
    size_t off[BFC_MAX_L + 2];             /* off[l]: start of layer l's block; off[L+1] = end */
    size_t offK[BFC_MAX_L + 1];            /* start of K_l */
    size_t n_params;
    double *theta;                         /* the parameters (master copy in single precision) */
    double *out;                           /* bmax: F(x) of the last forward */
    LEARNER_WS(double) wd;                 /* double: always (output_grad, features) */
    LEARNER_WS(float) wf;                  /* single precision only (wf.theta = NULL otherwise) */
    double *block_d;                       /* the workspace allocations */
    float *block_f;
};

void bfc_learner_defaults(bfc_learner_config *c)
{
    c->p_extra = 2;
    c->width_mult = 2.0;
    c->m = 0;
    c->init_scale = 0.1;
    c->lambda_tie = 1.0;
    c->lambda_wd = 0.0;
    c->clamp = 0.0;
    c->precision = BFC_PRECISION_DOUBLE;
    c->seed = 0;
}

int bfc_precision_parse(const char *s, int *precision)
{
    if (!strcmp(s, "double")) *precision = BFC_PRECISION_DOUBLE;
    else if (!strcmp(s, "single")) *precision = BFC_PRECISION_SINGLE;
    else return bfc_fail(BFC_EINVAL, "--precision must be single or double (got '%s')", s);
    return BFC_OK;
}

const char *bfc_precision_name(int precision)
{
    return precision == BFC_PRECISION_SINGLE ? "single" : "double";
}

int bfc_learner_dim_h(const bfc_learner *lr, int l) { return lr->H[l]; }
int bfc_learner_width(const bfc_learner *lr, int l) { return lr->m[l]; }
int bfc_learner_dim_p(const bfc_learner *lr, int l) { return lr->p[l]; }
int bfc_learner_L(const bfc_learner *lr) { return lr->L; }
int bfc_learner_bmax(const bfc_learner *lr) { return lr->bmax; }
size_t bfc_learner_nparams(const bfc_learner *lr) { return lr->n_params; }
double *bfc_learner_params(bfc_learner *lr) { return lr->theta; }
double *bfc_learner_W(bfc_learner *lr, int l) { return lr->theta + lr->off[l]; }
double *bfc_learner_K(bfc_learner *lr, int l)
{
    return l < lr->L ? lr->theta + lr->offK[l] : NULL;
}
const double *bfc_learner_R(const bfc_learner *lr, int l) { return lr->wd.R[l]; }
int bfc_learner_precision(const bfc_learner *lr) { return lr->cfg.precision; }

void bfc_learner_slice(const bfc_learner *lr, int lo, int top, size_t *off, size_t *len)
{
    BFC_ASSERT(lo >= 2 && lo <= top && top <= lr->L);
    *off = lr->off[lo];
    *len = lr->off[top + 1] - lr->off[lo];
}

void bfc_learner_block(const bfc_learner *lr, int l, char which, size_t *off, size_t *len)
{
    BFC_ASSERT(l >= 2 && l <= lr->L && (which == 'W' || (which == 'K' && l < lr->L)));
    *off = which == 'W' ? lr->off[l] : lr->offK[l];
    *len = which == 'W' ? lr->offK[l] - lr->off[l] : lr->off[l + 1] - lr->offK[l];
}

double bfc_learner_lambda_tie(const bfc_learner *lr) { return lr->cfg.lambda_tie; }

void bfc_learner_set_lambda_tie(bfc_learner *lr, double lambda_tie)
{
    BFC_ASSERT(lambda_tie >= 0 && isfinite(lambda_tie));
    lr->cfg.lambda_tie = lambda_tie;
}

/* The union h* of h_2..h_top (unclamped learner): the segments x, x² − 1, σ(R_j S_j) read by
 * some active layer, each once, in that order, then the constant. useg[j]: offset of segment j
 * in h*, −1 if no active layer reads it. Returns dim h*. */
static int union_layout(const bfc_learner *lr, int top, int useg[BFC_MAX_L])
{
    unsigned mask = 0;
    for (int l = 2; l <= top; l++) mask |= lr->J[l];
    int H = 0;
    for (int j = 0; j < BFC_MAX_L; j++) {
        useg[j] = -1;
        if (j >= top || !(mask & (1u << j))) continue;
        useg[j] = H;
        H += j <= 1 ? lr->d : lr->p[j];
    }
    return H + 1;
}

/* dim h* with all layers active. */
static int union_dim_max(const bfc_learner *lr)
{
    int useg[BFC_MAX_L];
    return union_layout(lr, lr->L, useg);
}

static int has_consumer(const bfc_learner *lr, int j)
{
    for (int l = j + 1; l <= lr->L; l++)
        if (lr->J[l] & (1u << j)) return 1;
    return 0;
}

void bfc_learner_free(bfc_learner *lr)
{
    if (!lr) return;
    bfc_free(lr->theta);
    bfc_free(lr->out);
    for (int l = 0; l <= BFC_MAX_L; l++) bfc_free(lr->wd.R[l]);
    bfc_free(lr->block_d);
    bfc_free(lr->block_f);
    free(lr);
}

/* ---- the arithmetic, once per precision (learner_impl.h) ------------------------------ */

#define REAL double
#define FN(name) name##_d
#define WS wd
#define GEMM cblas_dgemm
#define SYRK cblas_dsyrk
#define SYMM cblas_dsymm
#define DOT cblas_ddot
#define AXPY cblas_daxpy
#include "learner_impl.h"

#define REAL float
#define FN(name) name##_f
#define WS wf
#define GEMM cblas_sgemm
#define SYRK cblas_ssyrk
#define SYMM cblas_ssymm
#define DOT cblas_sdot
#define AXPY cblas_saxpy
#include "learner_impl.h"

bfc_learner *bfc_learner_new(const bfc_target_config *tc, const bfc_learner_config *lc, int bmax,
                             int *status)
{
    bfc_target_config c = *tc;
    bfc_target_resolve(&c);
    int st = bfc_target_validate(&c);
    if (st) {
        *status = st;
        return NULL;
    }
    if (bmax < 1 || bmax > (1 << 20)) {
        *status = bfc_fail(BFC_EINVAL, "batch size must be between 1 and 1048576 (got %d)", bmax);
        return NULL;
    }
    if (lc->p_extra < 0 || lc->p_extra > 1000) {
        *status = bfc_fail(BFC_EINVAL, "--p-extra must be between 0 and 1000 (got %d)", lc->p_extra);
        return NULL;
    }
    if (lc->m < 0 || lc->m > 100000 || (lc->m == 0 && !(lc->width_mult > 0 && lc->width_mult <= 64))) {
        *status = bfc_fail(BFC_EINVAL, "--m must be in 1..100000, or --width-mult in (0, 64]");
        return NULL;
    }
    if (!(lc->init_scale > 0) || !(lc->lambda_tie >= 0) || !(lc->lambda_wd >= 0) ||
        !(lc->clamp >= 0) || !isfinite(lc->init_scale + lc->lambda_tie + lc->lambda_wd + lc->clamp)) {
        *status = bfc_fail(BFC_EINVAL, "--init-scale must be > 0 and --lambda-tie, --lambda-wd, "
                                       "--clamp >= 0 and finite");
        return NULL;
    }
    if (lc->precision != BFC_PRECISION_DOUBLE && lc->precision != BFC_PRECISION_SINGLE) {
        *status = bfc_fail(BFC_EINVAL, "--precision must be single or double");
        return NULL;
    }
    bfc_learner *lr = calloc(1, sizeof *lr);
    if (!lr) goto oom;
    lr->cfg = *lc;
    lr->d = c.d;
    lr->L = c.L;
    lr->task = c.task;
    lr->bmax = bmax;
    memcpy(lr->k, c.k, sizeof lr->k);
    memcpy(lr->J, c.J, sizeof lr->J);
    memcpy(lr->alpha, c.alpha, sizeof lr->alpha);
    for (int l = 2; l <= c.L; l++) {
        int k = c.k[l];
        lr->p[l] = (l < c.L && has_consumer(lr, l)) ? k * (k + 1) / 2 + lc->p_extra : 0;
        if (l < c.L && has_consumer(lr, l) && lr->p[l] < 1) lr->p[l] = 1;
    }
    size_t off = 1; /* theta[0] is the classification bias */
    for (int l = 2; l <= c.L; l++) {
        int H = 0;
        for (int j = 0; j < BFC_MAX_L; j++) lr->seg[l][j] = -1;
        for (int j = 0; j < l; j++) {
            if (!(c.J[l] & (1u << j))) continue;
            lr->seg[l][j] = H;
            H += j <= 1 ? c.d : lr->p[j];
        }
        lr->H[l] = H + 1;
        lr->m[l] = lc->m > 0 ? lc->m : (int)lround(lc->width_mult * lr->H[l]);
        if (lr->m[l] < 1) lr->m[l] = 1;
        lr->off[l] = off;
        off += (size_t)lr->m[l] * lr->H[l];
        lr->offK[l] = off;
        if (l < c.L) off += (size_t)c.k[l] * lr->H[l];
    }
    lr->off[c.L + 1] = off;
    lr->n_params = off;
    lr->theta = bfc_alloc_d(off);
    if (!lr->theta) goto oom;

    /* workspace: one block per precision (single: also the float copies of θ and R) */
    lr->out = bfc_alloc_d((size_t)bmax);
    lr->block_d = bfc_alloc_d(ws_carve_d(lr, NULL, 0));
    if (!lr->out || !lr->block_d) goto oom;
    ws_carve_d(lr, lr->block_d, 0);
    lr->wd.theta = lr->theta;
    if (lc->precision == BFC_PRECISION_SINGLE) {
        /* bfc_alloc_d gives zeroed, 64-byte-aligned memory: as floats, twice as many */
        lr->block_f = (float *)bfc_alloc_d((ws_carve_f(lr, NULL, 1) + 1) / 2);
        if (!lr->block_f) goto oom;
        ws_carve_f(lr, lr->block_f, 1);
    }

    /* initialisation: fixed maps R_l first, then W_l, K_l, from the INIT stream */
    gsl_rng *r = bfc_rng_new(lc->seed, BFC_STREAM_INIT);
    if (!r) goto oom;
    for (int l = 2; l < c.L; l++) {
        if (!lr->p[l]) continue;
        lr->wd.R[l] = bfc_alloc_d((size_t)lr->p[l] * c.k[l]);
        if (!lr->wd.R[l]) {
            gsl_rng_free(r);
            goto oom;
        }
        bfc_rng_normal(r, lr->wd.R[l], (size_t)lr->p[l] * c.k[l], 1.0 / sqrt((double)c.k[l]));
        if (lr->wf.R[l])
            for (size_t i = 0; i < (size_t)lr->p[l] * c.k[l]; i++)
                lr->wf.R[l][i] = (float)lr->wd.R[l][i];
    }
    for (int l = 2; l <= c.L; l++) {
        double sd = lc->init_scale / sqrt((double)lr->H[l]);
        bfc_rng_normal(r, lr->theta + lr->off[l], lr->off[l + 1] - lr->off[l], sd);
    }
    gsl_rng_free(r);
    *status = BFC_OK;
    return lr;
oom:
    bfc_learner_free(lr);
    *status = bfc_fail(BFC_ENOMEM, "out of memory allocating the learner");
    return NULL;
}

/* ---- the public entry points: double, or single with conversions at entry and exit ---- */

static int single(const bfc_learner *lr) { return lr->wf.theta != NULL; }

/* Float copy of the parameters that layers 2..top read (and the bias). */
static void params_to_float(bfc_learner *lr, int top)
{
    lr->wf.theta[0] = (float)lr->theta[0];
    for (size_t i = lr->off[2]; i < lr->off[top + 1]; i++) lr->wf.theta[i] = (float)lr->theta[i];
}

void bfc_learner_forward(bfc_learner *lr, const double *X, int B, int top, double *out)
{
    BFC_ASSERT(B >= 1 && B <= lr->bmax && top >= 2 && top <= lr->L);
    if (!single(lr)) {
        forward_rows_d(lr, X, B, top, 0, 1, out);
        return;
    }
    params_to_float(lr, top);
    forward_rows_f(lr, X, B, top, 0, 1, out);
}

void bfc_learner_predict(bfc_learner *lr, const double *X, int n, int top, double *out)
{
    if (single(lr)) params_to_float(lr, top);
    for (int i = 0; i < n; i += lr->bmax) {
        int B = n - i < lr->bmax ? n - i : lr->bmax;
        if (single(lr)) forward_rows_f(lr, X + (size_t)i * lr->d, B, top, 0, 1, out + i);
        else forward_rows_d(lr, X + (size_t)i * lr->d, B, top, 0, 1, out + i);
    }
}

void bfc_learner_features(bfc_learner *lr, const double *X, int n, int l, double *S)
{
    BFC_ASSERT(l >= 2 && l < lr->L);
    int k = lr->k[l];
    for (int i = 0; i < n; i += lr->bmax) {
        int B = n - i < lr->bmax ? n - i : lr->bmax;
        forward_rows_d(lr, X + (size_t)i * lr->d, B, l, 1, 0, NULL);
        memcpy(S + (size_t)i * k, lr->wd.S[l], sizeof(double) * (size_t)B * k);
    }
}

double bfc_learner_loss_grad(bfc_learner *lr, const double *X, const double *y, int B, int top,
                             int lo, double *grad, double parts[3])
{
    BFC_ASSERT(B >= 1 && B <= lr->bmax && top >= 2 && top <= lr->L && lo >= 2 && lo <= top);
    if (!single(lr)) return loss_grad_d(lr, X, y, B, top, lo, grad, parts);
    params_to_float(lr, top);
    const double obj = loss_grad_f(lr, X, y, B, top, lo, lr->wf.grad, parts);
    const float *g = lr->wf.grad;
    for (size_t i = lr->off[lo]; i < lr->off[top + 1]; i++) grad[i] = g[i];
    if (lr->task == BFC_TASK_CLASSIFICATION) grad[0] = g[0];
    return obj;
}

void bfc_learner_output_grad(bfc_learner *lr, const double *x, int top, int lo, double *grad)
{
    BFC_ASSERT(top >= 2 && top <= lr->L && lo >= 2 && lo <= top);
    forward_rows_d(lr, x, 1, top, 0, 1, lr->out);
    lr->wd.e[0] = 1.0;
    double tie, wd;
    backward_d(lr, 1, top, lo, 0, grad, &tie, &wd);
    if (lr->task == BFC_TASK_CLASSIFICATION) grad[0] = -1.0;
}

double bfc_learner_step_flops(const bfc_learner *lr, int B, int top, int lo)
{
    double fl = 0.0;
    if (lr->cfg.clamp <= 0) { /* h*Q* forward, h*ᵀ diag(e) h* backward (learner_impl.h) */
        int useg[BFC_MAX_L];
        const double Hs = union_layout(lr, top, useg);
        fl += 2 * 2 * B * Hs * Hs;
    }
    for (int l = 2; l <= top; l++) {
        double H = lr->H[l], m = lr->m[l], k = lr->k[l], p = lr->p[l];
        if (l < lr->L && l < top) fl += 2 * B * H * k + 2 * B * k * p;
        if (lr->cfg.clamp > 0) fl += 2 * B * H * m;
        else fl += H * H * m;
        if (l < lo) continue;
        if (lr->cfg.clamp > 0) fl += 2 * 2 * B * H * m;
        else fl += 2 * m * H * H;
        if (l < lr->L) fl += 2 * B * H * k * 2 + k * H * H * 3;
    }
    return fl;
}
