/* learner.c: forward and backward of the hierarchical learner of SPEC §2 over BLAS.
 * Forward and backward of each operation sit next to each other; no allocation after
 * bfc_learner_new. Shapes are row-major, B is the batch size. */
#include "learner.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

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
    double *theta;
    double *R[BFC_MAX_L + 1];              /* p_l × k_l, fixed */
    /* workspace (bmax rows) */
    double *h[BFC_MAX_L + 1], *dh[BFC_MAX_L + 1];
    double *P[BFC_MAX_L + 1];              /* B × H (h Q) or B × m (F, clamp path) */
    double *S[BFC_MAX_L + 1], *dS[BFC_MAX_L + 1];
    double *U[BFC_MAX_L + 1];              /* B × p: R S before clamping */
    double *Q[BFC_MAX_L + 1], *D[BFC_MAX_L + 1], *M[BFC_MAX_L + 1]; /* H × H */
    double *f[BFC_MAX_L + 1];              /* B: ‖F_l‖² */
    double *scratch;                       /* B × max(H, m) */
    double *out, *e;                       /* B */
    void *block;                           /* the one workspace allocation */
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
    c->seed = 0;
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
const double *bfc_learner_R(const bfc_learner *lr, int l) { return lr->R[l]; }

void bfc_learner_slice(const bfc_learner *lr, int lo, int top, size_t *off, size_t *len)
{
    BFC_ASSERT(lo >= 2 && lo <= top && top <= lr->L);
    *off = lr->off[lo];
    *len = lr->off[top + 1] - lr->off[lo];
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
    for (int l = 0; l <= BFC_MAX_L; l++) bfc_free(lr->R[l]);
    bfc_free(lr->block);
    free(lr);
}

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

    /* workspace: one block */
    size_t need = 0, Bs = (size_t)bmax;
    int wmax = 1;
    for (int l = 2; l <= c.L; l++) {
        size_t H = (size_t)lr->H[l];
        need += 3 * Bs * H + Bs * (size_t)(lr->m[l] > lr->H[l] ? lr->m[l] : lr->H[l]);
        need += 2 * Bs * (size_t)c.k[l] + Bs * (size_t)lr->p[l] + 3 * H * H + Bs;
        if (lr->H[l] > wmax) wmax = lr->H[l];
        if (lr->m[l] > wmax) wmax = lr->m[l];
    }
    need += Bs * (size_t)wmax + 2 * Bs;
    double *w = bfc_alloc_d(need + 64 * (size_t)(8 * c.L + 8));
    if (!w) goto oom;
    lr->block = w;
#define TAKE(ptr, count)                                                                         \
    do {                                                                                         \
        (ptr) = w;                                                                               \
        w += (((size_t)(count)) + 7u) & ~(size_t)7u;                                             \
    } while (0)
    for (int l = 2; l <= c.L; l++) {
        size_t H = (size_t)lr->H[l];
        TAKE(lr->h[l], Bs * H);
        TAKE(lr->dh[l], Bs * H);
        TAKE(lr->P[l], Bs * (size_t)(lr->m[l] > lr->H[l] ? lr->m[l] : lr->H[l]));
        TAKE(lr->S[l], Bs * (size_t)c.k[l]);
        TAKE(lr->dS[l], Bs * (size_t)c.k[l]);
        TAKE(lr->U[l], Bs * (size_t)lr->p[l]);
        TAKE(lr->Q[l], H * H);
        TAKE(lr->D[l], H * H);
        TAKE(lr->M[l], H * H);
        TAKE(lr->f[l], Bs);
    }
    TAKE(lr->scratch, Bs * (size_t)wmax);
    TAKE(lr->out, Bs);
    TAKE(lr->e, Bs);
#undef TAKE

    /* initialisation: fixed maps R_l first, then W_l, K_l, from the INIT stream */
    gsl_rng *r = bfc_rng_new(lc->seed, BFC_STREAM_INIT);
    if (!r) goto oom;
    for (int l = 2; l < c.L; l++) {
        if (!lr->p[l]) continue;
        lr->R[l] = bfc_alloc_d((size_t)lr->p[l] * c.k[l]);
        if (!lr->R[l]) {
            gsl_rng_free(r);
            goto oom;
        }
        bfc_rng_normal(r, lr->R[l], (size_t)lr->p[l] * c.k[l], 1.0 / sqrt((double)c.k[l]));
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

/* ---- elementwise pieces -------------------------------------------------------------- */

/* σ with the optional clamp: value of σ(clamp(u)) and its derivative 2·clamp(u)·[|u| < B]. */
static inline double clampv(double u, double B)
{
    return B > 0 ? (u > B ? B : (u < -B ? -B : u)) : u;
}
static inline double dsq_clamped(double u, double B)
{
    return (B > 0 && (u >= B || u <= -B)) ? 0.0 : 2.0 * u;
}

/* Build h_l (B × H) from x and the lower layers' U (already computed). */
static void build_h(bfc_learner *lr, const double *X, int B, int l)
{
    int H = lr->H[l], d = lr->d;
    double *h = lr->h[l], Bc = lr->cfg.clamp;
    for (int b = 0; b < B; b++) {
        double *hb = h + (size_t)b * H;
        const double *xb = X + (size_t)b * d;
        for (int j = 0; j < l; j++) {
            int o = lr->seg[l][j];
            if (o < 0) continue;
            if (j == 0) {
                memcpy(hb + o, xb, sizeof(double) * (size_t)d);
            } else if (j == 1) {
                for (int i = 0; i < d; i++) hb[o + i] = xb[i] * xb[i] - 1.0;
            } else {
                const double *u = lr->U[j] + (size_t)b * lr->p[j];
                for (int i = 0; i < lr->p[j]; i++) {
                    double z = clampv(u[i], Bc);
                    hb[o + i] = z * z;
                }
            }
        }
        hb[H - 1] = 1.0;
    }
}

/* S_l (B × k) = h_l K_lᵀ and U_l (B × p) = S_l R_lᵀ. */
static void feature_forward(bfc_learner *lr, int B, int l)
{
    int H = lr->H[l], k = lr->k[l];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, k, H, 1.0, lr->h[l], H,
                lr->theta + lr->offK[l], H, 0.0, lr->S[l], k);
    if (lr->p[l])
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, lr->p[l], k, 1.0, lr->S[l], k,
                    lr->R[l], k, 0.0, lr->U[l], lr->p[l]);
}

/* Output branch forward: f_l (B) = ‖clamp(W_l h_l)‖². Unclamped: Q_l = W_lᵀW_l,
 * P_l = h_l Q_l, f = rowwise <P_l, h_l>. Clamped: P_l = F_l = h_l W_lᵀ. */
static void output_forward(bfc_learner *lr, int B, int l)
{
    int H = lr->H[l], m = lr->m[l];
    const double *W = lr->theta + lr->off[l], *h = lr->h[l];
    double *P = lr->P[l], *f = lr->f[l], Bc = lr->cfg.clamp;
    if (Bc > 0) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, m, H, 1.0, h, H, W, H, 0.0, P, m);
        for (int b = 0; b < B; b++) {
            double s = 0.0;
            const double *Fb = P + (size_t)b * m;
            for (int i = 0; i < m; i++) {
                double z = clampv(Fb[i], Bc);
                s += z * z;
            }
            f[b] = s;
        }
    } else {
        double *Q = lr->Q[l];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, H, m, 1.0, W, H, 0.0, Q, H);
        for (int i = 0; i < H; i++)
            for (int j = 0; j < i; j++) Q[(size_t)i * H + j] = Q[(size_t)j * H + i];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, H, 1.0, h, H, Q, H, 0.0, P, H);
        for (int b = 0; b < B; b++) f[b] = cblas_ddot(H, P + (size_t)b * H, 1, h + (size_t)b * H, 1);
    }
}

/* Forward through layers 2..top. need_S_top: also compute S_top (for feature read-out).
 * with_output: accumulate out (B) = Σ α_l f_l (minus the bias for classification). */
static void forward_rows(bfc_learner *lr, const double *X, int B, int top, int need_S_top,
                         int with_output, double *out)
{
    for (int l = 2; l <= top; l++) {
        build_h(lr, X, B, l);
        if (l < lr->L && (l < top || need_S_top)) feature_forward(lr, B, l);
        if (with_output) output_forward(lr, B, l);
    }
    if (!with_output) return;
    double bias = lr->task == BFC_TASK_CLASSIFICATION ? lr->theta[0] : 0.0;
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int l = 2; l <= top; l++) s += lr->alpha[l] * lr->f[l][b];
        out[b] = s - bias;
    }
}

void bfc_learner_forward(bfc_learner *lr, const double *X, int B, int top, double *out)
{
    BFC_ASSERT(B >= 1 && B <= lr->bmax && top >= 2 && top <= lr->L);
    forward_rows(lr, X, B, top, 0, 1, out);
}

void bfc_learner_predict(bfc_learner *lr, const double *X, int n, int top, double *out)
{
    for (int i = 0; i < n; i += lr->bmax) {
        int B = n - i < lr->bmax ? n - i : lr->bmax;
        forward_rows(lr, X + (size_t)i * lr->d, B, top, 0, 1, out + i);
    }
}

void bfc_learner_features(bfc_learner *lr, const double *X, int n, int l, double *S)
{
    BFC_ASSERT(l >= 2 && l < lr->L);
    int k = lr->k[l];
    for (int i = 0; i < n; i += lr->bmax) {
        int B = n - i < lr->bmax ? n - i : lr->bmax;
        forward_rows(lr, X + (size_t)i * lr->d, B, l, 1, 0, NULL);
        memcpy(S + (size_t)i * k, lr->S[l], sizeof(double) * (size_t)B * k);
    }
}

/* ---- backward ------------------------------------------------------------------------ */

/* Tie matrix D_l = K_lᵀK_l − W_lᵀW_l (H × H, full); returns ‖D_l‖²_F. Uses Q_l = W_lᵀW_l when
 * the unclamped forward already formed it. */
static double tie_matrix(bfc_learner *lr, int l)
{
    int H = lr->H[l], m = lr->m[l], k = lr->k[l];
    const double *W = lr->theta + lr->off[l], *K = lr->theta + lr->offK[l];
    double *D = lr->D[l];
    if (lr->cfg.clamp > 0) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, H, m, -1.0, W, H, 0.0, D, H);
    } else {
        for (int i = 0; i < H; i++)
            for (int j = i; j < H; j++) D[(size_t)i * H + j] = -lr->Q[l][(size_t)i * H + j];
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, H, k, 1.0, K, H, 1.0, D, H);
    double s = 0.0;
    for (int i = 0; i < H; i++) {
        s += D[(size_t)i * H + i] * D[(size_t)i * H + i];
        for (int j = i + 1; j < H; j++) {
            double v = D[(size_t)i * H + j];
            D[(size_t)j * H + i] = v;
            s += 2.0 * v * v;
        }
    }
    return s;
}

/* Backward pass after forward_rows with e (B) = d objective / d out: gradient of the data
 * term plus (if reg) the tie and weight decay of layers lo..top into grad; returns the tie
 * and weight-decay values in *tie_out, *wd_out. */
static void backward(bfc_learner *lr, int B, int top, int lo, int reg, double *grad,
                     double *tie_out, double *wd_out);

double bfc_learner_loss_grad(bfc_learner *lr, const double *X, const double *y, int B, int top,
                             int lo, double *grad, double parts[3])
{
    BFC_ASSERT(B >= 1 && B <= lr->bmax && top >= 2 && top <= lr->L && lo >= 2 && lo <= top);
    double *out = lr->out, *e = lr->e;
    forward_rows(lr, X, B, top, 0, 1, out);

    /* loss and dloss/dout */
    double loss = 0.0;
    if (lr->task == BFC_TASK_CLASSIFICATION) {
        double gb = 0.0;
        for (int b = 0; b < B; b++) {
            double z = y[b] * out[b];
            /* log(1 + e^{−z}) computed stably; d/dout = −y σ(−z) */
            loss += z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z));
            double s = z > 0 ? exp(-z) / (1.0 + exp(-z)) : 1.0 / (1.0 + exp(z));
            e[b] = -y[b] * s / B;
            gb -= e[b];
        }
        grad[0] = gb;
    } else {
        for (int b = 0; b < B; b++) {
            double r = out[b] - y[b];
            loss += r * r;
            e[b] = 2.0 * r / B;
        }
    }
    loss /= B;
    double tie = 0.0, wd = 0.0;
    backward(lr, B, top, lo, 1, grad, &tie, &wd);
    if (parts) {
        parts[0] = loss;
        parts[1] = tie;
        parts[2] = wd;
    }
    return loss + tie + wd;
}

void bfc_learner_output_grad(bfc_learner *lr, const double *x, int top, int lo, double *grad)
{
    BFC_ASSERT(top >= 2 && top <= lr->L && lo >= 2 && lo <= top);
    forward_rows(lr, x, 1, top, 0, 1, lr->out);
    lr->e[0] = 1.0;
    double tie, wd;
    backward(lr, 1, top, lo, 0, grad, &tie, &wd);
    if (lr->task == BFC_TASK_CLASSIFICATION) grad[0] = -1.0;
}

static void backward(bfc_learner *lr, int B, int top, int lo, int reg, double *grad,
                     double *tie_out, double *wd_out)
{
    const double lt = reg ? lr->cfg.lambda_tie : 0.0, lw = reg ? lr->cfg.lambda_wd : 0.0;
    const double Bc = lr->cfg.clamp;
    const double *e = lr->e;
    for (int l = lo; l < top; l++)
        if (lr->k[l]) memset(lr->dS[l], 0, sizeof(double) * (size_t)B * lr->k[l]);

    double tie = 0.0, wd = 0.0;
    for (int l = top; l >= lo; l--) {
        const int H = lr->H[l], m = lr->m[l], k = lr->k[l];
        const double *W = lr->theta + lr->off[l], *h = lr->h[l];
        double *gW = grad + lr->off[l], *dh = lr->dh[l], *hg = lr->scratch;
        const double a = lr->alpha[l];
        int need_dh = 0; /* does h_l carry gradient into a trainable lower layer? */
        for (int j = lo; j < l; j++)
            if (j >= 2 && lr->seg[l][j] >= 0) need_dh = 1;
        int has_tie = l < lr->L && lt > 0;
        if (has_tie) tie += lt * tie_matrix(lr, l);

        if (Bc > 0) {
            /* dF (B × m) = 2 α e_b clamp(F) [|F| < B]; gW = dFᵀ h; dh = dF W */
            const double *F = lr->P[l];
            for (int b = 0; b < B; b++)
                for (int i = 0; i < m; i++) {
                    double u = F[(size_t)b * m + i];
                    hg[(size_t)b * m + i] = a * e[b] * dsq_clamped(u, Bc);
                }
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, H, B, 1.0, hg, m, h, H, 0.0,
                        gW, H);
            if (has_tie)
                cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, m, H, -4.0 * lt, lr->D[l], H,
                            W, H, 1.0, gW, H);
            if (need_dh)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, m, 1.0, hg, m, W, H,
                            0.0, dh, H);
        } else {
            /* f_l = hᵀQh: dQ = Σ_b α e_b h_b h_bᵀ; gW = W (2 dQ − 4 λ D); dh = 2 α e_b P_b */
            for (int b = 0; b < B; b++) {
                double s = a * e[b];
                for (int i = 0; i < H; i++) hg[(size_t)b * H + i] = s * h[(size_t)b * H + i];
            }
            double *Mx = lr->M[l];
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, B, 2.0, h, H, hg, H, 0.0,
                        Mx, H);
            if (has_tie) cblas_daxpy(H * H, -4.0 * lt, lr->D[l], 1, Mx, 1);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, H, H, 1.0, W, H, Mx, H, 0.0,
                        gW, H);
            if (need_dh) {
                const double *P = lr->P[l];
                for (int b = 0; b < B; b++) {
                    double s = 2.0 * a * e[b];
                    for (int i = 0; i < H; i++) dh[(size_t)b * H + i] = s * P[(size_t)b * H + i];
                }
            }
        }
        if (lw > 0) {
            wd += lw * cblas_ddot(m * H, W, 1, W, 1);
            cblas_daxpy(m * H, 2.0 * lw, W, 1, gW, 1);
        }

        if (l < lr->L) {
            /* K_l: gK = dS_lᵀ h_l + 4 λ K_l D_l + 2 λ_wd K_l; dh += dS_l K_l */
            const double *K = lr->theta + lr->offK[l];
            double *gK = grad + lr->offK[l];
            if (l < top)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, H, B, 1.0, lr->dS[l], k, h,
                            H, 0.0, gK, H);
            else
                memset(gK, 0, sizeof(double) * (size_t)k * H);
            if (has_tie)
                cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, k, H, 4.0 * lt, lr->D[l], H, K,
                            H, 1.0, gK, H);
            if (lw > 0) {
                wd += lw * cblas_ddot(k * H, K, 1, K, 1);
                cblas_daxpy(k * H, 2.0 * lw, K, 1, gK, 1);
            }
            if (need_dh && l < top)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, k, 1.0, lr->dS[l], k,
                            K, H, 1.0, dh, H);
        }

        /* into the segments σ(R_j S_j) of h_l: dU = dh_seg ⊙ σ'(U), dS_j += dU R_j */
        if (!need_dh) continue;
        for (int j = lo; j < l; j++) {
            int o = lr->seg[l][j];
            if (j < 2 || o < 0) continue;
            int p = lr->p[j], kj = lr->k[j];
            const double *U = lr->U[j];
            double *dU = lr->scratch; /* hg no longer needed */
            for (int b = 0; b < B; b++)
                for (int i = 0; i < p; i++)
                    dU[(size_t)b * p + i] =
                        dh[(size_t)b * H + o + i] * dsq_clamped(U[(size_t)b * p + i], Bc);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, kj, p, 1.0, dU, p, lr->R[j],
                        kj, 1.0, lr->dS[j], kj);
        }
    }
    *tie_out = tie;
    *wd_out = wd;
}

double bfc_learner_step_flops(const bfc_learner *lr, int B, int top, int lo)
{
    double fl = 0.0;
    for (int l = 2; l <= top; l++) {
        double H = lr->H[l], m = lr->m[l], k = lr->k[l], p = lr->p[l];
        if (l < lr->L && l < top) fl += 2 * B * H * k + 2 * B * k * p;
        if (lr->cfg.clamp > 0) fl += 2 * B * H * m;
        else fl += H * H * m + 2 * B * H * H;
        if (l < lo) continue;
        if (lr->cfg.clamp > 0) fl += 2 * 2 * B * H * m;
        else fl += 2 * B * H * H + 2 * m * H * H;
        if (l < lr->L) fl += 2 * B * H * k * 2 + k * H * H * 3;
    }
    return fl;
}
