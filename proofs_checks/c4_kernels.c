/* c4_kernels.c: claim C4, kernel methods plateau where end-to-end training does not (the
 * paper's kernel lower bound: a kernel method needs d^{Ω(2^L)} samples for the degree-2^L
 * target, as best known; the criterion and sizes are ours).
 * Method: on each seed's target and training set, kernel ridge regression with the
 * polynomial kernels of degree 4 and 8 and the RBF kernel (s² = d), each with its ridge
 * chosen on a validation split (krr.h); the best kernel of a seed is the family with the
 * lowest *test* error, which favours the kernels (a claim that they fall short is then
 * conservative). e2e trains on the same data (3000 steps per stage).
 * Pass (SPEC §5, ours): at every n of the grid, median over seeds of the best kernel's
 * relative test error ≥ 3 × median e2e error. Per-seed ratios are printed (not judged).
 * Sizes: fast, d = 8 (where kernels are at their best: the degree-4 part of G* has only
 * C(12, 4) = 495 monomials) and n ∈ {256, 512, 1024, 2048}, 3 seeds; full, the SPEC §6
 * configuration d = 20 with n ∈ {1000, 2000, 5000}, 5 seeds (11 min with 2 BLAS threads on
 * a loaded 2-core machine). n = 10000 is left out: one KRR fit there took 200 s on that
 * machine, and the 15 fits would take 50 min. */
#include <math.h>
#include <stdio.h>

#include "bfc.h"
#include "check.h"
#include "runs.h"

#define C4_RATIO 3.0 /* best kernel median / e2e median must reach this at every n */
#define C4_NFAM 3

static const int c4_fam[C4_NFAM] = {BFC_CHECK_POLY4, BFC_CHECK_POLY8, BFC_CHECK_RBF};
static const int c4_n_fast[] = {256, 512, 1024, 2048};
static const int c4_n_full[] = {1000, 2000, 5000};

static int run_c4(bfc_check_ctx *ctx)
{
    const int full = bfc_check_size_of(ctx) == BFC_CHECK_FULL;
    const int *grid = full ? c4_n_full : c4_n_fast;
    const int ngrid = full ? 3 : 4;
    const int ns = bfc_check_nseeds(ctx);
    bfc_check_run_spec base;
    bfc_check_run_defaults(&base);
    base.d = full ? 20 : 8;

    char cas[32];
    snprintf(cas, sizeof cas, "C4/d%d", base.d);
    bfc_check_say(ctx, "%s: d=%d L=%d k=%d g=%g, %d test points; e2e %d steps/stage against KRR "
                  "poly-4, poly-8, rbf on the same data", cas, base.d, base.L, base.k, base.gap,
                  base.n_test, base.steps);
    double e2e[BFC_CHECK_MAX_SEEDS], fam[C4_NFAM][BFC_CHECK_MAX_SEEDS];
    double best[BFC_CHECK_MAX_SEEDS], ratio[BFC_CHECK_MAX_SEEDS], med_ratio[8];
    int pass = 1, refused = 0, diverged = 0;
    for (int g = 0; g < ngrid; g++) {
        const int n = grid[g];
        char winners[256] = "";
        int w = 0;
        for (int i = 0; i < ns; i++) {
            bfc_check_run_spec s = base;
            s.n = n;
            s.seed = bfc_check_seed(ctx, i);
            const bfc_check_run_result *e;
            int st = bfc_check_run(&s, cas, &e);
            if (st) return st;
            diverged += e->status == BFC_EDIVERGED;
            e2e[i] = e->test_error;
            best[i] = NAN;
            int bf = -1;
            for (int f = 0; f < C4_NFAM; f++) {
                const bfc_check_base_result *b;
                if ((st = bfc_check_baseline(&s, c4_fam[f], cas, &b))) return st;
                refused += b->status != BFC_OK;
                fam[f][i] = b->test_error;
                if (isfinite(fam[f][i]) && !(fam[f][i] >= best[i])) {
                    best[i] = fam[f][i];
                    bf = f;
                }
            }
            ratio[i] = best[i] / e2e[i];
            if (w >= 0 && (size_t)w < sizeof winners)
                w += snprintf(winners + w, sizeof winners - (size_t)w, " %s",
                              bf < 0 ? "none" : bfc_check_method_name(c4_fam[bf]));
        }
        bfc_check_say(ctx, "n = %d", n);
        char metric[64], label[64];
        snprintf(metric, sizeof metric, "n%d_e2e_test_error", n);
        bfc_check_series(ctx, cas, metric, "e2e relative test error", e2e, ns);
        for (int f = 0; f < C4_NFAM; f++) {
            const char *name = bfc_check_method_name(c4_fam[f]);
            snprintf(metric, sizeof metric, "n%d_%s_test_error", n, name);
            snprintf(label, sizeof label, "KRR %s (ridge on val.)", name);
            bfc_check_series(ctx, cas, metric, label, fam[f], ns);
        }
        snprintf(metric, sizeof metric, "n%d_best_kernel_test_error", n);
        bfc_check_series(ctx, cas, metric, "best kernel (lowest test err.)", best, ns);
        snprintf(metric, sizeof metric, "n%d_best_kernel_over_e2e", n);
        bfc_check_series(ctx, cas, metric, "best kernel / e2e (per seed)", ratio, ns);
        bfc_check_say(ctx, "best family per seed:%s", winners);
        const double mk = bfc_check_median(best, ns), me = bfc_check_median(e2e, ns);
        med_ratio[g] = mk / me;
        snprintf(metric, sizeof metric, "n%d_ratio_of_medians", n);
        bfc_check_value(ctx, cas, metric, "median best kernel / median e2e", med_ratio[g]);
        pass &= med_ratio[g] >= C4_RATIO; /* a NaN fails */
    }
    if (diverged) bfc_check_say(ctx, "%d e2e runs diverged (kept their last finite state)", diverged);
    if (refused) bfc_check_say(ctx, "%d kernel fits refused (see the messages above)", refused);
    bfc_check_say(ctx, "criterion: at every n, median best-kernel error >= %g x median e2e error",
                  C4_RATIO);
    char sum[512];
    int w = snprintf(sum, sizeof sum, "ratio of medians");
    for (int g = 0; g < ngrid && w > 0 && (size_t)w < sizeof sum; g++)
        w += snprintf(sum + w, sizeof sum - (size_t)w, "%s n=%d: %.3g%s", g ? "," : "", grid[g],
                      med_ratio[g], med_ratio[g] >= C4_RATIO ? "" : " (SHORT)");
    bfc_check_verdict(ctx, cas, pass ? BFC_PASS : BFC_FAIL, "%s (need >= %g at every n)", sum,
                      C4_RATIO);
    return BFC_OK;
}

const bfc_check bfc_check_c4_kernels[] = {
    {"C4", "kernels plateau: best of poly-4, poly-8, rbf (ridge on validation) >= 3x e2e's error "
           "at every n",
     run_c4},
    {NULL, NULL, NULL}};
