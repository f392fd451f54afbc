/* c9_identities.c: claim C9, identities the analysis uses (SPEC §1, §2; ours as checks).
 *
 * C9a  σ(Rz) spans the quadratic forms (SPEC §2, why layer l+1 can use a feature known only up
 *      to rotation). For the learner's own fixed R (p × k, N(0, 1/k)), (r_iᵀz)² =
 *      Σ_a r_ia² z_a² + Σ_{a<b} 2 r_ia r_ib z_a z_b, so σ(Rz) = C m(z) with m(z) the
 *      q = k(k+1)/2 monomials z_a z_b (a ≤ b) and C the p × q coefficient matrix. σ(Rz) spans
 *      every quadratic form iff rank C = q.
 *      Method: build C from the learner's R for k = 2, 3, 5, 8 and p = q + p_extra,
 *      p_extra ∈ {0, 2 (default), q, 3q, 7q}; singular values by LAPACK dgesdd; numerical rank
 *      = #{s_i > max(p, q) ε s_max} (the LAPACK/MATLAB convention). C m(z) = σ(Rz) is
 *      verified at random z (relative 1e-12) so that C is the right matrix.
 *      Pass: rank C = q for every k, p ≥ q and seed. The condition number s_max/s_min is
 *      reported (median over seeds) as p grows.
 * C9b  Gaussian moment identities: for x ~ N(0, I_k) and symmetric A, B,
 *      E xᵀAx = tr A,  E (xᵀAx)² = (tr A)² + 2 tr A²,  E xᵀAx·xᵀBx = tr A tr B + 2 tr AB
 *      (Isserlis; the last is the quadratic NTK's E[σ(u)σ(v)] = q₁q₂ + 2Σ² in matrix form).
 *      Method: k = 5, A and B with N(0, 1) entries symmetrised, N Monte Carlo draws per seed
 *      (fast 10^6, full 10^7); z = (mean − exact) / standard error (sample sd / √N).
 *      Pass: |z| ≤ 5 for all three identities in every seed (the CLT tolerance), and the test
 *      has power: the wrong second moment (tr A)² + tr A² is rejected (|z| > 5) in every seed.
 * C9c  The degree of the target (SPEC §1: S*_l has degree 2^{l−1}, G* degree 2^L): along a
 *      line x(t) = x₀ + t u (|u| = 1) f(t) = G*(x(t)) is a polynomial of degree n = 2^L, so
 *      its forward difference of order n + 1 vanishes and that of order n is n! a_n h^n ≠ 0.
 *      Method: targets with d = 20, k = 3, g = 0.1 and L = 2..5 (each seed its own target and
 *      line); points t_j = (j − (n+1)/2) h, h = 1, j = 0..n+1; the rounding scale of an order-m
 *      difference is ρ_m = ε Σ_j C(m, j) |f(t_j)|.
 *      Pass: |Δ^{n+1} f| ≤ T ρ_{n+1} (vanishes to rounding) and |Δ^n f| > T ρ_n (does not),
 *      T = 10^4, our allowance for the relative error of evaluating G* (standardisation,
 *      BLAS products and L squarings, each a few ε) amplified by cancellation in the sum. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_gamma.h>

#include "bfc.h"
#include "check.h"
#include "lapack.h"
#include "learner.h"
#include "rng.h"
#include "target.h"

/* ---------------------------------------------------------------------------------------- */
/* C9a */

#define C9A_NK 4
static const int c9a_k[C9A_NK] = {2, 3, 5, 8};
#define C9A_NP 5
#define C9A_VERIFY_RTOL 1e-12 /* C m(z) against σ(Rz): a handful of roundings */

/* C (p × q, row-major) from R (p × k): columns in the order (0,0), (0,1), .., (0,k−1), (1,1), ... */
static void quad_coefficients(const double *R, int p, int k, double *C)
{
    const int q = k * (k + 1) / 2;
    for (int i = 0; i < p; i++) {
        const double *r = R + (size_t)i * k;
        int col = 0;
        for (int a = 0; a < k; a++)
            for (int b = a; b < k; b++) C[(size_t)i * q + col++] = (a == b ? 1.0 : 2.0) * r[a] * r[b];
    }
}

/* max_i |C m(z) − σ(Rz)|_i / max_i |σ(Rz)|_i at one z (k ≤ BFC_MAX_K). */
static double verify_coefficients(const double *R, const double *C, int p, int k, const double *z)
{
    const int q = k * (k + 1) / 2;
    double m[BFC_MAX_K * (BFC_MAX_K + 1) / 2];
    int col = 0;
    for (int a = 0; a < k; a++)
        for (int b = a; b < k; b++) m[col++] = z[a] * z[b];
    double worst = 0.0, scale = 0.0;
    for (int i = 0; i < p; i++) {
        double rz = 0.0, cm = 0.0;
        for (int a = 0; a < k; a++) rz += R[(size_t)i * k + a] * z[a];
        for (int c = 0; c < q; c++) cm += C[(size_t)i * q + c] * m[c];
        worst = fmax(worst, fabs(cm - rz * rz));
        scale = fmax(scale, rz * rz);
    }
    return worst / scale;
}

/* Singular values of a (p × q) into s (min(p, q)); a is overwritten. */
static int singular_values(double *a, int p, int q, double *s)
{
    /* row-major p × q is column-major q × p: same singular values */
    int m = q, n = p, lda = q, info = 0, lwork = -1, one = 1;
    int *iwork = malloc(sizeof(int) * 8 * (size_t)(m < n ? m : n));
    double wq, dummy = 0.0;
    if (!iwork) return bfc_fail(BFC_ENOMEM, "out of memory for an SVD");
    dgesdd_("N", &m, &n, a, &lda, s, &dummy, &one, &dummy, &one, &wq, &lwork, iwork, &info);
    lwork = (int)wq + 1;
    double *work = bfc_alloc_d((size_t)lwork);
    if (!work) {
        free(iwork);
        return bfc_fail(BFC_ENOMEM, "out of memory for an SVD");
    }
    dgesdd_("N", &m, &n, a, &lda, s, &dummy, &one, &dummy, &one, work, &lwork, iwork, &info);
    bfc_free(work);
    free(iwork);
    if (info) return bfc_fail(BFC_ENUMERIC, "dgesdd failed (info %d)", info);
    return BFC_OK;
}

static int run_c9a(bfc_check_ctx *ctx)
{
    const int ns = bfc_check_nseeds(ctx);
    const char *cas = "C9a";
    bfc_check_say(ctx, "%s: C = coefficients of σ(Rz) in the k(k+1)/2 monomials, R the learner's "
                       "R_2 (p x k), p = q + p_extra", cas);
    int all_full = 1, worst_k = 0, worst_p = 0;
    double worst_verify = 0.0, worst_cond = 0.0;
    for (int ki = 0; ki < C9A_NK; ki++) {
        const int k = c9a_k[ki], q = k * (k + 1) / 2;
        const int extras[C9A_NP] = {0, 2, q, 3 * q, 7 * q};
        for (int pi = 0; pi < C9A_NP; pi++) {
            double cond[BFC_CHECK_MAX_SEEDS], rank[BFC_CHECK_MAX_SEEDS];
            int p = 0;
            for (int i = 0; i < ns; i++) {
                bfc_target_config tc;
                bfc_target_defaults(&tc);
                tc.L = 3;
                tc.k[2] = tc.k[3] = k;
                bfc_target_resolve(&tc);
                bfc_learner_config lc;
                bfc_learner_defaults(&lc);
                lc.p_extra = extras[pi];
                lc.seed = bfc_check_seed(ctx, i);
                int st;
                bfc_learner *lr = bfc_learner_new(&tc, &lc, 1, &st);
                if (!lr) return st;
                p = bfc_learner_dim_p(lr, 2);
                BFC_ASSERT(p == q + extras[pi]);
                const double *R = bfc_learner_R(lr, 2);
                double *C = bfc_alloc_d((size_t)p * q), *s = bfc_alloc_d((size_t)q);
                if (!C || !s) {
                    bfc_free(C);
                    bfc_free(s);
                    bfc_learner_free(lr);
                    return bfc_fail(BFC_ENOMEM, "out of memory for the coefficient matrix");
                }
                quad_coefficients(R, p, k, C);
                gsl_rng *r = bfc_rng_new(bfc_check_seed(ctx, i), BFC_STREAM_BASELINE);
                if (!r) {
                    bfc_free(C);
                    bfc_free(s);
                    bfc_learner_free(lr);
                    return bfc_fail(BFC_ENOMEM, "out of memory for an RNG");
                }
                for (int t = 0; t < 8; t++) {
                    double z[BFC_MAX_K];
                    bfc_rng_normal(r, z, (size_t)k, 1.0);
                    worst_verify = fmax(worst_verify, verify_coefficients(R, C, p, k, z));
                }
                gsl_rng_free(r);
                bfc_learner_free(lr);
                st = singular_values(C, p, q, s);
                if (st) {
                    bfc_free(C);
                    bfc_free(s);
                    return st;
                }
                const double tol = (double)(p > q ? p : q) * DBL_EPSILON * s[0];
                int rk = 0;
                for (int j = 0; j < q; j++) rk += s[j] > tol;
                rank[i] = rk;
                cond[i] = s[0] / s[q - 1];
                if (rk != q) all_full = 0;
                if (cond[i] > worst_cond) {
                    worst_cond = cond[i];
                    worst_k = k;
                    worst_p = p;
                }
                bfc_free(C);
                bfc_free(s);
            }
            char label[64], metric[64];
            snprintf(label, sizeof label, "k=%d q=%d p=%d: rank", k, q, p);
            snprintf(metric, sizeof metric, "k%d_p%d_rank", k, p);
            bfc_check_series(ctx, cas, metric, label, rank, ns);
            snprintf(label, sizeof label, "k=%d q=%d p=%d: cond", k, q, p);
            snprintf(metric, sizeof metric, "k%d_p%d_cond", k, p);
            bfc_check_series(ctx, cas, metric, label, cond, ns);
        }
    }
    bfc_check_value(ctx, cas, "verify_max_rel_error", "max |C m(z) - σ(Rz)| rel.", worst_verify);
    const int verified = worst_verify <= C9A_VERIFY_RTOL;
    bfc_check_say(ctx, "criterion: C m(z) = σ(Rz) within %g, and rank C = k(k+1)/2 for every k, "
                       "p >= k(k+1)/2, seed", C9A_VERIFY_RTOL);
    bfc_check_verdict(ctx, cas, all_full && verified ? BFC_VERDICT_PASS : BFC_VERDICT_FAIL,
                      "rank %s for k = 2, 3, 5, 8 and p = q..8q; worst condition number %.3g "
                      "(k=%d, p=%d); coefficients %s (max rel. error %.2g)",
                      all_full ? "full (= k(k+1)/2) in every case" : "DEFICIENT in some case",
                      worst_cond, worst_k, worst_p, verified ? "verified" : "WRONG", worst_verify);
    return BFC_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* C9b */

#define C9B_K 5
#define C9B_Z 5.0 /* CLT tolerance in standard errors */

static void random_symmetric(gsl_rng *r, double *A, int k)
{
    for (int a = 0; a < k; a++)
        for (int b = a; b < k; b++) A[a * k + b] = A[b * k + a] = gsl_ran_gaussian_ziggurat(r, 1.0);
}

static double trace(const double *A, int k)
{
    double t = 0.0;
    for (int a = 0; a < k; a++) t += A[a * k + a];
    return t;
}

/* tr(AB) for symmetric A, B: Σ A_ab B_ab */
static double trace_prod(const double *A, const double *B, int k)
{
    double t = 0.0;
    for (int i = 0; i < k * k; i++) t += A[i] * B[i];
    return t;
}

static double quad_form(const double *A, const double *x, int k)
{
    double s = 0.0;
    for (int a = 0; a < k; a++) {
        double row = 0.0;
        for (int b = 0; b < k; b++) row += A[a * k + b] * x[b];
        s += x[a] * row;
    }
    return s;
}

/* Running mean and variance (Welford), for a z-score against an exact value. */
typedef struct {
    double n, mean, m2;
} welford;

static void welford_add(welford *w, double v)
{
    w->n += 1.0;
    const double d = v - w->mean;
    w->mean += d / w->n;
    w->m2 += d * (v - w->mean);
}

static double welford_z(const welford *w, double exact)
{
    const double se = sqrt(w->m2 / (w->n - 1.0) / w->n);
    return (w->mean - exact) / se;
}

static int run_c9b(bfc_check_ctx *ctx)
{
    const int ns = bfc_check_nseeds(ctx), k = C9B_K;
    const long N = bfc_check_size_of(ctx) == BFC_CHECK_FULL ? 10000000L : 1000000L;
    const char *cas = "C9b";
    bfc_check_say(ctx, "%s: k = %d, %ld Monte Carlo draws per seed; z = (MC mean - exact) / SE",
                  cas, k, N);
    double z1[BFC_CHECK_MAX_SEEDS], z2[BFC_CHECK_MAX_SEEDS], z3[BFC_CHECK_MAX_SEEDS],
        zw[BFC_CHECK_MAX_SEEDS], rel2[BFC_CHECK_MAX_SEEDS];
    for (int i = 0; i < ns; i++) {
        gsl_rng *r = bfc_rng_new(bfc_check_seed(ctx, i), BFC_STREAM_BASELINE);
        if (!r) return bfc_fail(BFC_ENOMEM, "out of memory for an RNG");
        double A[C9B_K * C9B_K], B[C9B_K * C9B_K], x[C9B_K];
        random_symmetric(r, A, k);
        random_symmetric(r, B, k);
        const double trA = trace(A, k), trB = trace(B, k);
        const double trA2 = trace_prod(A, A, k), trAB = trace_prod(A, B, k);
        welford m1 = {0, 0, 0}, m2 = {0, 0, 0}, m3 = {0, 0, 0};
        for (long s = 0; s < N; s++) {
            for (int a = 0; a < k; a++) x[a] = gsl_ran_gaussian_ziggurat(r, 1.0);
            const double qa = quad_form(A, x, k), qb = quad_form(B, x, k);
            welford_add(&m1, qa);
            welford_add(&m2, qa * qa);
            welford_add(&m3, qa * qb);
        }
        gsl_rng_free(r);
        const double exact2 = trA * trA + 2.0 * trA2;
        z1[i] = welford_z(&m1, trA);
        z2[i] = welford_z(&m2, exact2);
        z3[i] = welford_z(&m3, trA * trB + 2.0 * trAB);
        zw[i] = welford_z(&m2, trA * trA + trA2);
        rel2[i] = fabs(m2.mean - exact2) / exact2;
    }
    bfc_check_series(ctx, cas, "z_mean_trA", "z: E x'Ax = tr A", z1, ns);
    bfc_check_series(ctx, cas, "z_second_moment", "z: E(x'Ax)^2 = trA^2+2trA^2", z2, ns);
    bfc_check_series(ctx, cas, "z_cross_moment", "z: E x'Ax x'Bx = ..+2trAB", z3, ns);
    bfc_check_series(ctx, cas, "second_moment_rel_error", "  rel. error of E(x'Ax)^2", rel2, ns);
    bfc_check_series(ctx, cas, "z_wrong_formula", "z: wrong trA^2 + trA^2", zw, ns);
    int ok = 1, power = 1;
    double worst = 0.0;
    for (int i = 0; i < ns; i++) {
        const double m = fmax(fabs(z1[i]), fmax(fabs(z2[i]), fabs(z3[i])));
        worst = fmax(worst, m);
        if (!(m <= C9B_Z)) ok = 0;
        if (!(fabs(zw[i]) > C9B_Z)) power = 0;
    }
    bfc_check_say(ctx, "criterion: |z| <= %g for the three identities in every seed, and |z| > %g "
                       "for the wrong formula (the test has power)", C9B_Z, C9B_Z);
    bfc_check_verdict(ctx, cas, ok && power ? BFC_VERDICT_PASS : BFC_VERDICT_FAIL,
                      "identities %s (max |z| %.2f over %d seeds); wrong formula %s (min |z| %.3g)",
                      ok ? "hold" : "VIOLATED", worst, ns, power ? "rejected" : "NOT rejected",
                      fmin(fabs(bfc_claim_min(zw, ns)), fabs(bfc_claim_max(zw, ns))));
    return BFC_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* C9c */

#define C9C_T 1e4 /* rounding allowance, see the header */
#define C9C_LMIN 2
#define C9C_LMAX 5

/* Order-m forward difference of f (m + 1 values) and its rounding scale ε Σ C(m, j)|f_j|. */
static double forward_difference(const double *f, int m, double *rho)
{
    double s = 0.0, a = 0.0;
    for (int j = 0; j <= m; j++) {
        const double c = gsl_sf_choose((unsigned)m, (unsigned)j);
        s += ((m - j) % 2 ? -c : c) * f[j];
        a += c * fabs(f[j]);
    }
    *rho = DBL_EPSILON * a;
    return s;
}

static int run_c9c(bfc_check_ctx *ctx)
{
    const int ns = bfc_check_nseeds(ctx);
    const char *cas = "C9c";
    bfc_check_say(ctx, "%s: G* on x0 + t u, t = (j - (n+1)/2), j = 0..n+1, n = 2^L; ratio = "
                       "|difference| / rounding scale", cas);
    int ok = 1;
    double worst_vanish = 0.0, least_nonvanish = INFINITY;
    for (int L = C9C_LMIN; L <= C9C_LMAX; L++) {
        const int n = 1 << L, npts = n + 2;
        double vanish[BFC_CHECK_MAX_SEEDS], nonvanish[BFC_CHECK_MAX_SEEDS];
        for (int i = 0; i < ns; i++) {
            bfc_target_config tc;
            bfc_target_defaults(&tc);
            tc.L = L;
            tc.seed = bfc_check_seed(ctx, i);
            bfc_target_resolve(&tc);
            int st;
            bfc_target *t = bfc_target_new(&tc, &st);
            if (!t) return st;
            const int d = tc.d;
            double *X = bfc_alloc_d((size_t)npts * d), *f = bfc_alloc_d((size_t)npts);
            double *x0 = bfc_alloc_d((size_t)d), *u = bfc_alloc_d((size_t)d);
            gsl_rng *r = bfc_rng_new(bfc_check_seed(ctx, i), BFC_STREAM_BASELINE);
            if (!X || !f || !x0 || !u || !r) {
                bfc_free(X);
                bfc_free(f);
                bfc_free(x0);
                bfc_free(u);
                if (r) gsl_rng_free(r);
                bfc_target_free(t);
                return bfc_fail(BFC_ENOMEM, "out of memory for the line evaluation");
            }
            bfc_rng_normal(r, x0, (size_t)d, 1.0);
            bfc_rng_normal(r, u, (size_t)d, 1.0);
            gsl_rng_free(r);
            double nu = 0.0;
            for (int a = 0; a < d; a++) nu += u[a] * u[a];
            nu = sqrt(nu);
            for (int j = 0; j < npts; j++) {
                const double tj = (double)j - 0.5 * (double)(n + 1);
                for (int a = 0; a < d; a++) X[(size_t)j * d + a] = x0[a] + tj * u[a] / nu;
            }
            bfc_free(x0);
            bfc_free(u);
            st = bfc_target_eval(t, X, npts, f, NULL);
            bfc_target_free(t);
            bfc_free(X);
            if (st) {
                bfc_free(f);
                return st;
            }
            double rho_n, rho_n1;
            const double dn = forward_difference(f, n, &rho_n);
            const double dn1 = forward_difference(f, n + 1, &rho_n1);
            bfc_free(f);
            vanish[i] = fabs(dn1) / rho_n1;
            nonvanish[i] = fabs(dn) / rho_n;
            if (!(vanish[i] <= C9C_T) || !(nonvanish[i] > C9C_T)) ok = 0;
            worst_vanish = fmax(worst_vanish, vanish[i]);
            least_nonvanish = fmin(least_nonvanish, nonvanish[i]);
        }
        char label[64], metric[64];
        snprintf(label, sizeof label, "L=%d: order %d (must vanish)", L, n + 1);
        snprintf(metric, sizeof metric, "L%d_order%d_over_rounding", L, n + 1);
        bfc_check_series(ctx, cas, metric, label, vanish, ns);
        snprintf(label, sizeof label, "L=%d: order %d (must not)", L, n);
        snprintf(metric, sizeof metric, "L%d_order%d_over_rounding", L, n);
        bfc_check_series(ctx, cas, metric, label, nonvanish, ns);
    }
    bfc_check_say(ctx, "criterion: order 2^L + 1 difference <= %g x rounding scale, order 2^L "
                       "difference > %g x rounding scale, for L = %d..%d and every seed",
                  C9C_T, C9C_T, C9C_LMIN, C9C_LMAX);
    bfc_check_verdict(ctx, cas, ok ? BFC_VERDICT_PASS : BFC_VERDICT_FAIL,
                      "degree 2^L %s for L = 2..5: order 2^L+1 at most %.3g x rounding, order 2^L "
                      "at least %.3g x rounding (threshold %g)",
                      ok ? "confirmed" : "NOT confirmed", worst_vanish, least_nonvanish, C9C_T);
    return BFC_OK;
}

const bfc_check bfc_check_c9_identities[] = {
    {"C9a", "identity: sigma(Rz) spans the k(k+1)/2 quadratic forms (rank of the coefficient "
            "matrix)",
     run_c9a, {0.1, 0.1}},
    {"C9b", "identities: Gaussian moments E x'Ax = tr A, E(x'Ax)^2 = (tr A)^2 + 2 tr A^2 against "
            "Monte Carlo",
     run_c9b, {0.2, 2}},
    {"C9c", "identity: G* along a line is a polynomial of degree 2^L (finite differences), "
            "L = 2..5",
     run_c9c, {1, 1}},
    {NULL, NULL, NULL, {0, 0}}};
