/* test_ntk.c: the closed-form NNGP/NTK recursion against quadrature, hand formulas and Monte
 * Carlo over random finite-width networks. */
#include <criterion/criterion.h>
#include <cblas.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_sf_erf.h>
#include <math.h>

#include "bfc.h"
#include "kernel.h"
#include "ntk.h"
#include "rng.h"

/* quadrature of smooth one-dimensional integrands converges to near machine precision */
#define QUAD_TOL 1e-9
/* exact algebraic identities: a few ulps of accumulated rounding */
#define EXACT_TOL 1e-13

/* ---------------------------------------------------------------- one layer by quadrature */

/* (u, v) ~ N(0, [[q1, r], [r, q2]]): given u, v ~ N(mu, s²) with mu = r u / q1,
 * s² = q2 − r²/q1. The inner expectations over v are closed (Gaussian integrals of a
 * ramp/step), leaving a smooth integral over u > 0 for GSL's QAGIU. */
typedef struct {
    double q1, q2, r;
    int which; /* 0: E[relu(u) relu(v)], 1: E[step(u) step(v)] */
} pair_params;

static double integrand(double u, void *vp)
{
    const pair_params *p = vp;
    const double phi_u = exp(-0.5 * u * u / p->q1) / sqrt(2.0 * M_PI * p->q1);
    const double mu = p->r * u / p->q1, s = sqrt(p->q2 - p->r * p->r / p->q1);
    const double t = mu / s;
    const double Phi = gsl_sf_erf_Q(-t), phi = exp(-0.5 * t * t) / sqrt(2.0 * M_PI);
    if (p->which == 0) return phi_u * u * (mu * Phi + s * phi); /* u · E[relu(v) | u] */
    return phi_u * Phi;                                        /* P(v > 0 | u) */
}

static double relu_expectation(double q1, double q2, double r, int which)
{
    pair_params p = {q1, q2, r, which};
    gsl_integration_workspace *w = gsl_integration_workspace_alloc(1000);
    gsl_function f = {integrand, &p};
    double val, err;
    gsl_integration_qagiu(&f, 0.0, 1e-14, 1e-12, 1000, w, &val, &err);
    gsl_integration_workspace_free(w);
    return val;
}

Test(ntk, relu_one_layer_matches_arc_cosine_integrals_by_quadrature)
{
    const int d = 5;
    const double xx[] = {5.0, 3.0, 7.5}, yy[] = {5.0, 6.0, 2.0}, xy[] = {2.0, -3.5, 3.8};
    bfc_ntk_config c;
    bfc_ntk_defaults(&c);
    c.depth = 1;
    c.bias_var = 0.3;
    for (int t = 0; t < 3; t++) {
        const double q1 = xx[t] / d + c.bias_var, q2 = yy[t] / d + c.bias_var,
                     r = xy[t] / d + c.bias_var;
        const double e_ss = relu_expectation(q1, q2, r, 0), e_dd = relu_expectation(q1, q2, r, 1);
        const double sigma = 2.0 * e_ss + c.bias_var, sigma_dot = 2.0 * e_dd;
        double g;
        const double th = bfc_ntk_eval(&c, xy[t], xx[t], yy[t], d, &g);
        cr_expect(fabs(g - sigma) <= QUAD_TOL * fabs(sigma), "pair %d: nngp %.15g vs %.15g", t,
                  g, sigma);
        const double th_ref = r * sigma_dot + sigma;
        cr_expect(fabs(th - th_ref) <= QUAD_TOL * fabs(th_ref), "pair %d: ntk %.15g vs %.15g", t,
                  th, th_ref);
    }
}

Test(ntk, relu_keeps_the_diagonal_and_adds_one_layer_per_depth_to_the_ntk)
{
    /* c_σ = 2, no bias: Σ^l(x,x) = ‖x‖²/d and Σ'^l(x,x) = 1, so Θ^L(x,x) = (L+1)‖x‖²/d */
    bfc_ntk_config c;
    bfc_ntk_defaults(&c);
    for (int L = 1; L <= 6; L++) {
        c.depth = L;
        double g;
        const double th = bfc_ntk_eval(&c, 7.0, 7.0, 7.0, 4, &g);
        cr_expect(fabs(g - 1.75) <= EXACT_TOL, "depth %d: nngp %.17g", L, g);
        cr_expect(fabs(th - 1.75 * (L + 1)) <= EXACT_TOL * (L + 1), "depth %d: ntk %.17g", L, th);
    }
}

Test(ntk, relu_of_orthogonal_inputs_follows_the_arc_cosine_value_at_right_angle)
{
    /* θ = π/2: E[σσ] = √(q₁q₂)/(2π), E[σ'σ'] = 1/4; depth 1, c_σ = 2, Θ = 0·Σ' + Σ */
    bfc_ntk_config c;
    bfc_ntk_defaults(&c);
    c.depth = 1;
    double g;
    const double th = bfc_ntk_eval(&c, 0.0, 2.0, 8.0, 2, &g);
    cr_expect(fabs(g - 2.0 / M_PI) <= EXACT_TOL, "nngp %.17g", g);
    cr_expect(fabs(th - 2.0 / M_PI) <= EXACT_TOL, "ntk %.17g", th);
}

Test(ntk, quadratic_layer_is_isserlis_then_the_dense_step_of_the_spec)
{
    /* per layer before the dense step: Σ ← 2Σ² + q₁q₂, Θ ← 4ΣΘ; dense step: ×c_σ, Θ += Σ */
    bfc_ntk_config c;
    bfc_ntk_defaults(&c);
    c.activation = BFC_ACT_QUAD;
    c.depth = 3;
    c.bias_var = 0.1;
    const int d = 3;
    const double xx = 2.7, yy = 3.6, xy = -1.2, cs = 1.0 / 3.0, b = c.bias_var;
    double q1 = xx / d + b, q2 = yy / d + b, s = xy / d + b, th = s;
    for (int l = 0; l < 3; l++) {
        const double s_pre = 2.0 * s * s + q1 * q2, th_pre = 4.0 * s * th;
        s = cs * s_pre + b;
        th = cs * th_pre + s;
        q1 = cs * 3.0 * q1 * q1 + b;
        q2 = cs * 3.0 * q2 * q2 + b;
    }
    double g;
    const double t = bfc_ntk_eval(&c, xy, xx, yy, d, &g);
    cr_expect(fabs(g - s) <= EXACT_TOL * fabs(s), "nngp %.17g vs %.17g", g, s);
    cr_expect(fabs(t - th) <= EXACT_TOL * fabs(th), "ntk %.17g vs %.17g", t, th);
    cr_expect(fabs(bfc_ntk_c_sigma(&c) - 1.0 / 3.0) <= EXACT_TOL);
}

Test(ntk, quadratic_keeps_unit_scale_inputs_at_unit_diagonal)
{
    /* c_σ = 1/3 = 1/E[g⁴]: ‖x‖²/d = 1 gives Σ^l(x,x) = 1 and Θ^l = (4/3)Θ^{l-1} + 1 */
    bfc_ntk_config c;
    bfc_ntk_defaults(&c);
    c.activation = BFC_ACT_QUAD;
    c.depth = 4;
    double g;
    const double th = bfc_ntk_eval(&c, 6.0, 6.0, 6.0, 6, &g);
    double ref = 1.0;
    for (int l = 0; l < 4; l++) ref = ref * 4.0 / 3.0 + 1.0;
    cr_expect(fabs(g - 1.0) <= EXACT_TOL, "nngp %.17g", g);
    cr_expect(fabs(th - ref) <= EXACT_TOL * ref, "ntk %.17g vs %.17g", th, ref);
}

Test(ntk, array_version_equals_the_scalar_one)
{
    bfc_ntk_config c;
    bfc_ntk_defaults(&c);
    c.depth = 3;
    const double xy[] = {0.5, -1.0, 2.0, 0.0}, xx[] = {1.0, 2.0, 3.0, 0.0},
                 yy[] = {2.0, 1.5, 2.5, 1.0};
    double t[4], g[4];
    bfc_ntk_eval_array(&c, xy, xx, yy, 4, 3, t, g);
    for (int i = 0; i < 4; i++) {
        double gi;
        const double ti = bfc_ntk_eval(&c, xy[i], xx[i], yy[i], 3, &gi);
        cr_expect(ti == t[i] && gi == g[i], "entry %d", i);
    }
    /* a zero input (no bias) has zero kernel with everything */
    cr_expect(t[3] == 0.0 && g[3] == 0.0);
}

Test(ntk, invalid_configurations_are_refused_with_a_message)
{
    bfc_ntk_config c;
    bfc_ntk_defaults(&c);
    c.depth = 0;
    cr_expect_eq(bfc_ntk_validate(&c), BFC_EINVAL);
    cr_expect(strstr(bfc_last_error(), "depth must be >= 1"), "%s", bfc_last_error());
    bfc_ntk_defaults(&c);
    c.activation = (bfc_activation)7;
    cr_expect_eq(bfc_ntk_validate(&c), BFC_EINVAL);
    cr_expect(strstr(bfc_last_error(), "unknown activation 7"), "%s", bfc_last_error());
    bfc_ntk_defaults(&c);
    c.bias_var = -1.0;
    cr_expect_eq(bfc_ntk_validate(&c), BFC_EINVAL);
    cr_expect(strstr(bfc_last_error(), "bias variance"), "%s", bfc_last_error());
}

/* ---------------------------------------------------------------- Monte Carlo */

/* Monte Carlo: a z-score above this at the widest network means the closed form is wrong */
#define MC_MAX_Z 4.0
/* The per-network deviation from the limit shrinks like m^(-1/2): a fitted slope of
 * log RMS vs log m over m = 64..1024 must lie in this band (finite-width bias O(1/m) and
 * heavy tails of the quadratic network widen it). */
#define MC_SLOPE_LO (-0.80)
#define MC_SLOPE_HI (-0.30)

enum { MC_P = 3, MC_D = 4, MC_PAIRS = MC_P * (MC_P + 1) / 2 };

static double act(int quad, double z) { return quad ? z * z : (z > 0.0 ? z : 0.0); }
static double act_dot(int quad, double z) { return quad ? 2.0 * z : (z > 0.0 ? 1.0 : 0.0); }

/* One random network of width m (weights and biases N(0,1), the parameterisation of ntk.h):
 * for the MC_P inputs X (MC_P × d), the empirical NTK <∇f(x_p), ∇f(x_q)> over all weights
 * and biases, and the empirical NNGP of the output given the hidden layers,
 * (c_σ/m) <σ(z^L(x_p)), σ(z^L(x_q))> + σ_b², for the MC_PAIRS pairs p ≤ q. */
static void network_kernels(const bfc_ntk_config *c, gsl_rng *r, const double *X, int d, int m,
                            double *ntk, double *nngp)
{
    const int L = c->depth, quad = c->activation == BFC_ACT_QUAD;
    const double cs = bfc_ntk_c_sigma(c), sb = sqrt(c->bias_var), sc = sqrt(cs / m);
    const size_t mm = (size_t)m * (size_t)m, lm = (size_t)L * (size_t)m;
    double *W0 = bfc_alloc_d((size_t)m * (size_t)d), *W = bfc_alloc_d((size_t)(L - 1) * mm);
    double *w = bfc_alloc_d((size_t)m), *bias = bfc_alloc_d(lm), *t = bfc_alloc_d((size_t)m);
    double *z = bfc_alloc_d(MC_P * lm), *a = bfc_alloc_d(MC_P * lm), *delta = bfc_alloc_d(MC_P * lm);
    cr_assert(W0 && W && w && bias && t && z && a && delta);
    bfc_rng_normal(r, W0, (size_t)m * (size_t)d, 1.0);
    bfc_rng_normal(r, W, (size_t)(L - 1) * mm, 1.0);
    bfc_rng_normal(r, w, (size_t)m, 1.0);
    bfc_rng_normal(r, bias, lm, 1.0);
    for (int p = 0; p < MC_P; p++) {
        double *zp = z + p * lm, *ap = a + p * lm, *dp = delta + p * lm;
        for (int l = 1; l <= L; l++) { /* z^l, a^l */
            double *zl = zp + (size_t)(l - 1) * m;
            for (int i = 0; i < m; i++) zl[i] = sb * bias[(size_t)(l - 1) * m + i];
            if (l == 1)
                cblas_dgemv(CblasRowMajor, CblasNoTrans, m, d, 1.0 / sqrt(d), W0, d, X + p * d, 1,
                            1.0, zl, 1);
            else
                cblas_dgemv(CblasRowMajor, CblasNoTrans, m, m, sc, W + (size_t)(l - 2) * mm, m,
                            ap + (size_t)(l - 2) * m, 1, 1.0, zl, 1);
            for (int i = 0; i < m; i++) ap[(size_t)(l - 1) * m + i] = act(quad, zl[i]);
        }
        for (int l = L; l >= 1; l--) { /* δ^l = ∂f/∂z^l */
            if (l == L)
                for (int i = 0; i < m; i++) t[i] = sc * w[i];
            else
                cblas_dgemv(CblasRowMajor, CblasTrans, m, m, sc, W + (size_t)(l - 1) * mm, m,
                            dp + (size_t)l * m, 1, 0.0, t, 1);
            for (int i = 0; i < m; i++)
                dp[(size_t)(l - 1) * m + i] = act_dot(quad, zp[(size_t)(l - 1) * m + i]) * t[i];
        }
    }
    int k = 0;
    for (int p = 0; p < MC_P; p++)
        for (int q = p; q < MC_P; q++, k++) {
            const double *ap = a + p * lm, *aq = a + q * lm, *dp = delta + p * lm,
                         *dq = delta + q * lm;
            /* W⁰ and b⁰: <δ¹,δ¹> (<x,y>/d + σ_b²) */
            const double in = cblas_ddot(d, X + p * d, 1, X + q * d, 1) / d + c->bias_var;
            double th = cblas_ddot(m, dp, 1, dq, 1) * in, g = 0.0;
            for (int l = 1; l <= L; l++) { /* W^l (or w) and b^l: <δ^{l+1},δ^{l+1}> (Σ̂^l) */
                g = cs / m * cblas_ddot(m, ap + (size_t)(l - 1) * m, 1, aq + (size_t)(l - 1) * m, 1)
                    + c->bias_var;
                const double dd =
                    l < L ? cblas_ddot(m, dp + (size_t)l * m, 1, dq + (size_t)l * m, 1) : 1.0;
                th += dd * g;
            }
            ntk[k] = th;
            nngp[k] = g;
        }
    bfc_free(W0), bfc_free(W), bfc_free(w), bfc_free(bias), bfc_free(t);
    bfc_free(z), bfc_free(a), bfc_free(delta);
}

/* Sample networks at m = 64, 256, 1024; at 1024 the mean of each kernel entry must be within
 * MC_MAX_Z standard errors of the closed form, and the RMS deviation of a single network
 * (pooled over pairs, relative to the diagonal scale) must shrink like m^(-1/2). */
static void check_monte_carlo(const bfc_ntk_config *c, uint64_t seed)
{
    /* three inputs on the sphere ‖x‖² = d, at different angles */
    double X[MC_P * MC_D] = {1.2, -0.3, 0.8, 0.5, 0.4, 1.1, -0.9, 0.7, -1.0, 0.2, 0.9, -1.3};
    for (int p = 0; p < MC_P; p++)
        cblas_dscal(MC_D, sqrt(MC_D / cblas_ddot(MC_D, X + p * MC_D, 1, X + p * MC_D, 1)),
                    X + p * MC_D, 1);
    double ref_t[MC_PAIRS], ref_g[MC_PAIRS], scale[MC_PAIRS];
    int k = 0;
    for (int p = 0; p < MC_P; p++)
        for (int q = p; q < MC_P; q++, k++) {
            const double *x = X + p * MC_D, *y = X + q * MC_D;
            ref_t[k] = bfc_ntk_eval(c, cblas_ddot(MC_D, x, 1, y, 1), cblas_ddot(MC_D, x, 1, x, 1),
                                    cblas_ddot(MC_D, y, 1, y, 1), MC_D, &ref_g[k]);
            scale[k] = bfc_ntk_eval(c, MC_D, MC_D, MC_D, MC_D, NULL); /* Θ(x,x), equal norms */
        }
    const int widths[] = {64, 256, 1024}, reps[] = {400, 160, 48};
    double log_m[3], log_rms[3];
    gsl_rng *r = bfc_rng_new(seed, BFC_STREAM_BASELINE);
    for (int wi = 0; wi < 3; wi++) {
        const int m = widths[wi], R = reps[wi];
        double s_t[MC_PAIRS] = {0}, s2_t[MC_PAIRS] = {0}, s_g[MC_PAIRS] = {0}, s2_g[MC_PAIRS] = {0};
        double dev2 = 0.0;
        for (int rep = 0; rep < R; rep++) {
            double t[MC_PAIRS], g[MC_PAIRS];
            network_kernels(c, r, X, MC_D, m, t, g);
            for (int j = 0; j < MC_PAIRS; j++) {
                s_t[j] += t[j], s2_t[j] += t[j] * t[j], s_g[j] += g[j], s2_g[j] += g[j] * g[j];
                dev2 += pow((t[j] - ref_t[j]) / scale[j], 2) + pow((g[j] - ref_g[j]) / scale[j], 2);
            }
        }
        log_m[wi] = log(m);
        log_rms[wi] = 0.5 * log(dev2 / (2.0 * R * MC_PAIRS));
        if (wi < 2) continue;
        for (int j = 0; j < MC_PAIRS; j++) {
            const double mt = s_t[j] / R, se_t = sqrt((s2_t[j] / R - mt * mt) / (R - 1));
            const double mg = s_g[j] / R, se_g = sqrt((s2_g[j] / R - mg * mg) / (R - 1));
            cr_expect(fabs(mt - ref_t[j]) <= MC_MAX_Z * se_t,
                      "m = %d pair %d: NTK Monte Carlo %.5f ± %.5f vs closed form %.5f", m, j, mt,
                      se_t, ref_t[j]);
            cr_expect(fabs(mg - ref_g[j]) <= MC_MAX_Z * se_g,
                      "m = %d pair %d: NNGP Monte Carlo %.5f ± %.5f vs closed form %.5f", m, j,
                      mg, se_g, ref_g[j]);
        }
    }
    gsl_rng_free(r);
    /* least-squares slope of log RMS on log m */
    const double mx = (log_m[0] + log_m[1] + log_m[2]) / 3, my = (log_rms[0] + log_rms[1] + log_rms[2]) / 3;
    double sxy = 0.0, sxx = 0.0;
    for (int i = 0; i < 3; i++) sxy += (log_m[i] - mx) * (log_rms[i] - my), sxx += pow(log_m[i] - mx, 2);
    const double slope = sxy / sxx;
    cr_expect(slope >= MC_SLOPE_LO && slope <= MC_SLOPE_HI,
              "RMS deviation %.4f, %.4f, %.4f at m = 64, 256, 1024: slope %.3f, expected -0.5",
              exp(log_rms[0]), exp(log_rms[1]), exp(log_rms[2]), slope);
}

Test(ntk, relu_depth_2_matches_wide_random_networks)
{
    bfc_ntk_config c;
    bfc_ntk_defaults(&c);
    check_monte_carlo(&c, 11);
}

Test(ntk, relu_depth_3_with_bias_matches_wide_random_networks)
{
    bfc_ntk_config c;
    bfc_ntk_defaults(&c);
    c.depth = 3;
    c.bias_var = 0.1;
    check_monte_carlo(&c, 12);
}

Test(ntk, quadratic_depth_2_matches_wide_random_networks)
{
    bfc_ntk_config c;
    bfc_ntk_defaults(&c);
    c.activation = BFC_ACT_QUAD;
    check_monte_carlo(&c, 13);
}

Test(ntk, kernel_interface_serves_ntk_and_nngp_from_the_same_recursion)
{
    bfc_kernel k;
    bfc_kernel_defaults(&k, 3);
    k.kind = BFC_KERNEL_NTK;
    k.net.depth = 3;
    k.net.activation = BFC_ACT_QUAD;
    const double X[] = {1.0, 0.5, -0.2, 0.3, -1.1, 0.8}, Z[] = {0.9, 0.1, 0.4};
    double K[2], G[2];
    cr_assert_eq(bfc_kernel_matrix(&k, X, 2, Z, 1, 3, K), BFC_OK);
    k.kind = BFC_KERNEL_NNGP;
    cr_assert_eq(bfc_kernel_matrix(&k, X, 2, Z, 1, 3, G), BFC_OK);
    for (int i = 0; i < 2; i++) {
        const double *x = X + 3 * i;
        double g;
        const double t = bfc_ntk_eval(&k.net, cblas_ddot(3, x, 1, Z, 1), cblas_ddot(3, x, 1, x, 1),
                                      cblas_ddot(3, Z, 1, Z, 1), 3, &g);
        cr_expect(fabs(K[i] - t) <= EXACT_TOL * fabs(t) && fabs(G[i] - g) <= EXACT_TOL * fabs(g),
                  "row %d", i);
    }
    char name[32];
    cr_expect_str_eq(bfc_kernel_name(&k, name, sizeof name), "nngp-quad-3");
}
