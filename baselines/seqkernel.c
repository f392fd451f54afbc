/* seqkernel.c: the sequential kernel baseline: layer-by-layer ridge regression on quadratic
 * monomials of the current features, low-rank read-out of the fitted forms (seqkernel.h). */
#include "seqkernel.h"

#include <cblas.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dense_solve.h"
#include "metrics.h"
#include "rng.h"

/* Eigenvalues of the scaled monomial Gram matrix below NULL_TOL·λ_max are exact relations
 * among the monomials (zero in exact arithmetic, ~P·ε·λ_max in floating point); the genuine
 * ones of Gaussian polynomials of degree ≤ 8 are many orders of magnitude above. */
#define NULL_TOL 1e-10
/* Alignment stops when the distance to the rank-k set falls by less than this (relative). */
#define ALIGN_TOL 1e-12
/* Rows evaluated at once by predict/features. */
#define CHUNK 1024

struct bfc_seqk_model {
    bfc_seqk_config cfg;
    int d, L;
    int k[BFC_MAX_L + 1];
    unsigned J[BFC_MAX_L + 1];
    double alpha[BFC_MAX_L + 1];
    int H[BFC_MAX_L + 1];              /* dim h_l with the constant */
    int p[BFC_MAX_L + 1];              /* rows of R_l; 0 if S_l feeds nothing */
    int seg[BFC_MAX_L + 1][BFC_MAX_L]; /* offset of segment j inside h_l, −1 if absent */
    double *R[BFC_MAX_L + 1];          /* p_l × k_l */
    double *M[BFC_MAX_L + 1];          /* H_l × H_l */
    double *K[BFC_MAX_L + 1];          /* k_l × H_l (l with p_l > 0) */
    bfc_seqk_report rep;
};

void bfc_seqk_defaults(bfc_seqk_config *c)
{
    c->val_frac = 0.2;
    c->ridge_min = 1e-12;
    c->ridge_max = 1e2;
    c->n_ridge = 29;
    c->p_extra = 2;
    c->align = 1;
    c->align_iters = 500;
    c->max_bytes = (size_t)4 << 30;
    c->seed = 0;
}

const bfc_seqk_report *bfc_seqk_report_of(const bfc_seqk_model *m) { return &m->rep; }
int bfc_seqk_dim_h(const bfc_seqk_model *m, int l) { return m->H[l]; }
const double *bfc_seqk_form(const bfc_seqk_model *m, int l) { return m->M[l]; }
const double *bfc_seqk_factor(const bfc_seqk_model *m, int l) { return m->K[l]; }
const double *bfc_seqk_R(const bfc_seqk_model *m, int l) { return m->R[l]; }

void bfc_seqk_free(bfc_seqk_model *m)
{
    if (!m) return;
    for (int l = 0; l <= BFC_MAX_L; l++) {
        bfc_free(m->R[l]);
        bfc_free(m->M[l]);
        bfc_free(m->K[l]);
    }
    free(m);
}

/* ---- pure kernels ------------------------------------------------------------------- */

void bfc_seqk_monomials(double *phi, const double *h, int n, int H)
{
    const size_t P = (size_t)H * (H + 1) / 2;
    for (int i = 0; i < n; i++) {
        const double *hi = h + (size_t)i * H;
        double *out = phi + (size_t)i * P;
        for (int a = 0; a < H; a++) {
            const double ha = hi[a];
            for (int b = a; b < H; b++) *out++ = ha * hi[b];
        }
    }
}

void bfc_seqk_form_of(double *M, const double *c, int H)
{
    size_t q = 0;
    for (int a = 0; a < H; a++) {
        M[(size_t)a * H + a] = c[q++];
        for (int b = a + 1; b < H; b++, q++) {
            M[(size_t)a * H + b] = 0.5 * c[q];
            M[(size_t)b * H + a] = 0.5 * c[q];
        }
    }
}

/* low (H, H) = nearest PSD form of rank ≤ k to M (H, H): top-k eigenpairs, negatives at 0.
 * If K is non-NULL, K (k, H) = diag(√λ⁺) Vᵀ, largest first. E, w, work, iwork: scratch. */
static int lowrank_psd(const double *M, int H, int k, double *low, double *K, double *E,
                       double *w, double *work, int *iwork)
{
    memcpy(E, M, sizeof(double) * (size_t)H * H);
    int st = bfc_eigen_sym(E, H, w, work, iwork);
    if (st) return st;
    if (low) memset(low, 0, sizeof(double) * (size_t)H * H);
    for (int a = 0; a < k && a < H; a++) {
        int i = H - 1 - a;
        double lam = w[i] > 0 ? w[i] : 0.0;
        const double *v = E + (size_t)i * H;
        if (low && lam > 0) cblas_dger(CblasRowMajor, H, H, lam, v, 1, v, 1, low, H);
        if (K)
            for (int b = 0; b < H; b++) K[(size_t)a * H + b] = sqrt(lam) * v[b];
    }
    if (K)
        for (int a = H; a < k; a++) memset(K + (size_t)a * H, 0, sizeof(double) * (size_t)H);
    return BFC_OK;
}

static double frob_dist(const double *A, const double *B, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (A[i] - B[i]) * (A[i] - B[i]);
    return sqrt(s);
}

/* Alternating projections between the affine set {M + Σ t_s N_s} and the rank-k PSD forms.
 * N (r, H·H): the null forms, orthonormalised here in place (Frobenius). M is updated.
 * Returns the final relative distance in *tail. */
static int align_form(double *M, int H, int k, double *N, int r, int iters, double *tail,
                      double *low, double *E, double *w, double *work, int *iwork)
{
    const size_t HH = (size_t)H * H;
    /* modified Gram-Schmidt, twice for stability; dependent forms are dropped */
    int q = 0;
    for (int s = 0; s < r; s++) {
        double *v = N + (size_t)s * HH;
        double n0 = cblas_dnrm2((int)HH, v, 1);
        for (int pass = 0; pass < 2; pass++)
            for (int u = 0; u < q; u++) {
                const double *b = N + (size_t)u * HH;
                cblas_daxpy((int)HH, -cblas_ddot((int)HH, v, 1, b, 1), b, 1, v, 1);
            }
        double nv = cblas_dnrm2((int)HH, v, 1);
        if (!(nv > 1e-8 * n0)) continue;
        cblas_dscal((int)HH, 1.0 / nv, v, 1);
        if (q != s) memcpy(N + (size_t)q * HH, v, sizeof(double) * HH);
        q++;
    }
    const double nm = cblas_dnrm2((int)HH, M, 1);
    double prev = INFINITY, dist = 0.0;
    for (int it = 0; it <= iters; it++) {
        int st = lowrank_psd(M, H, k, low, NULL, E, w, work, iwork);
        if (st) return st;
        dist = frob_dist(M, low, HH);
        if (it == iters || q == 0 || !(prev - dist > ALIGN_TOL * nm)) break;
        prev = dist;
        /* M += Π_N (low − M) */
        for (size_t i = 0; i < HH; i++) low[i] -= M[i];
        for (int u = 0; u < q; u++) {
            const double *b = N + (size_t)u * HH;
            cblas_daxpy((int)HH, cblas_ddot((int)HH, low, 1, b, 1), b, 1, M, 1);
        }
    }
    *tail = nm > 0 ? dist / nm : 0.0;
    return BFC_OK;
}

/* ---- features ----------------------------------------------------------------------- */

/* h (B, H_l) for rows X (B, d) and lower features S[j] (B, k_j); u (B, max p) scratch. */
static void build_h(const bfc_seqk_model *m, int l, const double *X, int B, double *const *S,
                    double *h, double *u)
{
    const int H = m->H[l], d = m->d;
    for (int j = 2; j < l; j++) {
        int o = m->seg[l][j];
        if (o < 0) continue;
        int p = m->p[j], k = m->k[j];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, p, k, 1.0, S[j], k, m->R[j], k,
                    0.0, u, p);
        for (int b = 0; b < B; b++)
            for (int i = 0; i < p; i++) {
                double z = u[(size_t)b * p + i];
                h[(size_t)b * H + o + i] = z * z;
            }
    }
    for (int b = 0; b < B; b++) {
        double *hb = h + (size_t)b * H;
        const double *xb = X + (size_t)b * d;
        if (m->seg[l][0] >= 0) memcpy(hb + m->seg[l][0], xb, sizeof(double) * (size_t)d);
        if (m->seg[l][1] >= 0)
            for (int i = 0; i < d; i++) hb[m->seg[l][1] + i] = xb[i] * xb[i] - 1.0;
        hb[H - 1] = 1.0;
    }
}

static int max_H(const bfc_seqk_model *m)
{
    int v = 1;
    for (int l = 2; l <= m->L; l++) v = m->H[l] > v ? m->H[l] : v;
    return v;
}
static int max_p(const bfc_seqk_model *m)
{
    int v = 1;
    for (int l = 2; l <= m->L; l++) v = m->p[l] > v ? m->p[l] : v;
    return v;
}

/* Chunked forward: pred (n) if non-NULL; S_out (n, k_want) of layer want if non-NULL. */
static int run_chunks(const bfc_seqk_model *m, const double *X, int n, int want, double *S_out,
                      double *pred)
{
    const int top = pred ? m->L : want, Hm = max_H(m);
    double *h = bfc_alloc_d((size_t)CHUNK * Hm), *q = bfc_alloc_d((size_t)CHUNK * Hm);
    double *u = bfc_alloc_d((size_t)CHUNK * max_p(m));
    double *S[BFC_MAX_L + 1] = {0};
    int ok = h && q && u;
    for (int l = 2; l < m->L && ok; l++)
        if (m->K[l]) ok = (S[l] = bfc_alloc_d((size_t)CHUNK * m->k[l])) != NULL;
    if (!ok) {
        bfc_free(h);
        bfc_free(q);
        bfc_free(u);
        for (int l = 0; l <= BFC_MAX_L; l++) bfc_free(S[l]);
        return bfc_fail(BFC_ENOMEM, "out of memory evaluating the sequential kernel");
    }
    for (int i0 = 0; i0 < n; i0 += CHUNK) {
        const int B = n - i0 < CHUNK ? n - i0 : CHUNK;
        const double *Xb = X + (size_t)i0 * m->d;
        if (pred) memset(pred + i0, 0, sizeof(double) * (size_t)B);
        for (int l = 2; l <= top; l++) {
            const int H = m->H[l];
            build_h(m, l, Xb, B, S, h, u);
            if (pred) {
                cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, B, H, 1.0, m->M[l], H, h, H,
                            0.0, q, H);
                for (int b = 0; b < B; b++)
                    pred[i0 + b] += m->alpha[l] *
                                    cblas_ddot(H, q + (size_t)b * H, 1, h + (size_t)b * H, 1);
            }
            if (m->K[l])
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, m->k[l], H, 1.0, h, H,
                            m->K[l], H, 0.0, S[l], m->k[l]);
        }
        if (S_out)
            memcpy(S_out + (size_t)i0 * m->k[want], S[want],
                   sizeof(double) * (size_t)B * m->k[want]);
    }
    bfc_free(h);
    bfc_free(q);
    bfc_free(u);
    for (int l = 0; l <= BFC_MAX_L; l++) bfc_free(S[l]);
    return BFC_OK;
}

int bfc_seqk_predict(const bfc_seqk_model *m, const double *X, int n, double *pred)
{
    return run_chunks(m, X, n, 0, NULL, pred);
}

int bfc_seqk_features(const bfc_seqk_model *m, const double *X, int n, int l, double *S)
{
    if (l < 2 || l >= m->L || !m->K[l])
        return bfc_fail(BFC_EINVAL, "layer %d passes no feature up (layers 2..%d that feed a "
                                    "higher layer do)", l, m->L - 1);
    return run_chunks(m, X, n, l, S, NULL);
}

int bfc_seqk_feature_error(const bfc_seqk_model *m, const bfc_target *t, const double *X, int n,
                           int l, double *err)
{
    const bfc_target_config *tc = bfc_target_config_of(t);
    if (tc->L != m->L || tc->d != m->d || l < 2 || l >= m->L || tc->k[l] != m->k[l])
        return bfc_fail(BFC_EINVAL, "feature error: target and model disagree (or bad layer %d)",
                        l);
    double *S = bfc_alloc_d((size_t)n * m->k[l]);
    double *Ss[BFC_MAX_L + 1] = {0};
    Ss[l] = bfc_alloc_d((size_t)n * tc->k[l]);
    int st = (!S || !Ss[l]) ? bfc_fail(BFC_ENOMEM, "out of memory for a feature error") : BFC_OK;
    if (!st) st = bfc_seqk_features(m, X, n, l, S);
    if (!st) st = bfc_target_eval(t, X, n, NULL, Ss);
    if (!st) st = bfc_feature_error(S, m->k[l], Ss[l], tc->k[l], n, err);
    bfc_free(S);
    bfc_free(Ss[l]);
    return st;
}

/* ---- fit ---------------------------------------------------------------------------- */

static int has_consumer(const bfc_seqk_model *m, int j)
{
    for (int l = j + 1; l <= m->L; l++)
        if (m->J[l] & (1u << j)) return 1;
    return 0;
}

static int validate(const bfc_seqk_config *c)
{
    if (!(c->val_frac > 0.0 && c->val_frac < 1.0))
        return bfc_fail(BFC_EINVAL, "seqkernel: val_frac must be in (0, 1) (got %g)", c->val_frac);
    if (!(c->ridge_min > 0.0) || !(c->ridge_max >= c->ridge_min) || !isfinite(c->ridge_max))
        return bfc_fail(BFC_EINVAL, "seqkernel: the ridge grid needs 0 < ridge_min <= ridge_max "
                                    "(got %g, %g)", c->ridge_min, c->ridge_max);
    if (c->n_ridge < 1 || c->n_ridge > 1000)
        return bfc_fail(BFC_EINVAL, "seqkernel: n_ridge must be in 1..1000 (got %d)", c->n_ridge);
    if (c->p_extra < 0 || c->p_extra > 1000)
        return bfc_fail(BFC_EINVAL, "seqkernel: p_extra must be in 0..1000 (got %d)", c->p_extra);
    if (c->align_iters < 0)
        return bfc_fail(BFC_EINVAL, "seqkernel: align_iters must be >= 0 (got %d)", c->align_iters);
    return BFC_OK;
}

/* Geometry of the model from a resolved target configuration. */
static bfc_seqk_model *model_new(const bfc_seqk_config *c, const bfc_target_config *tc)
{
    bfc_seqk_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg = *c;
    m->d = tc->d;
    m->L = tc->L;
    memcpy(m->k, tc->k, sizeof m->k);
    memcpy(m->J, tc->J, sizeof m->J);
    memcpy(m->alpha, tc->alpha, sizeof m->alpha);
    for (int l = 2; l <= m->L; l++)
        m->p[l] = (l < m->L && has_consumer(m, l)) ? m->k[l] * (m->k[l] + 1) / 2 + c->p_extra : 0;
    for (int l = 2; l <= m->L; l++) {
        int H = 0;
        for (int j = 0; j < BFC_MAX_L; j++) m->seg[l][j] = -1;
        for (int j = 0; j < l; j++) {
            if (!(m->J[l] & (1u << j))) continue;
            m->seg[l][j] = H;
            H += j <= 1 ? m->d : m->p[j];
        }
        m->H[l] = H + 1;
    }
    return m;
}

/* Everything one stage needs, sized for the largest layer. */
typedef struct {
    double *Xp, *yp;                 /* permuted training set: fit rows first */
    double *base;                    /* n: Σ_{j<l} α_j h_jᵀ M_j h_j on the training rows */
    double *r, *fit;                 /* n: residual target, fitted values */
    double *S[BFC_MAX_L + 1];        /* n × k_j: features passed up */
    double *h, *u, *phi, *T;         /* n × H, n × pmax, n × P, n_val × P */
    double *A, *w, *z, *cw, *coef, *scl, *pv, *work; /* P × P, P, P, P, P, P, n_val, eig */
    int *iwork;
    double *Mt, *low, *E, *N;        /* H × H (three), null forms r × H² */
} fit_ws;

static void ws_free(fit_ws *s)
{
    double **ptrs[] = {&s->Xp, &s->yp, &s->base, &s->r, &s->fit, &s->h, &s->u, &s->phi, &s->T,
                       &s->A, &s->w, &s->z, &s->cw, &s->coef, &s->scl, &s->pv, &s->work,
                       &s->Mt, &s->low, &s->E, &s->N};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) bfc_free(*ptrs[i]);
    for (int l = 0; l <= BFC_MAX_L; l++) bfc_free(s->S[l]);
    free(s->iwork);
}

/* Bytes the fit allocates for n rows (n_val held out), the largest layer deciding; the null
 * forms of the alignment (n_null × H², small) come on top. */
static double fit_bytes(const bfc_seqk_model *m, int n, int n_val)
{
    double Pm = 0, Hm = max_H(m), ks = 0;
    for (int l = 2; l <= m->L; l++) {
        double P = (double)m->H[l] * (m->H[l] + 1) / 2;
        Pm = P > Pm ? P : Pm;
        if (m->p[l]) ks += m->k[l];
    }
    double doubles = (double)n * (m->d + 5 + Hm + max_p(m) + ks + Pm) + (double)n_val * (Pm + 1) +
                     3 * Pm * Pm + 8 * Pm + 3 * Hm * Hm;
    return 8.0 * doubles;
}

/* One stage: fit layer l on the residual, fill m->M[l], m->K[l] and the report. */
static int fit_stage(bfc_seqk_model *m, int l, int n, int n_fit, fit_ws *s)
{
    const bfc_seqk_config *c = &m->cfg;
    bfc_seqk_report *rep = &m->rep;
    const int H = m->H[l], P = H * (H + 1) / 2, n_val = n - n_fit;
    const double t0 = bfc_wall_seconds();
    int st;

    /* features, monomials, residual; columns scaled to unit mean square over all rows */
    build_h(m, l, s->Xp, n, s->S, s->h, s->u);
    bfc_seqk_monomials(s->phi, s->h, n, H);
    for (int q = 0; q < P; q++) s->scl[q] = 0.0;
    for (int i = 0; i < n; i++) {
        const double *row = s->phi + (size_t)i * P;
        for (int q = 0; q < P; q++) s->scl[q] += row[q] * row[q];
    }
    for (int q = 0; q < P; q++) {
        s->scl[q] = sqrt(s->scl[q] / n);
        if (!(s->scl[q] > 0)) s->scl[q] = 1.0;
        if (!isfinite(s->scl[q]))
            return bfc_fail(BFC_ENUMERIC, "seqkernel layer %d: non-finite features (monomial "
                                          "%d); check the data", l, q);
    }
    for (int i = 0; i < n; i++) {
        double *row = s->phi + (size_t)i * P;
        for (int q = 0; q < P; q++) row[q] /= s->scl[q];
    }
    for (int i = 0; i < n; i++) s->r[i] = (s->yp[i] - s->base[i]) / m->alpha[l];

    /* ridge path on the fitting rows from one eigendecomposition, scored on the rest */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, P, n_fit, 1.0, s->phi, P, 0.0, s->A, P);
    cblas_dgemv(CblasRowMajor, CblasTrans, n_fit, P, 1.0, s->phi, P, s->r, 1, 0.0, s->cw, 1);
    if ((st = bfc_eigen_sym(s->A, P, s->w, s->work, s->iwork))) return st;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, P, P, 1.0, s->A, P, s->cw, 1, 0.0, s->z, 1);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_val, P, P, 1.0,
                s->phi + (size_t)n_fit * P, P, s->A, P, 0.0, s->T, P);
    const double *rv = s->r + n_fit, *yv = s->yp + n_fit, *bv = s->base + n_fit;
    double rmean = 0.0, ymean = 0.0;
    for (int i = 0; i < n_val; i++) {
        rmean += rv[i];
        ymean += yv[i];
    }
    rmean /= n_val;
    ymean /= n_val;
    double rvar = 0.0, yvar = 0.0;
    for (int i = 0; i < n_val; i++) {
        rvar += (rv[i] - rmean) * (rv[i] - rmean);
        yvar += (yv[i] - ymean) * (yv[i] - ymean);
    }
    const double wmax = s->w[P - 1] > 0 ? s->w[P - 1] : 1.0;
    double best = INFINITY, best_rho = c->ridge_max, best_tot = NAN;
    for (int g = c->n_ridge - 1; g >= 0; g--) { /* large to small: ties keep the larger */
        double rho = c->n_ridge == 1 ? c->ridge_min
                                     : c->ridge_min * pow(c->ridge_max / c->ridge_min,
                                                          (double)g / (c->n_ridge - 1));
        for (int i = 0; i < P; i++)
            s->coef[i] = s->w[i] > NULL_TOL * wmax ? s->z[i] / (s->w[i] + rho * n_fit) : 0.0;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, n_val, P, 1.0, s->T, P, s->coef, 1, 0.0, s->pv,
                    1);
        double e = 0.0, et = 0.0;
        for (int i = 0; i < n_val; i++) {
            e += (s->pv[i] - rv[i]) * (s->pv[i] - rv[i]);
            double tot = bv[i] + m->alpha[l] * s->pv[i] - yv[i];
            et += tot * tot;
        }
        e = rvar > 0 ? e / rvar : e;
        if (e < best) {
            best = e;
            best_rho = rho;
            best_tot = yvar > 0 ? et / yvar : et;
        }
    }
    if (!isfinite(best))
        return bfc_fail(BFC_ENUMERIC, "seqkernel layer %d: validation error is not finite", l);
    rep->ridge[l] = best_rho;
    rep->val_error[l] = best;
    rep->val_error_total[l] = best_tot;

    /* refit on all rows at the chosen ridge; the null space of the full Gram matrix is the
     * set of exact relations among the monomials */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, P, n, 1.0, s->phi, P, 0.0, s->A, P);
    cblas_dgemv(CblasRowMajor, CblasTrans, n, P, 1.0, s->phi, P, s->r, 1, 0.0, s->cw, 1);
    if ((st = bfc_eigen_sym(s->A, P, s->w, s->work, s->iwork))) return st;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, P, P, 1.0, s->A, P, s->cw, 1, 0.0, s->z, 1);
    const double wall = s->w[P - 1] > 0 ? s->w[P - 1] : 1.0;
    int n_null = 0;
    for (int i = 0; i < P; i++) {
        int null = !(s->w[i] > NULL_TOL * wall);
        n_null += null;
        s->z[i] = null ? 0.0 : s->z[i] / (s->w[i] + best_rho * n);
    }
    cblas_dgemv(CblasRowMajor, CblasTrans, P, P, 1.0, s->A, P, s->z, 1, 0.0, s->coef, 1);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, n, P, 1.0, s->phi, P, s->coef, 1, 0.0, s->fit, 1);
    for (int i = 0; i < n; i++) s->base[i] += m->alpha[l] * s->fit[i];
    rep->n_null[l] = n_null;

    /* the form in the coordinates of h */
    for (int q = 0; q < P; q++) s->coef[q] /= s->scl[q];
    bfc_seqk_form_of(m->M[l], s->coef, H);
    for (size_t i = 0; i < (size_t)H * H; i++)
        if (!isfinite(m->M[l][i]))
            return bfc_fail(BFC_ENUMERIC, "seqkernel layer %d: the fitted form is not finite", l);

    if (l < m->L) {
        const int k = m->k[l];
        double *Ew = s->work + bfc_eigen_work_doubles(H); /* eigenvalues of the H × H forms */
        if ((st = lowrank_psd(m->M[l], H, k, s->low, NULL, s->E, Ew, s->work, s->iwork)))
            return st;
        double nm = cblas_dnrm2(H * H, m->M[l], 1);
        rep->tail_plain[l] = nm > 0 ? frob_dist(m->M[l], s->low, (size_t)H * H) / nm : 0.0;
        rep->tail[l] = rep->tail_plain[l];
        if (c->align && n_null > 0) {
            bfc_free(s->N);
            if (!(s->N = bfc_alloc_d((size_t)n_null * H * H)))
                return bfc_fail(BFC_ENOMEM, "out of memory for %d null forms of layer %d", n_null, l);
            /* null forms: eigenvectors of the smallest eigenvalues, back in h coordinates */
            for (int i = 0; i < n_null; i++) {
                const double *v = s->A + (size_t)i * P; /* ascending: nulls come first */
                for (int q = 0; q < P; q++) s->cw[q] = v[q] / s->scl[q];
                bfc_seqk_form_of(s->N + (size_t)i * H * H, s->cw, H);
            }
            memcpy(s->Mt, m->M[l], sizeof(double) * (size_t)H * H);
            if ((st = align_form(s->Mt, H, k, s->N, n_null, c->align_iters, &rep->tail[l], s->low,
                                 s->E, Ew, s->work, s->iwork)))
                return st;
            memcpy(m->M[l], s->Mt, sizeof(double) * (size_t)H * H);
        }
        if (m->K[l]) {
            if ((st = lowrank_psd(m->M[l], H, k, NULL, m->K[l], s->E, Ew, s->work, s->iwork)))
                return st;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, H, 1.0, s->h, H, m->K[l],
                        H, 0.0, s->S[l], k);
        }
    }
    rep->wall_s[l] = bfc_wall_seconds() - t0;
    return BFC_OK;
}

int bfc_seqk_fit(const bfc_seqk_config *c, const bfc_target *t, const bfc_data *train,
                 bfc_seqk_model **out)
{
    const double t0 = bfc_wall_seconds();
    *out = NULL;
    int st = validate(c);
    if (st) return st;
    const bfc_target_config *tc = bfc_target_config_of(t);
    if (tc->task != BFC_TASK_REGRESSION)
        return bfc_fail(BFC_EINVAL, "seqkernel: regression only (the target is classification)");
    if (!train || train->d != tc->d)
        return bfc_fail(BFC_EINVAL, "seqkernel: data dimension %d does not match the target's "
                                    "d = %d", train ? train->d : -1, tc->d);
    const int n = train->n;
    int n_val = (int)lround(c->val_frac * n);
    if (n_val < 1) n_val = 1;
    const int n_fit = n - n_val;
    bfc_seqk_model *m = model_new(c, tc);
    if (!m) return bfc_fail(BFC_ENOMEM, "out of memory for the sequential kernel");
    m->rep.L = m->L;
    m->rep.n_fit = n_fit;
    m->rep.n_val = n_val;

    /* every layer needs at least as many fitting points as monomials */
    for (int l = 2; l <= m->L; l++) {
        int H = m->H[l], P = H * (H + 1) / 2;
        m->rep.dim_h[l] = H;
        m->rep.n_monomials[l] = P;
        if (n_fit < P) {
            int need = (int)ceil(P / (1.0 - c->val_frac));
            bfc_seqk_free(m);
            return bfc_fail(BFC_EINVAL,
                            "seqkernel: layer %d has %d quadratic monomials of its %d features "
                            "but only %d fitting points (n = %d, val_frac %g); use n >= %d",
                            l, P, H, n_fit, n, c->val_frac, need);
        }
    }
    double bytes = fit_bytes(m, n, n_val);
    if (bytes > (double)c->max_bytes) {
        bfc_seqk_free(m);
        return bfc_fail(BFC_ENOMEM, "seqkernel: the fit needs about %.2f GB, above the limit of "
                                    "%.2f GB (max_bytes); reduce n or raise the limit",
                        bytes / 1e9, (double)c->max_bytes / 1e9);
    }

    fit_ws s;
    memset(&s, 0, sizeof s);
    int Hm = max_H(m), Pm = Hm * (Hm + 1) / 2;
    size_t HH = (size_t)Hm * Hm, Pe = (size_t)(Pm > Hm ? Pm : Hm);
    s.Xp = bfc_alloc_d((size_t)n * m->d);
    s.yp = bfc_alloc_d((size_t)n);
    s.base = bfc_alloc_d((size_t)n);
    s.r = bfc_alloc_d((size_t)n);
    s.fit = bfc_alloc_d((size_t)n);
    s.h = bfc_alloc_d((size_t)n * Hm);
    s.u = bfc_alloc_d((size_t)n * max_p(m));
    s.phi = bfc_alloc_d((size_t)n * Pm);
    s.T = bfc_alloc_d((size_t)n_val * Pm);
    s.A = bfc_alloc_d((size_t)Pm * Pm);
    s.w = bfc_alloc_d((size_t)Pm);
    s.z = bfc_alloc_d((size_t)Pm);
    s.cw = bfc_alloc_d((size_t)Pm);
    s.coef = bfc_alloc_d((size_t)Pm);
    s.scl = bfc_alloc_d((size_t)Pm);
    s.pv = bfc_alloc_d((size_t)n_val);
    s.work = bfc_alloc_d(bfc_eigen_work_doubles((int)Pe) + Pe);
    s.iwork = malloc(sizeof(int) * bfc_eigen_iwork_ints((int)Pe));
    s.Mt = bfc_alloc_d(HH);
    s.low = bfc_alloc_d(HH);
    s.E = bfc_alloc_d(HH);
    int ok = s.Xp && s.yp && s.base && s.r && s.fit && s.h && s.u && s.phi && s.T && s.A && s.w &&
             s.z && s.cw && s.coef && s.scl && s.pv && s.work && s.iwork && s.Mt && s.low && s.E;
    for (int l = 2; l <= m->L && ok; l++) {
        ok = (m->M[l] = bfc_alloc_d((size_t)m->H[l] * m->H[l])) != NULL;
        if (ok && m->p[l]) {
            ok = (m->K[l] = bfc_alloc_d((size_t)m->k[l] * m->H[l])) != NULL &&
                 (m->R[l] = bfc_alloc_d((size_t)m->p[l] * m->k[l])) != NULL &&
                 (s.S[l] = bfc_alloc_d((size_t)n * m->k[l])) != NULL;
        }
    }
    gsl_rng *rv = ok ? bfc_rng_new(c->seed, BFC_STREAM_VAL) : NULL;
    gsl_rng *rb = rv ? bfc_rng_new(c->seed, BFC_STREAM_BASELINE) : NULL;
    size_t *perm = rb ? malloc(sizeof(size_t) * (size_t)n) : NULL;
    if (!perm) {
        st = bfc_fail(BFC_ENOMEM, "out of memory for the sequential kernel fit (n = %d)", n);
        goto out;
    }

    /* the validation split (fitting rows first) and the fixed maps R_j */
    for (size_t i = 0; i < (size_t)n; i++) perm[i] = i;
    gsl_ran_shuffle(rv, perm, (size_t)n, sizeof(size_t));
    for (int i = 0; i < n; i++) {
        memcpy(s.Xp + (size_t)i * m->d, train->X + perm[i] * m->d, sizeof(double) * (size_t)m->d);
        s.yp[i] = train->y[perm[i]];
        if (!isfinite(s.yp[i])) {
            st = bfc_fail(BFC_ENUMERIC, "seqkernel: label %zu is not finite", perm[i]);
            goto out;
        }
    }
    for (int l = 2; l < m->L; l++)
        if (m->p[l])
            bfc_rng_normal(rb, m->R[l], (size_t)m->p[l] * m->k[l], 1.0 / sqrt((double)m->k[l]));

    for (int l = 2; l <= m->L && !st; l++) st = fit_stage(m, l, n, n_fit, &s);

out:
    if (rv) gsl_rng_free(rv);
    if (rb) gsl_rng_free(rb);
    free(perm);
    ws_free(&s);
    if (st) {
        bfc_seqk_free(m);
        return st;
    }
    m->rep.wall_total = bfc_wall_seconds() - t0;
    *out = m;
    return BFC_OK;
}
