/* sweep_claims.c: the verdicts section of a sweep's REPORT.md. The claims of SPEC §5 that the
 * sweep's cells cover (C3, C4, C5, C6) are judged by the criteria of src/claims.c, the same
 * functions bfc_check calls; the claim checks found beside the sweep (checks/verdicts.csv)
 * add the claims the cells do not cover. One line per claim and target, naming its data.
 * When both judged the same claim on the same target configuration, the line shows both and
 * takes the verdict of the source with more seeds (at equal seeds, the sweep's, which covers
 * more n): a median over 5 seeds is decided by 3 of them, over 3 seeds by 2, and at L = 4 a
 * single seed can decide the plain error. Then e2e's error vs n is checked for monotonicity
 * within the spread over seeds, with the epochs per sample that the fixed step budget gives. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "claims.h"
#include "fsutil.h"
#include "json.h"
#include "sweep_internal.h"

#define MAX_CHECK_ROWS 128

/* The claim checks' verdicts (checks/verdicts.csv) and their seeds and size (checks.json). */
typedef struct {
    int n;
    char cas[MAX_CHECK_ROWS][64], verdict[MAX_CHECK_ROWS][32], summary[MAX_CHECK_ROWS][1024];
    int used[MAX_CHECK_ROWS]; /* shown on a line beside the sweep's verdict */
    int seeds;                /* 0: unknown */
    int full;                 /* --size full */
} checkrows;

static void read_checks(const char *out, checkrows *c)
{
    memset(c, 0, sizeof *c);
    char path[PATH_CAP];
    pjoin(path, sizeof path, out, "checks/verdicts.csv");
    char *text = bfc_read_file(path, NULL);
    if (!text) return;
    char *save = NULL;
    int line = 0;
    for (char *l = strtok_r(text, "\n", &save); l && c->n < MAX_CHECK_ROWS;
         l = strtok_r(NULL, "\n", &save), line++) {
        if (line == 0) continue; /* claim,verdict,summary */
        char field[3][1024];
        if (csv_fields(l, field, 3) < 3) continue;
        snprintf(c->cas[c->n], sizeof c->cas[0], "%.63s", field[0]);
        snprintf(c->verdict[c->n], sizeof c->verdict[0], "%.31s", field[1]);
        snprintf(c->summary[c->n], sizeof c->summary[0], "%s", field[2]);
        c->n++;
    }
    free(text);
    /* make bench merges two parts; each part's checks.json names the same size and seeds */
    const char *parts[] = {"checks/checks.json", "checks/part0/checks.json"};
    for (int p = 0; p < 2 && !c->seeds; p++) {
        pjoin(path, sizeof path, out, parts[p]);
        char *js = bfc_read_file(path, NULL);
        bfc_json *j = js ? bfc_json_parse(js, NULL, 0) : NULL;
        double seeds;
        if (!bfc_json_number(bfc_json_get(j, "seeds"), &seeds)) c->seeds = (int)seeds;
        const char *size = bfc_json_string(bfc_json_get(j, "size"));
        c->full = size && !strcmp(size, "full");
        bfc_json_free(j);
        free(js);
    }
}

/* The check case that judged claim on the same configuration as target ti (and method, for
 * C6), −1 if none. The checks' L3 and L4 are the sweep's L3 and L4 (SPEC §6 and its L = 4
 * extension, by name); their full-size C4 and C6 run on the SPEC §6 configuration (d = 20),
 * the sweep's target with d = 20, L = 3 and no flags of its own. */
static int check_case(const checkrows *c, const sweep_agg *a, const char *claim, int ti,
                      const char *mname)
{
    const target *t = &a->s->t[ti];
    char want[128];
    for (int r = 0; r < c->n; r++) {
        snprintf(want, sizeof want, "%s/%s", claim, t->name);
        if (!strcmp(c->cas[r], want)) return r;
        const int spec6 = c->full && t->tc.d == 20 && t->tc.L == 3 && !t->args.n;
        if (spec6 && !strcmp(claim, "C4") && !strcmp(c->cas[r], "C4/d20")) return r;
        snprintf(want, sizeof want, "%s/%s", claim, mname ? mname : "");
        if (spec6 && mname && !strcmp(c->cas[r], want)) return r;
    }
    return -1;
}

static int verdict_from_name(const char *name)
{
    for (int v = 0; v < BFC_VERDICT_COUNT; v++)
        if (!strcmp(bfc_verdict_name((bfc_verdict)v), name)) return v;
    return -1;
}

/* "seeds 0, 1, 2" of the sweep */
static void sweep_seeds(const bfc_sweep *s, char *buf, size_t cap)
{
    int w = snprintf(buf, cap, "%d seed%s (", s->nseeds, s->nseeds == 1 ? "" : "s");
    for (int k = 0; k < s->nseeds && w > 0 && (size_t)w < cap; k++)
        w += snprintf(buf + w, cap - (size_t)w, "%s%lld", k ? ", " : "", s->seeds[k]);
    if (w > 0 && (size_t)w < cap) snprintf(buf + w, cap - (size_t)w, ")");
}

/* One verdict line. sv/sdetail: the sweep's verdict and numbers; the check's row r (or −1). */
static void verdict_line(FILE *o, const sweep_agg *a, checkrows *c, const char *claim,
                         const char *what, int ti, bfc_verdict sv, const char *sdetail, int r)
{
    const bfc_sweep *s = a->s;
    char seeds[256];
    sweep_seeds(s, seeds, sizeof seeds);
    const int cv = r >= 0 ? verdict_from_name(c->verdict[r]) : -1;
    /* the source with more seeds; at equal seeds the sweep (more n) */
    const int use_check = r >= 0 && c->seeds > s->nseeds;
    const bfc_verdict v = use_check && cv >= 0 ? (bfc_verdict)cv : sv;
    fprintf(o, "- **%s** %s, target %s: **%s**", claim, what, s->t[ti].name, bfc_verdict_name(v));
    if (use_check)
        fprintf(o, ", from bfc_check's own runs (%d seeds): %s\n", c->seeds, c->summary[r]);
    else
        fprintf(o, ", from the sweep's cells (%s): %s\n", seeds, sdetail);
    if (r < 0) return;
    c->used[r] = 1;
    if (use_check)
        fprintf(o, "  - the sweep's cells (%s) give **%s**: %s\n", seeds, bfc_verdict_name(sv),
                sdetail);
    else
        fprintf(o, "  - bfc_check's own runs (%d seeds) give **%s**: %s\n", c->seeds, c->verdict[r],
                c->summary[r]);
    if (cv >= 0 && (bfc_verdict)cv != sv)
        fprintf(o, "  - the two sources disagree; the verdict is that of the one with more seeds "
                   "(%d against %d): the median over more seeds depends less on any single "
                   "seed\n",
                use_check ? c->seeds : s->nseeds, use_check ? s->nseeds : c->seeds);
}

/* The finished cell's test error of method mi on target ti at n, seed k (NaN if none). */
static double cell_error(const sweep_agg *a, int ti, int mi, int n, int k)
{
    const bfc_sweep *s = a->s;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].t != ti || s->ci[i].m != mi || s->cells[i].n != n ||
            s->cells[i].seed != s->seeds[k])
            continue;
        const int j = s->ci[i].dup_of >= 0 ? s->ci[i].dup_of : i;
        return a->cr[j].status == 1 ? a->cr[j].test_error : NAN;
    }
    return NAN;
}

static int is_kernel_role(const char *r)
{
    return !strcmp(r, "kernel") || !strcmp(r, "ntk") || !strcmp(r, "nngp");
}

/* "n=1000: 3.1; n=2000: 4.2 (entk)" for the judged points, then the n left out because e2e
 * had not learned there */
static void ratio_text(const bfc_claim_ratios *r, const int *grid, const double *e2e,
                       char who[][64], char *buf, size_t cap)
{
    int w = snprintf(buf, cap, "ratio >= %g at %d of %d n; ratios", BFC_CLAIM_RATIO, r->held,
                     r->judged);
    for (int j = 0, k = 0; j < r->points && w > 0 && (size_t)w < cap; j++) {
        if (isnan(r->ratio[j])) continue;
        w += snprintf(buf + w, cap - (size_t)w, "%s n=%d: %.3g%s%s%s", k++ ? ";" : "", grid[j],
                      r->ratio[j], who ? " (" : "", who ? who[j] : "", who ? ")" : "");
    }
    if (r->unlearned && w > 0 && (size_t)w < cap) {
        w += snprintf(buf + w, cap - (size_t)w, "; not judged where e2e's own median is above "
                      "%g (no method has learned there):", BFC_CLAIM_LEARNED);
        for (int j = 0; j < r->points && w > 0 && (size_t)w < cap; j++)
            if (e2e[j] > BFC_CLAIM_LEARNED)
                w += snprintf(buf + w, cap - (size_t)w, " n=%d (e2e %.2g)", grid[j], e2e[j]);
    }
}

/* C3, C4 and C6 on target ti */
static void ratio_claims(FILE *o, const sweep_agg *a, checkrows *c, int ti)
{
    const bfc_sweep *s = a->s;
    int ng;
    const int *grid = sweep_grid(s, ti, &ng);
    if (ng > BFC_CLAIM_MAX_GRID) ng = BFC_CLAIM_MAX_GRID;
    const series *e2e = role_series(a, ti, "e2e");
    if (!e2e) return;
    double me[BFC_CLAIM_MAX_GRID], mo[BFC_CLAIM_MAX_GRID];
    for (int j = 0; j < ng; j++) me[j] = series_at(e2e, grid[j]);
    char detail[4096];
    bfc_claim_ratios r;
    const series *lw = role_series(a, ti, "layerwise");
    if (lw) {
        for (int j = 0; j < ng; j++) mo[j] = series_at(lw, grid[j]);
        const bfc_verdict v = bfc_claim_ratio_grid(me, mo, ng, BFC_CLAIM_RATIO, BFC_CLAIM_LEARNED, &r);
        ratio_text(&r, grid, me, NULL, detail, sizeof detail);
        verdict_line(o, a, c, "C3", "layerwise median error >= 3x e2e's (same data and steps)",
                     ti, v, detail, check_case(c, a, "C3", ti, NULL));
        char buf[2048] = "";
        int tot = 0;
        for (int j = 0; j < ng; j++) {
            const double be = series_bulk_at(e2e, grid[j]), bl = series_bulk_at(lw, grid[j]);
            if (isnan(be) || isnan(bl)) continue;
            size_t len = strlen(buf);
            snprintf(buf + len, sizeof buf - len, "%s n=%d: %.3g", tot++ ? ";" : "", grid[j],
                     bl / be);
        }
        if (tot)
            fprintf(o, "  - the same ratio on `test_error_bulk` (the test points whose G* lies in "
                       "its central 99.9%%; ours, shown, not judged):%s\n",
                    buf);
    }
    /* C4: per n and seed the best of the kernel methods run there, then the median */
    int nk = 0, km[64];
    for (int mi = 0; mi < s->nm && nk < 64; mi++)
        if (is_kernel_role(s->m[mi].role) && find_series(a, ti, mi)) km[nk++] = mi;
    if (nk) {
        char who[BFC_CLAIM_MAX_GRID][64];
        double err[64 * 64], best[64];
        int which[64];
        const int ns = s->nseeds < 64 ? s->nseeds : 64;
        for (int j = 0; j < ng; j++) {
            for (int m = 0; m < nk; m++)
                for (int k = 0; k < ns; k++) err[m * ns + k] = cell_error(a, ti, km[m], grid[j], k);
            bfc_claim_best_per_seed(err, nk, ns, best, which);
            mo[j] = bfc_claim_median(best, ns);
            /* the winners, each once */
            who[j][0] = '\0';
            for (int k = 0; k < ns; k++) {
                if (which[k] < 0) continue;
                const char *name = s->m[km[which[k]]].name;
                if (strstr(who[j], name)) continue;
                size_t len = strlen(who[j]);
                snprintf(who[j] + len, sizeof who[j] - len, "%s%s", len ? ", " : "", name);
            }
        }
        const bfc_verdict v = bfc_claim_ratio_grid(me, mo, ng, BFC_CLAIM_RATIO, BFC_CLAIM_LEARNED, &r);
        ratio_text(&r, grid, me, who, detail, sizeof detail);
        verdict_line(o, a, c, "C4",
                     "best kernel method's median error >= 3x e2e's at every n (per seed the "
                     "lowest error of the KRR, NTK, NNGP and empirical NTK methods run at that n, "
                     "named with each ratio)",
                     ti, v, detail, check_case(c, a, "C4", ti, NULL));
    }
    for (int mi = 0; mi < s->nm; mi++) {
        const char *role = s->m[mi].role;
        if (strcmp(role, "ntk") && strcmp(role, "nngp") && strcmp(role, "seqkernel")) continue;
        const series *sr = find_series(a, ti, mi);
        if (!sr) continue;
        for (int j = 0; j < ng; j++) mo[j] = series_at(sr, grid[j]);
        const bfc_verdict v = bfc_claim_ratio_grid(me, mo, ng, BFC_CLAIM_RATIO, BFC_CLAIM_LEARNED, &r);
        ratio_text(&r, grid, me, NULL, detail, sizeof detail);
        char what[160];
        snprintf(what, sizeof what, "%s median error >= 3x e2e's at the same n", s->m[mi].name);
        verdict_line(o, a, c, "C6", what, ti, v, detail,
                     check_case(c, a, "C6", ti, s->m[mi].name));
    }
}

/* C5 over a group of targets differing in d */
static int c5_claim(FILE *o, const sweep_agg *a, int ti)
{
    const bfc_sweep *s = a->s;
    int me = -1;
    for (int mi = 0; mi < s->nm && me < 0; mi++)
        if (!strcmp(s->m[mi].role, "e2e")) me = mi;
    if (me < 0) return 0;
    dcurve e;
    neps_vs_d(a, ti, me, s->eps_vs_d, &e);
    if (!e.m) return 0;
    int any = 0;
    char seeds[256];
    sweep_seeds(s, seeds, sizeof seeds);
    for (int mi = 0; mi < s->nm; mi++) {
        if (!is_kernel_role(s->m[mi].role)) continue;
        dcurve k;
        neps_vs_d(a, ti, mi, s->eps_vs_d, &k);
        if (!k.m) continue;
        any = 1;
        double diff;
        const bfc_verdict v = bfc_claim_c5(&k.fit, &e.fit, &diff);
        fprintf(o, "- **C5** exponent b of n_eps(d) ~ d^b at eps = %g, %s vs %s, group %s: **%s**, "
                   "from the sweep's cells (%s): ",
                s->eps_vs_d, s->m[mi].name, s->m[me].name, s->t[ti].group, bfc_verdict_name(v),
                seeds);
        if (k.fit.fitted)
            fprintf(o, "%s b = %.2f +- %.2f", s->m[mi].name, k.fit.b, k.fit.b_se);
        else if (isfinite(k.fit.b_low))
            fprintf(o, "%s b >= %.2f (a bound from a censored n_eps; no fit)", s->m[mi].name,
                    k.fit.b_low);
        else
            fprintf(o, "%s: no exponent", s->m[mi].name);
        fprintf(o, " over %d measured of %d d; %s b = %.2f +- %.2f over %d measured of %d d",
                k.fit.used, k.fit.points, s->m[me].name, e.fit.b, e.fit.b_se, e.fit.used,
                e.fit.points);
        if (isfinite(diff)) fprintf(o, "; difference %.2f (need >= %g)", diff, BFC_CLAIM_C5_MARGIN);
        fprintf(o, "\n");
        for (int w = 0; w < 2; w++) {
            const dcurve *dc = w ? &k : &e;
            char list[512] = "";
            for (int i = 0; i < dc->m; i++) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%sd=%g: %s%.0f", i ? ", " : "", dc->d[i],
                         dc->censor[i] == BFC_NEPS_ABOVE   ? "> "
                         : dc->censor[i] == BFC_NEPS_BELOW ? "<= "
                                                           : "",
                         dc->ne[i]);
            }
            fprintf(o, "  - n_eps of %s (log-log interpolated crossing; `>`: not reached up to that "
                       "n, `<=`: reached at the grid's smallest n, neither fitted): %s\n",
                    s->m[w ? mi : me].name, list);
        }
    }
    return any;
}

/* e2e's error vs n: monotone within the spread over seeds, or the rise with its epochs */
static void monotone_line(FILE *o, const sweep_agg *a, int ti)
{
    const bfc_sweep *s = a->s;
    const series *e2e = role_series(a, ti, "e2e");
    if (!e2e) return;
    int ng;
    const int *grid = sweep_grid(s, ti, &ng);
    if (ng > BFC_CLAIM_MAX_GRID) ng = BFC_CLAIM_MAX_GRID;
    double med[BFC_CLAIM_MAX_GRID], hi[BFC_CLAIM_MAX_GRID];
    for (int j = 0; j < ng; j++) {
        med[j] = hi[j] = NAN;
        for (int q = 0; q < e2e->nn; q++)
            if (e2e->n[q] == grid[j] && e2e->ok[q]) med[j] = e2e->med[q], hi[j] = e2e->hi[q];
    }
    bfc_claim_monotone m;
    const bfc_verdict v = bfc_claim_monotone_n(med, hi, ng, &m);
    fprintf(o, "- e2e's error falls with n within the spread over seeds, target %s: **%s**",
            s->t[ti].name, bfc_verdict_name(v));
    if (v != BFC_VERDICT_FAIL) {
        fprintf(o, " (%d n)\n", m.judged);
        return;
    }
    const int nj = grid[m.worst_j], nk = grid[m.worst_k];
    fprintf(o, " (%d rise%s; the largest: median %.2g at n = %d, above every seed's %.2g at "
               "n = %d)\n",
            m.rises, m.rises == 1 ? "" : "s", med[m.worst_k], nk, hi[m.worst_j], nj);
    /* the step budget: every stage runs the same number of steps whatever n */
    const method *me = &s->m[e2e->mi];
    int steps = 3000, batch = 256;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].t != ti || s->ci[i].m != e2e->mi || s->cells[i].n != nk) continue;
        for (int q = 0; q + 1 < s->cells[i].argc; q++) {
            if (!strcmp(s->cells[i].argv[q], "--steps")) steps = atoi(s->cells[i].argv[q + 1]);
            if (!strcmp(s->cells[i].argv[q], "--batch")) batch = atoi(s->cells[i].argv[q + 1]);
        }
        break;
    }
    fprintf(o, "  - %s trains %d steps of %d samples per stage at every n: %.3g epochs per stage "
               "at n = %d, %.3g at n = %d. Where the error is limited by the step budget rather "
               "than by n, a larger n gets fewer passes over each sample and its error need not "
               "fall (README, \"e2e's error vs n\", measures this)\n",
            me->name, steps, batch < nk ? batch : nk, (double)steps * (batch < nj ? batch : nj) / nj,
            nj, (double)steps * (batch < nk ? batch : nk) / nk, nk);
}

void sweep_report_claims(FILE *o, const sweep_agg *a)
{
    const bfc_sweep *s = a->s;
    checkrows *c = malloc(sizeof *c);
    if (!c) {
        fprintf(o, "(out of memory for the verdicts)\n\n");
        return;
    }
    read_checks(a->out, c);
    fprintf(o, "## Verdicts (SPEC §5)\n\nOne line per claim and target, each naming the data it "
               "was judged on: this sweep's cells (medians over its seeds at each n of the "
               "target's grid) or the claim checks' own runs (`bfc_check --size full`, "
               "`checks/`). Both use the criteria of `src/claims.c`. PASS: the criterion holds "
               "(at every n where both methods have finished cells); PARTIAL: at some n only; "
               "FAIL: at none; UNDETERMINED: the data cannot decide; N/A: nothing to judge. "
               "Where the checks judged the same claim on the same configuration, both are "
               "shown and the verdict is that of the source with more seeds (at equal seeds, "
               "the sweep's, which covers more n).\n\n");
    int any = 0;
    for (int ti = 0; ti < s->nt; ti++)
        if (role_series(a, ti, "e2e")) {
            ratio_claims(o, a, c, ti);
            any = 1;
        }
    for (int ti = 0; ti < s->nt; ti++) {
        int dd;
        if (first_in_group(s, ti) && group_size(s, ti, &dd) >= 2 && dd) any |= c5_claim(o, a, ti);
    }
    int rest = 0;
    for (int r = 0; r < c->n; r++) rest += !c->used[r];
    if (rest) {
        fprintf(o, "\nThe claim checks' verdicts on their own configurations (`checks/verdicts.csv`, "
                   "%d seeds; details in `checks/checks.csv` and `checks.log`):\n\n",
                c->seeds);
        for (int r = 0; r < c->n; r++)
            if (!c->used[r])
                fprintf(o, "- **%s**: **%s**, from bfc_check's own runs: %s\n", c->cas[r],
                        c->verdict[r], c->summary[r]);
        any = 1;
    } else if (!c->n) {
        fprintf(o, "\nThe claim checks were not run with this sweep (`make bench` runs `bfc_check "
                   "--size full --out DIR/checks` after the sweep unless BENCH_CHECKS=0).\n");
    }
    if (!any) fprintf(o, "None: the sweep has no e2e method next to a layerwise or kernel method.\n");
    fprintf(o, "\n### e2e's error vs n\n\nA rise is a median error at a larger n above every "
               "seed's error at a smaller n (a rise within the spread over seeds is none).\n\n");
    for (int ti = 0; ti < s->nt; ti++) monotone_line(o, a, ti);
    fprintf(o, "\n");
    free(c);
}
