/* ntk.c: the infinite-width NNGP/NTK recursion of ntk.h for ReLU and quadratic activations. */
#include "ntk.h"

#include <math.h>

#include "bfc.h"

#define BFC_PI 3.14159265358979323846

void bfc_ntk_defaults(bfc_ntk_config *c)
{
    c->activation = BFC_ACT_RELU;
    c->depth = 2;
    c->bias_var = 0.0;
    c->c_sigma = 0.0;
}

const char *bfc_activation_name(bfc_activation a)
{
    switch (a) {
    case BFC_ACT_RELU: return "relu";
    case BFC_ACT_QUAD: return "quad";
    default: return NULL;
    }
}

int bfc_ntk_validate(const bfc_ntk_config *c)
{
    if (!bfc_activation_name(c->activation))
        return bfc_fail(BFC_EINVAL, "unknown activation %d (expected relu or quad)",
                        (int)c->activation);
    if (c->depth < 1)
        return bfc_fail(BFC_EINVAL, "network depth must be >= 1 hidden layer (got %d)", c->depth);
    if (!(c->bias_var >= 0.0) || !isfinite(c->bias_var))
        return bfc_fail(BFC_EINVAL, "bias variance must be finite and >= 0 (got %g)", c->bias_var);
    if (!(c->c_sigma >= 0.0) || !isfinite(c->c_sigma))
        return bfc_fail(BFC_EINVAL, "c_sigma must be > 0, or 0 for the default (got %g)",
                        c->c_sigma);
    return BFC_OK;
}

double bfc_ntk_c_sigma(const bfc_ntk_config *c)
{
    if (c->c_sigma > 0.0) return c->c_sigma;
    return c->activation == BFC_ACT_QUAD ? 1.0 / 3.0 : 2.0;
}

double bfc_ntk_eval(const bfc_ntk_config *c, double xy, double xx, double yy, int d,
                    double *nngp)
{
    const double cs = bfc_ntk_c_sigma(c), b = c->bias_var;
    const double inv_d = 1.0 / (double)d;
    double q1 = xx * inv_d + b, q2 = yy * inv_d + b, s = xy * inv_d + b;
    double theta = s; /* Θ⁰ = Σ⁰ */
    for (int l = 1; l <= c->depth; l++) {
        double e_ss, e_dd, e_11, e_22; /* E[σσ], E[σ'σ'], E[σ(u)²], E[σ(v)²] */
        if (c->activation == BFC_ACT_QUAD) {
            e_ss = q1 * q2 + 2.0 * s * s;
            e_dd = 4.0 * s;
            e_11 = q1 * q1 + 2.0 * q1 * q1;
            e_22 = q2 * q2 + 2.0 * q2 * q2;
        } else {
            const double qq = q1 * q2;
            if (qq > 0.0) {
                /* angle by atan2: accurate near θ = 0 where acos loses half the digits;
                 * written so that x = y gives exactly E[σσ] = s/2, E[σ'σ'] = 1/2 */
                const double sn = sqrt(fmax(qq - s * s, 0.0));
                const double ang = atan2(sn, s);
                e_ss = 0.5 * s + (sn - ang * s) / (2.0 * BFC_PI);
                e_dd = 0.5 - ang / (2.0 * BFC_PI);
            } else {
                e_ss = 0.0;
                e_dd = 0.0;
            }
            e_11 = 0.5 * q1;
            e_22 = 0.5 * q2;
        }
        s = cs * e_ss + b;
        theta = theta * (cs * e_dd) + s;
        q1 = cs * e_11 + b;
        q2 = cs * e_22 + b;
    }
    if (nngp) *nngp = s;
    return theta;
}

void bfc_ntk_eval_array(const bfc_ntk_config *c, const double *xy, const double *xx,
                        const double *yy, size_t n, int d, double *ntk, double *nngp)
{
    for (size_t i = 0; i < n; i++) {
        double g;
        const double t = bfc_ntk_eval(c, xy[i], xx[i], yy[i], d, &g);
        if (ntk) ntk[i] = t;
        if (nngp) nngp[i] = g;
    }
}
