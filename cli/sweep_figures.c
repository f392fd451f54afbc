/* sweep_figures.c: the tables of a sweep's figures, one CSV per figure (blocks separated by
 * two blank lines, gnuplot's "index", each opening with a header row whose first field is
 * the series title), and figures.txt: "SCRIPT CSV PNG TITLE" per figure, for scripts/bench.sh
 * to draw with plots/SCRIPT.gp. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "fsutil.h"
#include "sweep_internal.h"

void describe_target(const target *t, char *buf, size_t cap)
{
    const bfc_target_config *c = &t->tc;
    int len = snprintf(buf, cap, "d=%d, L=%d, k=%d", c->d, c->L, c->k[2]);
    if (c->alpha_explicit)
        len += snprintf(buf + len, cap - (size_t)len, ", explicit alpha");
    else
        len += snprintf(buf + len, cap - (size_t)len, ", g=%g", c->gap);
    if (c->noise > 0) snprintf(buf + len, cap - (size_t)len, ", noise %g", c->noise);
}

/* Figure tables. Each is a CSV of blocks separated by two blank lines (gnuplot's "index"),
 * each block opening with a header row whose first field is the series title. */
typedef struct {
    FILE *list; /* figures.txt */
    const char *out;
    figlist *fl; /* the figures written */
} figs;

static int fig_close(const figs *f, bfc_afile *af, const char *script, const char *csv,
                     const char *title, int nblocks)
{
    if (!nblocks) {
        bfc_afile_abort(af);
        return BFC_OK;
    }
    int st = bfc_afile_commit(af);
    if (st) return st;
    figure *v = sw_realloc(f->fl->v, sizeof(figure) * (size_t)(f->fl->n + 1));
    if (!v) return BFC_ENOMEM;
    f->fl->v = v;
    figure *g = &v[f->fl->n++];
    snprintf(g->script, sizeof g->script, "%s", script);
    snprintf(g->csv, sizeof g->csv, "%s", csv);
    snprintf(g->png, sizeof g->png, "%.*s.png", (int)(strlen(csv) - 4), csv);
    snprintf(g->title, sizeof g->title, "%s", title);
    fprintf(f->list, "%s %s %s %s\n", g->script, g->csv, g->png, g->title);
    return BFC_OK;
}

static void series_title(const sweep_agg *a, const series *sr, int with_target, char *buf,
                         size_t cap)
{
    if (with_target)
        snprintf(buf, cap, "%s (%s)", a->s->m[sr->mi].name, a->s->t[sr->ti].name);
    else
        snprintf(buf, cap, "%s", a->s->m[sr->mi].name);
}

/* error vs n and error vs wall time, one figure each per group of targets */
static int fig_error(const sweep_agg *a, const figs *f, int ti, int vs_time)
{
    const bfc_sweep *s = a->s;
    int multi = group_size(s, ti, NULL) > 1;
    char csv[160], title[256], desc[128], name[160];
    snprintf(csv, sizeof csv, "fig_error_%s_%s.csv", vs_time ? "time" : "n", s->t[ti].group);
    describe_target(&s->t[ti], desc, sizeof desc);
    if (multi)
        snprintf(title, sizeof title, "%s (targets of group %s)",
                 vs_time ? "error vs wall time" : "error vs n", s->t[ti].group);
    else
        snprintf(title, sizeof title, "%s: target %s (%s)",
                 vs_time ? "error vs wall time" : "error vs n", s->t[ti].name, desc);
    bfc_afile *af;
    FILE *o = sweep_out_open(f->out, csv, &af);
    if (!o) return BFC_EIO;
    fprintf(o,
            "# %s: median, min and max over seeds of the relative test error; the last three\n"
            "# columns give the series' colour (its method), point type and dash (its target)\n",
            title);
    int blocks = 0, colour = 0;
    for (int mi = 0; mi < s->nm; mi++) { /* method-major, so that colour = method */
        int shown = 0, tk = 0;
        for (int tj = 0; tj < s->nt; tj++) {
            if (strcmp(s->t[tj].group, s->t[ti].group)) continue;
            const series *sr = find_series(a, tj, mi);
            int point = multi ? tk++ : colour, any = 0;
            for (int j = 0; sr && j < sr->nn; j++) any |= sr->ok[j] > 0;
            if (!any) continue;
            series_title(a, sr, multi, name, sizeof name);
            fprintf(o, "%s\"%s\",%s,median,min,max,n,colour,point,dash\n", blocks ? "\n\n" : "",
                    name, vs_time ? "wall_s" : "n");
            for (int j = 0; j < sr->nn; j++)
                if (sr->ok[j] && (!vs_time || isfinite(sr->wall[j])))
                    fprintf(o, "%.6g,%.6g,%.6g,%.6g,%d,%d,%d,%d\n",
                            vs_time ? sr->wall[j] : (double)sr->n[j], sr->med[j], sr->lo[j],
                            sr->hi[j], sr->n[j], colour, point, multi ? point : 0);
            blocks++;
            shown = 1;
        }
        colour += shown;
    }
    return fig_close(f, af, vs_time ? "error_time" : "error_n", csv, title, blocks);
}


/* n_ε vs d for a group of targets differing in d, at ε = eps_vs_d: measured values, bounds
 * marked as such, and the power law fitted over the measured points only */
static int fig_neps_d(const sweep_agg *a, const figs *f, int ti)
{
    const bfc_sweep *s = a->s;
    const double eps = s->eps_vs_d;
    char csv[160], title[256], name[200];
    snprintf(csv, sizeof csv, "fig_neps_d_%s.csv", s->t[ti].group);
    snprintf(title, sizeof title, "sample complexity n_eps at eps = %g vs d (group %s)", eps,
             s->t[ti].group);
    bfc_afile *af;
    FILE *o = sweep_out_open(f->out, csv, &af);
    if (!o) return BFC_EIO;
    fprintf(o,
            "# %s. Columns: d, n_eps (log-log interpolated crossing of eps by the median over\n"
            "# seeds; a bound where censored), censor (0 measured, 1 not reached: n_eps > value,\n"
            "# -1 reached at the smallest n: n_eps <= value), the power law n_eps = C d^b fitted\n"
            "# over the measured points only (NaN without a fit)\n",
            title);
    int blocks = 0;
    for (int mi = 0; mi < s->nm; mi++) {
        dcurve dc;
        neps_vs_d(a, ti, mi, eps, &dc);
        if (!dc.m) continue;
        const bfc_claim_fit *fit = &dc.fit;
        if (fit->fitted && isfinite(fit->b_se))
            snprintf(name, sizeof name, "%s: b = %.2f ± %.2f (%d of %d d)", s->m[mi].name, fit->b,
                     fit->b_se, fit->used, fit->points);
        else if (fit->fitted)
            snprintf(name, sizeof name, "%s: b = %.2f (%d of %d d; no SE)", s->m[mi].name,
                     fit->b, fit->used, fit->points);
        else if (isfinite(fit->b_low))
            snprintf(name, sizeof name, "%s: b ≥ %.1f (bound; %d of %d d measured)", s->m[mi].name,
                     fit->b_low, fit->used, fit->points);
        else
            snprintf(name, sizeof name, "%s: no fit (%d of %d d measured)", s->m[mi].name,
                     fit->used, fit->points);
        fprintf(o, "%s\"%s\",n_eps,censor,fit\n", blocks ? "\n\n" : "", name);
        for (int i = 0; i < dc.m; i++)
            fprintf(o, "%g,%.6g,%d,%.6g\n", dc.d[i], dc.ne[i], dc.censor[i],
                    fit->fitted ? exp(fit->c + fit->b * log(dc.d[i])) : NAN);
        blocks++;
    }
    return fig_close(f, af, "neps_d", csv, title, blocks);
}

/* The plain relative error beside the bulk error (test points whose G* lies in its central
 * 99.9%) vs n, for a target with L ≥ 4, where a few extreme test points can decide the plain
 * error of every method */
static int fig_error_bulk(const sweep_agg *a, const figs *f, int ti)
{
    const bfc_sweep *s = a->s;
    const target *t = &s->t[ti];
    if (t->tc.L < 4) return BFC_OK;
    char csv[160], title[256], desc[128];
    snprintf(csv, sizeof csv, "fig_error_bulk_%s.csv", t->name);
    describe_target(t, desc, sizeof desc);
    snprintf(title, sizeof title, "error and bulk error vs n: target %s (%s)", t->name, desc);
    bfc_afile *af;
    FILE *o = sweep_out_open(f->out, csv, &af);
    if (!o) return BFC_EIO;
    fprintf(o, "# %s. Per method: n, median, min, max over seeds of the relative test error, and\n"
               "# the same of the bulk error (central 99.9%% of G*)\n",
            title);
    int blocks = 0;
    for (int mi = 0; mi < s->nm; mi++) {
        const series *sr = find_series(a, ti, mi);
        if (!sr) continue;
        int rows = 0;
        for (int j = 0; j < sr->nn; j++) {
            if (!sr->ok[j] || isnan(sr->bulk[j])) continue;
            if (!rows++)
                fprintf(o, "%s\"%s\",n,median,min,max,bulk_median,bulk_min,bulk_max\n",
                        blocks ? "\n\n" : "", s->m[mi].name);
            fprintf(o, "%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", sr->n[j], sr->med[j], sr->lo[j],
                    sr->hi[j], sr->bulk[j], sr->bulk_lo[j], sr->bulk_hi[j]);
        }
        blocks += rows > 0;
    }
    return fig_close(f, af, "error_bulk", csv, title, blocks);
}

/* Feature errors over training of e2e and layerwise on one target (largest n at which both
 * finished, first such seed), with the stage boundaries. */
static int fig_curves(const sweep_agg *a, const figs *f, int ti)
{
    const bfc_sweep *s = a->s;
    const target *t = &s->t[ti];
    if (t->tc.L < 3) return BFC_OK;
    int me = -1, ml = -1;
    for (int mi = 0; mi < s->nm; mi++) {
        if (!strcmp(s->m[mi].role, "e2e") && me < 0 && find_series(a, ti, mi)) me = mi;
        if (!strcmp(s->m[mi].role, "layerwise") && ml < 0 && find_series(a, ti, mi)) ml = mi;
    }
    if (me < 0 || ml < 0) return BFC_OK;
    int ce = -1, cl = -1, best_n = -1;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].t != ti || s->ci[i].m != me || a->cr[i].status != 1) continue;
        for (int j = 0; j < s->ncells; j++)
            if (s->ci[j].t == ti && s->ci[j].m == ml && a->cr[j].status == 1 &&
                s->cells[j].n == s->cells[i].n && s->cells[j].seed == s->cells[i].seed &&
                s->cells[i].n > best_n) {
                best_n = s->cells[i].n;
                ce = i;
                cl = j;
            }
    }
    if (ce < 0) return BFC_OK;
    char csv[160], title[256], desc[128];
    snprintf(csv, sizeof csv, "fig_curves_%s.csv", t->name);
    describe_target(t, desc, sizeof desc);
    snprintf(title, sizeof title, "feature error over training: %s (%s), n = %d, seed %lld",
             t->name, desc, best_n, s->cells[ce].seed);
    bfc_afile *af;
    FILE *o = sweep_out_open(f->out, csv, &af);
    if (!o) return BFC_EIO;
    fprintf(o,
            "# %s. Blocks: one per method and layer (global step, feature error); the last\n"
            "# block holds the stage boundaries (step, lowest and highest value plotted).\n",
            title);
    int blocks = 0;
    double lo = INFINITY, hi = 0;
    long bounds[BFC_MAX_L];
    int nb = 0;
    for (int w = 0; w < 2; w++) {
        int i = w ? cl : ce;
        char dir[PATH_CAP], path[PATH_CAP + 16];
        cell_dir(a->out, &s->cells[i], dir, sizeof dir);
        pjoin(path, sizeof path, dir, "curve.csv");
        char *text = bfc_read_file(path, NULL);
        if (!text) continue;
        for (int l = 2; l < t->tc.L; l++) {
            fprintf(o, "%s\"%s layer %d\",feature_error\n", blocks ? "\n\n" : "",
                    s->m[w ? ml : me].name, l);
            blocks++;
            /* stage,step,global_step,lr,loss,test_error,fe_2..fe_{L-1},wall_s */
            const char *p = strchr(text, '\n');
            int prev_stage = -1;
            long prev_step = 0;
            while (p && *++p) {
                int stage;
                long gstep;
                if (sscanf(p, "%d,%*d,%ld", &stage, &gstep) != 2) break;
                const char *q = p;
                for (int col = 0; col < 6 + (l - 2) && q; col++) {
                    q = strchr(q, ',');
                    if (q) q++;
                }
                if (!q) break;
                double fe = strtod(q, NULL);
                if (fe > 0 && isfinite(fe)) {
                    fprintf(o, "%ld,%.6g\n", gstep, fe);
                    lo = fmin(lo, fe);
                    hi = fmax(hi, fe);
                }
                if (w == 0 && l == 2 && prev_stage >= 0 && stage != prev_stage && nb < BFC_MAX_L)
                    bounds[nb++] = prev_step; /* the last evaluation of the stage before */
                prev_stage = stage;
                prev_step = gstep;
                p = strchr(p, '\n');
            }
        }
        free(text);
    }
    if (blocks) { /* always the last block, so that the script knows which one it is */
        fprintf(o, "\n\n\"stage boundary\",lo,hi\n");
        for (int b = 0; b < nb && hi > 0; b++)
            fprintf(o, "%ld,%.6g,%.6g\n", bounds[b], lo / 1.5, hi * 1.5);
        if (!nb || !(hi > 0)) fprintf(o, "NaN,NaN,NaN\n");
    }
    return fig_close(f, af, "curves", csv, title, blocks);
}

/* Error vs backward depth D, one curve per n. */
static int fig_depth(const sweep_agg *a, const figs *f, int ti)
{
    const bfc_sweep *s = a->s;
    const target *t = &s->t[ti];
    int dm[BFC_MAX_L + 1]; /* method of each depth */
    int nd = 0;
    for (int D = 0; D <= BFC_MAX_L; D++) dm[D] = -1;
    for (int mi = 0; mi < s->nm; mi++) {
        int D = method_depth(&s->m[mi], t);
        if (D >= 0 && dm[D] < 0 && find_series(a, ti, mi)) dm[D] = mi, nd++;
    }
    if (nd < 3 && !(nd == 2 && t->tc.L == 3)) return BFC_OK;
    char csv[160], title[256], desc[128];
    snprintf(csv, sizeof csv, "fig_depth_%s.csv", t->name);
    describe_target(t, desc, sizeof desc);
    snprintf(title, sizeof title, "error vs backward depth D: %s (%s)", t->name, desc);
    bfc_afile *af;
    FILE *o = sweep_out_open(f->out, csv, &af);
    if (!o) return BFC_EIO;
    fprintf(o, "# %s. D = 0 is layerwise, D = L-2 is e2e; median, min, max over seeds\n", title);
    int ng;
    const int *grid = sweep_grid(s, ti, &ng);
    int blocks = 0;
    for (int j = 0; j < ng; j++) {
        int rows = 0;
        for (int D = 0; D <= BFC_MAX_L; D++) {
            if (dm[D] < 0) continue;
            const series *sr = find_series(a, ti, dm[D]);
            for (int k = 0; k < sr->nn; k++)
                if (sr->n[k] == grid[j] && sr->ok[k]) {
                    if (!rows++)
                        fprintf(o, "%s\"n = %d\",median,min,max,method\n", blocks ? "\n\n" : "",
                                grid[j]);
                    fprintf(o, "%d,%.6g,%.6g,%.6g,%s\n", D, sr->med[k], sr->lo[k], sr->hi[k],
                            s->m[dm[D]].name);
                }
        }
        blocks += rows > 0;
    }
    return fig_close(f, af, "depth", csv, title, blocks);
}

/* ---- report -------------------------------------------------------------------------- */

int sweep_figures(const sweep_agg *a, figlist *fl)
{
    const bfc_sweep *s = a->s;
    memset(fl, 0, sizeof *fl);
    bfc_afile *af;
    FILE *list = sweep_out_open(a->out, "figures.txt", &af);
    if (!list) return BFC_EIO;
    figs f = {list, a->out, fl};
    int st = BFC_OK;
    for (int ti = 0; !st && ti < s->nt; ti++) {
        if (!first_in_group(s, ti)) continue;
        int dd;
        int gs = group_size(s, ti, &dd);
        st = fig_error(a, &f, ti, 0);
        if (!st) st = fig_error(a, &f, ti, 1);
        if (!st && gs > 1 && dd) st = fig_neps_d(a, &f, ti);
    }
    for (int ti = 0; !st && ti < s->nt; ti++) {
        st = fig_curves(a, &f, ti);
        if (!st) st = fig_depth(a, &f, ti);
        if (!st) st = fig_error_bulk(a, &f, ti);
    }
    if (!st) return bfc_afile_commit(af);
    bfc_afile_abort(af);
    return st;
}
