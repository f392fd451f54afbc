/* c6_ntk_seqkernel.c: claim C6, neural tangent kernels and the sequential kernel also fall
 * short of end-to-end training (the paper's kernel lower bound d^{Ω(2^L)} covers every
 * kernel, the NTK included, as best known; the sequential kernel is layer-wise learning with
 * a kernel per layer, which the paper's layer-wise separation covers; criterion ours).
 * Method: on each seed's target and training set, with the ridge chosen on a validation split:
 *   ntk-relu-2  closed-form NTK of a 2-hidden-layer ReLU network, bias variance 1
 *   ntk-quad-2  closed-form NTK of a 2-hidden-layer network with σ(z) = z², bias variance 1
 *   ntk-quad-L  the same with L hidden layers (degree 2^L, the target's degree)
 *   entk        the empirical NTK of the learner at its initialisation (its lazy regime)
 *   seqkernel   stage by stage ridge regression on the quadratic monomials of the features
 * (configurations in runs.h: without a bias the closed-form NTKs represent only homogeneous
 * functions and fail for that reason alone, so the bias is on). e2e trains on the same data.
 * Pass (SPEC §5, ours; bfc_claim_ratio_grid in src/claims.c, as the sweep's report), one case
 * per method: at every n of the grid, median over seeds of the method's relative test error
 * ≥ 3 × median e2e error; PARTIAL at some n only. Per-seed ratios are printed.
 * Sizes: fast, d = 8, n ∈ {256, 512, 1024}, 3 seeds; full, the SPEC §6 configuration d = 20
 * with n ∈ {2000, 3000, 5000}, 5 seeds (8.5 min with 2 BLAS threads on a loaded 2-core
 * machine, where the five methods took up to 210 s per seed at n = 5000 and one KRR fit took
 * 200 s at n = 10000, so n = 10000 is left out). The sequential kernel needs more fitting points
 * than layer 2's 861 quadratic monomials at d = 20 (n ≥ 1077), hence no smaller n. A fit
 * that is refused leaves a NaN; an n where the method's median is NaN is not judged (named
 * "refused" in the summary), and a method refused at every n is N/A, counted as failed: the
 * claim is not verified where the method could not be fitted. */
#include <math.h>
#include <stdio.h>

#include "bfc.h"
#include "check.h"
#include "runs.h"

#define C6_NMETH 5
#define C6_MAXN 4

static const int c6_meth[C6_NMETH] = {BFC_CHECK_NTK_RELU, BFC_CHECK_NTK_QUAD,
                                      BFC_CHECK_NTK_QUAD_L, BFC_CHECK_ENTK, BFC_CHECK_SEQK};
static const int c6_n_fast[] = {256, 512, 1024};
static const int c6_n_full[] = {2000, 3000, 5000};

static int run_c6(bfc_check_ctx *ctx)
{
    const int full = bfc_check_size_of(ctx) == BFC_CHECK_FULL;
    const int *grid = full ? c6_n_full : c6_n_fast;
    const int ngrid = 3;
    const int ns = bfc_check_nseeds(ctx);
    bfc_check_run_spec base;
    bfc_check_run_defaults(&base);
    base.d = full ? 20 : 8;

    static double e2e[C6_MAXN][BFC_CHECK_MAX_SEEDS];
    static double err[C6_NMETH][C6_MAXN][BFC_CHECK_MAX_SEEDS];
    int refused[C6_NMETH][C6_MAXN] = {{0}}, diverged = 0;
    bfc_check_say(ctx, "d=%d L=%d k=%d g=%g, %d test points; e2e %d steps/stage against the "
                  "NTKs and the sequential kernel on the same data", base.d, base.L, base.k,
                  base.gap, base.n_test, base.steps);
    for (int g = 0; g < ngrid; g++)
        for (int i = 0; i < ns; i++) {
            bfc_check_run_spec s = base;
            s.n = grid[g];
            s.seed = bfc_check_seed(ctx, i);
            const bfc_check_run_result *e;
            int st = bfc_check_run(&s, "C6", &e);
            if (st) return st;
            diverged += e->status == BFC_EDIVERGED;
            e2e[g][i] = e->test_error;
            for (int m = 0; m < C6_NMETH; m++) {
                const bfc_check_base_result *b;
                if ((st = bfc_check_baseline(&s, c6_meth[m], "C6", &b))) return st;
                refused[m][g] += b->status != BFC_OK;
                err[m][g][i] = b->test_error;
            }
        }
    if (diverged) bfc_check_say(ctx, "%d e2e runs diverged (kept their last finite state)", diverged);
    for (int g = 0; g < ngrid; g++) {
        char metric[64], label[64];
        snprintf(metric, sizeof metric, "n%d_e2e_test_error", grid[g]);
        snprintf(label, sizeof label, "e2e rel. test error, n = %d", grid[g]);
        bfc_check_series(ctx, "C6", metric, label, e2e[g], ns);
    }
    for (int m = 0; m < C6_NMETH; m++) {
        const char *name = bfc_check_method_name(c6_meth[m]);
        char cas[48];
        snprintf(cas, sizeof cas, "C6/%s", name);
        bfc_check_say(ctx, "%s", cas);
        double med_e2e[C6_MAXN], med_m[C6_MAXN];
        for (int g = 0; g < ngrid; g++) {
            double ratio[BFC_CHECK_MAX_SEEDS];
            for (int i = 0; i < ns; i++) ratio[i] = err[m][g][i] / e2e[g][i];
            char metric[64], label[64];
            snprintf(metric, sizeof metric, "n%d_test_error", grid[g]);
            snprintf(label, sizeof label, "rel. test error, n = %d", grid[g]);
            bfc_check_series(ctx, cas, metric, label, err[m][g], ns);
            snprintf(metric, sizeof metric, "n%d_over_e2e", grid[g]);
            snprintf(label, sizeof label, "  / e2e (per seed)");
            bfc_check_series(ctx, cas, metric, label, ratio, ns);
            med_m[g] = bfc_claim_median(err[m][g], ns);
            med_e2e[g] = bfc_claim_median(e2e[g], ns);
            snprintf(metric, sizeof metric, "n%d_ratio_of_medians", grid[g]);
            bfc_check_value(ctx, cas, metric, "  median / median e2e", med_m[g] / med_e2e[g]);
        }
        bfc_claim_ratios r;
        const bfc_verdict v = bfc_claim_ratio_grid(med_e2e, med_m, ngrid, BFC_CLAIM_RATIO,
                                                  BFC_CLAIM_LEARNED, &r);
        char sum[512];
        int w = snprintf(sum, sizeof sum, "ratio of medians");
        for (int g = 0; g < ngrid && w > 0 && (size_t)w < sizeof sum; g++) {
            if (refused[m][g])
                bfc_check_say(ctx, "n = %d: %d of %d fits refused (see the messages above)",
                              grid[g], refused[m][g], ns);
            if (isnan(r.ratio[g]) && refused[m][g])
                w += snprintf(sum + w, sizeof sum - (size_t)w, "%s n=%d: refused", g ? "," : "",
                              grid[g]);
            else
                w += snprintf(sum + w, sizeof sum - (size_t)w, "%s n=%d: %.3g%s", g ? "," : "",
                              grid[g], r.ratio[g], r.ratio[g] >= BFC_CLAIM_RATIO ? "" : " (SHORT)");
        }
        bfc_check_verdict(ctx, cas, v, "%s (need >= %g at every n; %d of %d hold)", sum,
                          BFC_CLAIM_RATIO, r.held, r.judged);
    }
    bfc_check_say(ctx, "criterion (each method): at every n, median error >= %g x median e2e error",
                  BFC_CLAIM_RATIO);
    return BFC_OK;
}

const bfc_check bfc_check_c6_ntk_seqkernel[] = {
    {"C6", "NTKs (ReLU, quadratic, the learner's empirical NTK) and the sequential kernel: "
           ">= 3x e2e's error at every n",
     run_c6, {2, 420}},
    {NULL, NULL, NULL, {0, 0}}};
