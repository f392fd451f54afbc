/* ntk.h: closed-form infinite-width NNGP and NTK kernels of a deep fully connected network
 * with ReLU or quadratic activation, as functions of (<x,y>, ‖x‖², ‖y‖²).
 *
 * The network (NTK parameterisation, all weights and biases i.i.d. N(0, 1)), depth L hidden
 * layers of width m, input x ∈ R^d:
 *   z¹ = W⁰ x / √d + σ_b b⁰
 *   a^l = σ(z^l),  z^{l+1} = √(c_σ/m) W^l a^l + σ_b b^l   (l = 1..L; z^{L+1} = f(x) is scalar)
 * As m → ∞ the output is a Gaussian process with covariance Σ^L (the NNGP kernel) and the
 * gradient inner product <∇f(x), ∇f(y)> over all weights converges to Θ^L (the NTK):
 *   Σ⁰ = <x,y>/d + σ_b²,  Θ⁰ = Σ⁰
 *   Σ^l  = c_σ E[σ(u)σ(v)] + σ_b²,  Σ'^l = c_σ E[σ'(u)σ'(v)],  Θ^l = Θ^{l-1} Σ'^l + Σ^l
 *   with (u, v) ~ N(0, [[q₁, Σ^{l-1}], [Σ^{l-1}, q₂]]), q₁ = Σ^{l-1}(x,x), q₂ = Σ^{l-1}(y,y).
 * ReLU (arc-cosine kernels, θ = arccos(Σ/√(q₁q₂))):
 *   E[σ(u)σ(v)]   = (√(q₁q₂ − Σ²) + (π − θ) Σ) / (2π),   E[σ'(u)σ'(v)] = (π − θ) / (2π);
 *   default c_σ = 2, so the diagonal is preserved: Σ^l(x,x) = q (σ_b = 0).
 *   When q₁q₂ = 0 (a zero input) u or v is identically 0 and both expectations are 0.
 * Quadratic σ(z) = z² (Isserlis):
 *   E[σ(u)σ(v)] = q₁q₂ + 2Σ²,   E[σ'(u)σ'(v)] = 4Σ;
 *   i.e. per layer, before the dense step, Σ ← 2Σ² + q₁q₂ and Θ ← 4ΣΘ (SPEC §3 (a));
 *   the dense step multiplies both by c_σ and adds Σ^l (and σ_b²) to Θ.
 *   Default c_σ = 1/3 = 1/E[g⁴] for g ~ N(0,1): inputs with ‖x‖²/d = 1 keep Σ^l(x,x) = 1 at
 *   every layer. The diagonal map q ← q² is unstable around 1: for ‖x‖²/d = q the diagonal is
 *   q^(2^L), so inputs should be standardised (as the suite's Gaussian inputs are).
 * All functions here are pure (no allocation, no output, no randomness). */
#ifndef BFC_NTK_H
#define BFC_NTK_H

#include <stddef.h>

typedef enum {
    BFC_ACT_RELU = 0, /* σ(z) = max(z, 0) */
    BFC_ACT_QUAD = 1  /* σ(z) = z² */
} bfc_activation;

typedef struct {
    bfc_activation activation; /* default BFC_ACT_RELU */
    int depth;                 /* number of hidden layers L ≥ 1 (default 2) */
    double bias_var;           /* σ_b² ≥ 0 (default 0) */
    double c_sigma;            /* weight variance of the dense steps; 0 = default for the
                                  activation (2 for ReLU, 1/3 for quadratic) */
} bfc_ntk_config;

/* Fill c with the defaults above. */
void bfc_ntk_defaults(bfc_ntk_config *c);
/* BFC_OK, or BFC_EINVAL with a message (unknown activation, depth < 1, negative variances). */
int bfc_ntk_validate(const bfc_ntk_config *c);
/* The c_σ in force (c->c_sigma, or the activation's default when it is 0). */
double bfc_ntk_c_sigma(const bfc_ntk_config *c);
/* "relu" or "quad" (NULL for an unknown activation). */
const char *bfc_activation_name(bfc_activation a);

/* Θ^L(x, y) from xy = <x,y>, xx = ‖x‖², yy = ‖y‖² and the input dimension d; when nngp is
 * not NULL it receives Σ^L(x, y). The config must be valid (bfc_ntk_validate). */
double bfc_ntk_eval(const bfc_ntk_config *c, double xy, double xx, double yy, int d,
                    double *nngp);

/* Element-wise over arrays: ntk (n), nngp (n) from xy (n), xx (n), yy (n); either output
 * may be NULL. */
void bfc_ntk_eval_array(const bfc_ntk_config *c, const double *xy, const double *xx,
                        const double *yy, size_t n, int d, double *ntk, double *nngp);

#endif
