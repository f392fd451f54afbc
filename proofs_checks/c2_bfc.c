/* c2_bfc.c: claim C2, backward feature correction (the paper's central mechanism, §1 and
 * its main theorem as best known: training the higher layers end to end improves the lower
 * layers' features beyond what they reach on their own).
 * Method: train e2e and layerwise on each seed's own target; read the feature error of layer
 * 2 (SPEC §4: min_A ‖[S_2, 1]A − S*_2‖² / ‖S*_2 − mean‖² on the test set) at the end of stage 2
 * and at the end of training. Correction factor = error after stage 2 / error at the end.
 * Pass (SPEC §5, ours; bfc_claim_c2 in src/claims.c): e2e — the factor exceeds 1 in every seed and its median is ≥ 3 on the
 *   SPEC §6 configuration and at the full size (≥ 2 only for a reduced configuration at the
 *   fast size; none is used now); layerwise — layer 2 is frozen after stage 2, so "unchanged"
 *   means |error at end − error after stage 2| ≤ 1e-12 × error after stage 2 in every seed
 *   (the parameters are bitwise frozen, so any larger change would be a bug).
 * Cases: fast, the SPEC §6 configuration (L = 3); full, also L = 4 with clamp 6 and clip 1. */
#include <math.h>
#include <stdio.h>

#include "bfc.h"
#include "check.h"
#include "runs.h"

#define C2_FACTOR_REDUCED 2.0 /* median correction on a reduced fast configuration */

static int run_c2(bfc_check_ctx *ctx)
{
    bfc_check_run_spec specs[4];
    const char *names[4];
    const int ncfg = bfc_check_main_configs(bfc_check_size_of(ctx), specs, names);
    const int ns = bfc_check_nseeds(ctx);
    double fe_e2_stage2[BFC_CHECK_MAX_SEEDS], fe_e2_end[BFC_CHECK_MAX_SEEDS],
        factor[BFC_CHECK_MAX_SEEDS], fe_lw_stage2[BFC_CHECK_MAX_SEEDS],
        fe_lw_end[BFC_CHECK_MAX_SEEDS], lw_change[BFC_CHECK_MAX_SEEDS];
    for (int c = 0; c < ncfg; c++) {
        char cas[32], desc[160];
        snprintf(cas, sizeof cas, "C2/%s", names[c]);
        bfc_check_say(ctx, "%s: %s", cas, bfc_check_run_describe(&specs[c], desc, sizeof desc));
        const double need = bfc_check_run_is_spec6(&specs[c]) ||
                                    bfc_check_size_of(ctx) == BFC_CHECK_FULL
                                ? BFC_CLAIM_C2_FACTOR
                                : C2_FACTOR_REDUCED;
        int diverged = 0;
        for (int i = 0; i < ns; i++) {
            bfc_check_run_spec s = specs[c];
            s.seed = bfc_check_seed(ctx, i);
            const bfc_check_run_result *e, *w;
            int st = bfc_check_run(&s, cas, &e);
            if (st) return st;
            s.schedule = BFC_SCHED_LAYERWISE;
            if ((st = bfc_check_run(&s, cas, &w))) return st;
            diverged += (e->status == BFC_EDIVERGED) + (w->status == BFC_EDIVERGED);
            fe_e2_stage2[i] = bfc_check_fe_after_stage(e, 2, 2);
            fe_e2_end[i] = e->res.feature_error[2];
            factor[i] = fe_e2_stage2[i] / fe_e2_end[i];
            fe_lw_stage2[i] = bfc_check_fe_after_stage(w, 2, 2);
            fe_lw_end[i] = w->res.feature_error[2];
            lw_change[i] = fabs(fe_lw_end[i] - fe_lw_stage2[i]) / fe_lw_stage2[i];
        }
        bfc_check_series(ctx, cas, "e2e_fe2_after_stage2", "e2e fe_2 after stage 2", fe_e2_stage2, ns);
        bfc_check_series(ctx, cas, "e2e_fe2_end", "e2e fe_2 at the end", fe_e2_end, ns);
        bfc_check_series(ctx, cas, "e2e_fe2_correction", "e2e correction factor", factor, ns);
        bfc_check_series(ctx, cas, "layerwise_fe2_after_stage2", "layerwise fe_2 after st. 2",
                         fe_lw_stage2, ns);
        bfc_check_series(ctx, cas, "layerwise_fe2_end", "layerwise fe_2 at the end", fe_lw_end, ns);
        bfc_check_series(ctx, cas, "layerwise_fe2_rel_change", "layerwise |rel. change|",
                         lw_change, ns);
        if (specs[c].L >= 4) { /* shown, not judged: the same correction one layer up */
            double a[BFC_CHECK_MAX_SEEDS], b[BFC_CHECK_MAX_SEEDS];
            for (int i = 0; i < ns; i++) {
                bfc_check_run_spec s = specs[c];
                s.seed = bfc_check_seed(ctx, i);
                const bfc_check_run_result *e;
                int st = bfc_check_run(&s, cas, &e);
                if (st) return st;
                a[i] = bfc_check_fe_after_stage(e, 3, 3);
                b[i] = e->res.feature_error[3];
            }
            bfc_check_series(ctx, cas, "e2e_fe3_after_stage3", "e2e fe_3 after stage 3 (info)", a, ns);
            bfc_check_series(ctx, cas, "e2e_fe3_end", "e2e fe_3 at the end (info)", b, ns);
        }
        if (diverged) bfc_check_say(ctx, "%d runs diverged (kept their last finite state)", diverged);
        bfc_claim_c2_result r;
        const bfc_verdict v = bfc_claim_c2(factor, lw_change, ns, need, &r);
        bfc_check_say(ctx, "criterion: e2e factor > 1 in every seed and median >= %g; layerwise "
                           "|rel. change| <= %g in every seed", need, BFC_CLAIM_C2_FROZEN_RTOL);
        bfc_check_verdict(ctx, cas, v,
                          "e2e median correction %.3gx (min %.3gx; need >= %gx, falls in %s seed); "
                          "layerwise max |rel. change| %.2g (%s)",
                          r.med_factor, r.min_factor, need, r.all_fall ? "every" : "NOT every",
                          r.max_change, r.all_frozen ? "unchanged" : "CHANGED");
    }
    return BFC_OK;
}

const bfc_check bfc_check_c2_bfc[] = {
    {"C2", "backward feature correction: e2e's layer-2 feature error falls after stage 2, "
           "layerwise's does not",
     run_c2, {2, 30}},
    {NULL, NULL, NULL, {0, 0}}};
