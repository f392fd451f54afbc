/* c7_depth.c: claim C7, how deep the backward pass must go (ours, after the paper's
 * discussion of backward feature correction reaching lower layers: each extra layer of
 * backward depth lets one more lower layer be corrected, so the error should not rise with D).
 * Method: at L = 4 (clamp 6, clip 1, as SPEC §6 recommends from L = 4 on) train with backward
 * depth D = 0 (layerwise), 1, 2 (= e2e at L = 4): in stage l, layers max(2, l − D)..l train.
 * Each seed draws its own target and uses the same data, initialisation and steps for every D.
 * Noise band (ours): errors span decades and the targets differ by seed, so depths are
 * compared within each seed (same target, data, initialisation) and in log10:
 *   r_s(D) = log10 err_s(D+1) − log10 err_s(D),   rise(D) = median_s r_s(D),
 *   η(D) = ½ (max_s r_s(D) − min_s r_s(D)), the half-range of the paired changes over seeds.
 * Pass (bfc_claim_c7 in src/claims.c): rise(D) ≤ η(D) for every consecutive pair, i.e. the typical change from D to D+1 is
 * a fall, or a rise no larger than the seed-to-seed spread of that change.
 * Sizes: fast, d = 20, n = 20000, 3000 steps per stage, 3 seeds; full, 5 seeds. */
#include <math.h>
#include <stdio.h>

#include "bfc.h"
#include "check.h"
#include "runs.h"

#define C7_DMAX 2 /* D = 0..L−2 at L = 4 */

static int run_c7(bfc_check_ctx *ctx)
{
    const int ns = bfc_check_nseeds(ctx);
    bfc_check_run_spec base;
    bfc_check_run_defaults(&base);
    base.L = 4;
    base.clamp = 6.0;
    base.clip = 1.0;
    base.schedule = BFC_SCHED_DEPTH;
    const char *cas = "C7/L4";
    char desc[160];
    bfc_check_say(ctx, "%s: backward depth D = 0..%d, %s", cas, C7_DMAX,
                  bfc_check_run_describe(&base, desc, sizeof desc));

    double err[C7_DMAX + 1][BFC_CHECK_MAX_SEEDS], vL[BFC_CHECK_MAX_SEEDS], med[C7_DMAX + 1];
    int diverged = 0;
    for (int D = 0; D <= C7_DMAX; D++) {
        for (int i = 0; i < ns; i++) {
            bfc_check_run_spec s = base;
            s.depth = D;
            s.seed = bfc_check_seed(ctx, i);
            const bfc_check_run_result *r;
            int st = bfc_check_run(&s, cas, &r);
            if (st) return st;
            err[D][i] = r->test_error;
            vL[i] = r->share[s.L];
            diverged += r->status == BFC_EDIVERGED;
        }
        char label[64], metric[64];
        snprintf(label, sizeof label, "D=%d relative test error", D);
        snprintf(metric, sizeof metric, "depth%d_test_error", D);
        bfc_check_series(ctx, cas, metric, label, err[D], ns);
        med[D] = bfc_claim_median(err[D], ns);
    }
    bfc_check_series(ctx, cas, "share_vL", "share v_L (info)", vL, ns);
    if (diverged) bfc_check_say(ctx, "%d runs diverged (kept their last finite state)", diverged);
    double packed[(C7_DMAX + 1) * BFC_CHECK_MAX_SEEDS]; /* err[D * ns + s] */
    for (int D = 0; D <= C7_DMAX; D++)
        for (int i = 0; i < ns; i++) packed[D * ns + i] = err[D][i];
    bfc_claim_c7_result c7;
    const bfc_verdict v = bfc_claim_c7(packed, C7_DMAX + 1, ns, &c7);
    char trend[256];
    int w = 0;
    for (int D = 0; D < C7_DMAX; D++) {
        double r[BFC_CHECK_MAX_SEEDS];
        for (int i = 0; i < ns; i++) r[i] = log10(err[D + 1][i]) - log10(err[D][i]);
        const double rise = c7.rise[D], band = c7.band[D];
        const int ok = rise <= band; /* a NaN fails */
        char label[64], metric[64];
        snprintf(label, sizeof label, "log10 err(D=%d)/err(D=%d)", D + 1, D);
        snprintf(metric, sizeof metric, "log10_change_%d_%d", D, D + 1);
        bfc_check_series(ctx, cas, metric, label, r, ns);
        snprintf(label, sizeof label, "  noise band eta(%d->%d)", D, D + 1);
        snprintf(metric, sizeof metric, "noise_band_%d_%d", D, D + 1);
        bfc_check_value(ctx, cas, metric, label, band);
        if (w >= 0 && (size_t)w < sizeof trend)
            w += snprintf(trend + w, sizeof trend - (size_t)w,
                          "%sD%d->%d median %+.2f dec (band %.2f)%s", D ? ", " : "", D, D + 1,
                          rise, band, ok ? "" : " RISES");
    }
    bfc_check_say(ctx, "criterion: for each D, median_s log10(err(D+1)/err(D)) <= eta, eta = half "
                       "the range over seeds of that log ratio");
    bfc_check_verdict(ctx, cas, v,
                      "median errors %.3g, %.3g, %.3g for D = 0, 1, 2; %s", med[0], med[1],
                      med[2], trend);
    return BFC_OK;
}

const bfc_check bfc_check_c7_depth[] = {
    {"C7", "how deep the backward must go: error non-increasing in backward depth D (L = 4)",
     run_c7, {19, 60}},
    {NULL, NULL, NULL, {0, 0}}};
