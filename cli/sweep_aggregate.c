/* sweep_aggregate.c: the finished cells of a sweep into its tables: results.csv (every row of
 * every cell, long format), the series of each method on each target (median, min and max of
 * the test error over seeds at each n), summary.csv, n_ε and t_ε (neps.csv, SPEC §4), the
 * fits of n_ε(d), and the median shares of each target. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "fsutil.h"
#include "metrics.h"
#include "sweep_internal.h"
#include "train.h"

int bfc_sweep_n_eps(const int *n, const double *med, int m, double eps)
{
    /* claims.h's n_ε at its SPEC §4 grid value, −1 when not reached */
    double nd[SERIES_MAX_N];
    BFC_ASSERT(m <= SERIES_MAX_N);
    for (int i = 0; i < m; i++) nd[i] = n[i];
    int cens;
    const double ne = bfc_claim_neps(nd, med, m, eps, 0, &cens);
    return cens == BFC_NEPS_ABOVE || isnan(ne) ? -1 : (int)ne;
}

/* Read a cell's result.csv (bfc_sweep_read_result: strict, a damaged or unfinished file
 * makes the cell failed with the reason, so that it never enters a median): every row to rows
 * (results.csv), test error and shares to cr. */
static void read_cell(const bfc_sweep *s, int i, const char *dir, cellres *cr, FILE *rows)
{
    const bfc_sweep_cell *c = &s->cells[i];
    char path[PATH_CAP];
    pjoin(path, sizeof path, dir, "result.csv");
    char *text = bfc_read_file(path, NULL);
    if (!text) {
        cr->status = 0;
        snprintf(cr->reason, sizeof cr->reason, "result.csv unreadable: %s", bfc_last_error());
        return;
    }
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s,%s,%d,%lld", c->method, c->target, c->n, c->seed);
    bfc_sweep_result r;
    if (bfc_sweep_read_result(text, &r, prefix, rows, cr->reason, sizeof cr->reason)) {
        cr->status = 0;
        free(text);
        return;
    }
    free(text);
    cr->test_error = r.test_error;
    cr->test_error_bulk = r.test_error_bulk;
    for (int l = 2; l <= BFC_MAX_L; l++) cr->share[l] = isnan(r.share[l]) ? 0.0 : r.share[l];
    pjoin(path, sizeof path, dir, "result.json");
    char *js = bfc_read_file(path, NULL);
    bfc_json *j = js ? bfc_json_parse(js, NULL, 0) : NULL;
    const char *commit = bfc_json_string(bfc_json_get(j, "commit"));
    snprintf(cr->commit, sizeof cr->commit, "%s", commit ? commit : "");
    bfc_json_free(j);
    free(js);
    if (isfinite(cr->wall))
        fprintf(rows, "%s,cell_wall_s,%.6g\n", prefix, cr->wall);
    if (isfinite(cr->cpu))
        fprintf(rows, "%s,cell_cpu_s,%.6g\n", prefix, cr->cpu);
}

/* Every cell's status and results; results.csv. */
static int read_cells(sweep_agg *a)
{
    const bfc_sweep *s = a->s;
    char dir[PATH_CAP];
    bfc_afile *rows;
    FILE *o = sweep_out_open(a->out, "results.csv", &rows);
    if (!o) return BFC_EIO;
    fprintf(o, "method,target,n,seed,metric,value\n");
    for (int i = 0; i < s->ncells; i++) {
        cellres *cr = &a->cr[i];
        memset(cr, 0, sizeof *cr);
        cr->test_error = cr->test_error_bulk = cr->wall = cr->cpu = NAN;
        cell_dir(a->out, &s->cells[i], dir, sizeof dir);
        cr->status = read_status(dir, &cr->wall, &cr->cpu, cr->reason, sizeof cr->reason);
        if (cr->status == 1) read_cell(s, i, dir, cr, o);
    }
    return bfc_afile_commit(rows);
}

const series *find_series(const sweep_agg *a, int ti, int mi)
{
    for (int k = 0; k < a->nsr; k++)
        if (a->sr[k].ti == ti && a->sr[k].mi == mi) return &a->sr[k];
    return NULL;
}

/* The series' n and cell counts, in the order of the cells. */
static void series_points(sweep_agg *a)
{
    const bfc_sweep *s = a->s;
    for (int i = 0; i < s->ncells; i++) {
        int ti = s->ci[i].t, mi = s->ci[i].m;
        series *sr = (series *)find_series(a, ti, mi);
        if (!sr) {
            sr = &a->sr[a->nsr++];
            memset(sr, 0, sizeof *sr);
            sr->ti = ti;
            sr->mi = mi;
        }
        int k = 0;
        while (k < sr->nn && sr->n[k] != s->cells[i].n) k++;
        if (k == sr->nn) {
            if (sr->nn == SERIES_MAX_N) continue;
            sr->n[sr->nn++] = s->cells[i].n;
        }
        sr->total[k]++;
    }
}

static int build_series(sweep_agg *a)
{
    const bfc_sweep *s = a->s;
    const size_t ns = (size_t)(s->nseeds + 1);
    a->sr = sw_realloc(NULL, sizeof(series) * (size_t)(s->nt * s->nm));
    double *v = sw_realloc(NULL, sizeof(double) * 4 * ns);
    if (!a->sr || !v) {
        free(v);
        return BFC_ENOMEM;
    }
    double *w = v + ns, *cpu = v + 2 * ns, *b = v + 3 * ns;
    a->nsr = 0;
    series_points(a);
    for (int k = 0; k < a->nsr; k++) {
        series *sr = &a->sr[k];
        for (int j = 0; j < sr->nn; j++) {
            int nv = 0, nw = 0, nc = 0, nb = 0, bulk_all = 1;
            for (int i = 0; i < s->ncells; i++) {
                if (s->ci[i].t != sr->ti || s->ci[i].m != sr->mi || s->cells[i].n != sr->n[j])
                    continue;
                const cellres *cr = &a->cr[i];
                if (cr->status != 1 || !isfinite(cr->test_error)) continue;
                if (nv < s->nseeds) v[nv++] = cr->test_error;
                if (nb < s->nseeds && isfinite(cr->test_error_bulk))
                    b[nb++] = cr->test_error_bulk;
                else
                    bulk_all = 0;
                if (nw < s->nseeds && isfinite(cr->wall)) w[nw++] = cr->wall;
                if (nc < s->nseeds && isfinite(cr->cpu)) cpu[nc++] = cr->cpu;
            }
            sr->ok[j] = nv;
            sr->med[j] = sr->lo[j] = sr->hi[j] = NAN;
            if (nv) {
                sr->med[j] = bfc_median(v, nv); /* sorts v */
                sr->lo[j] = v[0];
                sr->hi[j] = v[nv - 1];
            }
            sr->wall[j] = bfc_median(w, nw);
            sr->cpu[j] = bfc_median(cpu, nc);
            sr->bulk[j] = sr->bulk_lo[j] = sr->bulk_hi[j] = NAN;
            if (nb && bulk_all) {
                sr->bulk[j] = bfc_median(b, nb); /* sorts b */
                sr->bulk_lo[j] = b[0];
                sr->bulk_hi[j] = b[nb - 1];
            }
        }
    }
    free(v);
    return BFC_OK;
}

/* Median over each target's finished cells of share_l (from the learner's results). */
static int target_shares(sweep_agg *a)
{
    const bfc_sweep *s = a->s;
    a->share = sw_realloc(NULL, sizeof *a->share * (size_t)s->nt);
    double *v = sw_realloc(NULL, sizeof(double) * (size_t)(s->ncells + 1));
    if (!a->share || !v) {
        free(v);
        return BFC_ENOMEM;
    }
    for (int ti = 0; ti < s->nt; ti++)
        for (int l = 0; l <= BFC_MAX_L; l++) {
            int nv = 0;
            for (int i = 0; l >= 2 && i < s->ncells; i++)
                if (s->ci[i].t == ti && a->cr[i].status == 1 && a->cr[i].share[l] > 0)
                    v[nv++] = a->cr[i].share[l];
            a->share[ti][l] = bfc_median(v, nv);
        }
    free(v);
    return BFC_OK;
}

/* Counts of the distinct cells by status, and the commits that ran them: "abc (12 cells)". */
static void cell_counts(sweep_agg *a)
{
    const bfc_sweep *s = a->s;
    const cellres *cr = a->cr;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].dup_of >= 0) continue;
        a->total++;
        if (cr[i].status == 1)
            a->nok++, a->cell_wall_sum += isfinite(cr[i].wall) ? cr[i].wall : 0;
        else if (cr[i].status == 0)
            a->nfail++;
        else
            a->nnot++;
    }
    char *buf = a->commits;
    const size_t cap = sizeof a->commits;
    buf[0] = '\0';
    for (int i = 0; i < s->ncells; i++) {
        if (cr[i].status != 1 || s->ci[i].dup_of >= 0) continue;
        int seen = 0, count = 0;
        for (int j = 0; j < i; j++)
            seen |= cr[j].status == 1 && s->ci[j].dup_of < 0 &&
                    !strcmp(cr[j].commit, cr[i].commit);
        if (seen) continue;
        for (int j = i; j < s->ncells; j++)
            count += cr[j].status == 1 && s->ci[j].dup_of < 0 &&
                     !strcmp(cr[j].commit, cr[i].commit);
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%s (%d cells)", len ? ", " : "",
                 cr[i].commit[0] ? cr[i].commit : "unknown", count);
    }
}

int series_nmax(const series *sr)
{
    int nmax = -1;
    for (int j = 0; j < sr->nn; j++)
        if (sr->ok[j]) nmax = sr->n[j];
    return nmax;
}

double series_wall_at(const series *sr, int n)
{
    double t = NAN;
    for (int j = 0; j < sr->nn; j++)
        if (sr->n[j] == n) t = sr->wall[j];
    return t;
}

/* summary.csv and neps.csv */
static int write_tables(const sweep_agg *a)
{
    const bfc_sweep *s = a->s;
    bfc_afile *af;
    FILE *o = sweep_out_open(a->out, "summary.csv", &af);
    if (!o) return BFC_EIO;
    fprintf(o, "method,target,n,seeds,median,min,max,wall_median,cpu_median\n");
    for (int k = 0; k < a->nsr; k++) {
        const series *sr = &a->sr[k];
        for (int j = 0; j < sr->nn; j++)
            if (sr->ok[j])
                fprintf(o, "%s,%s,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g\n", s->m[sr->mi].name,
                        s->t[sr->ti].name, sr->n[j], sr->ok[j], sr->med[j], sr->lo[j], sr->hi[j],
                        sr->wall[j], sr->cpu[j]);
    }
    int st = bfc_afile_commit(af);
    if (st) return st;
    if (!(o = sweep_out_open(a->out, "neps.csv", &af))) return BFC_EIO;
    fprintf(o, "method,target,eps,n_eps,t_eps,reached,n_max\n");
    for (int k = 0; k < a->nsr; k++) {
        const series *sr = &a->sr[k];
        int nmax = series_nmax(sr);
        if (nmax < 0) continue;
        for (int e = 0; e < s->neps; e++) {
            int ne = bfc_sweep_n_eps(sr->n, sr->med, sr->nn, s->eps[e]);
            double t = ne > 0 ? series_wall_at(sr, ne) : NAN;
            fprintf(o, "%s,%s,%g,%d,%.6g,%d,%d\n", s->m[sr->mi].name, s->t[sr->ti].name,
                    s->eps[e], ne > 0 ? ne : nmax, t, ne > 0, nmax);
        }
    }
    return bfc_afile_commit(af);
}

int sweep_aggregate(sweep_agg *a, const bfc_sweep *s, const char *out)
{
    memset(a, 0, sizeof *a);
    a->s = s;
    a->out = out;
    if (!(a->cr = sw_realloc(NULL, sizeof(cellres) * (size_t)(s->ncells + 1)))) return BFC_ENOMEM;
    int st = read_cells(a);
    if (!st) st = build_series(a);
    if (!st) st = target_shares(a);
    if (!st) cell_counts(a);
    if (!st) st = write_tables(a);
    return st;
}

void sweep_agg_free(sweep_agg *a)
{
    free(a->cr);
    free(a->sr);
    free(a->share);
    memset(a, 0, sizeof *a);
}

/* ---- queries of the aggregated sweep ------------------------------------------------- */

const series *role_series(const sweep_agg *a, int ti, const char *role)
{
    for (int mi = 0; mi < a->s->nm; mi++)
        if (!strcmp(a->s->m[mi].role, role)) {
            const series *sr = find_series(a, ti, mi);
            if (sr) return sr;
        }
    return NULL;
}

/* Index of n in the series among its points with finished cells, −1 if none. */
static int series_point(const series *sr, int n)
{
    for (int j = 0; sr && j < sr->nn; j++)
        if (sr->n[j] == n && sr->ok[j]) return j;
    return -1;
}

double series_at(const series *sr, int n)
{
    const int j = series_point(sr, n);
    return j < 0 ? NAN : sr->med[j];
}

double series_bulk_at(const series *sr, int n)
{
    const int j = series_point(sr, n);
    return j < 0 ? NAN : sr->bulk[j];
}

int method_depth(const method *m, const target *t)
{
    int top = t->tc.L - 2;
    if (m->schedule == BFC_SCHED_E2E) return top;
    if (m->schedule == BFC_SCHED_LAYERWISE) return 0;
    if (m->schedule == BFC_SCHED_DEPTH) return m->depth < top ? m->depth : top;
    return -1;
}

int group_size(const bfc_sweep *s, int ti, int *distinct_d)
{
    int n = 0, dd = 0;
    for (int j = 0; j < s->nt; j++)
        if (!strcmp(s->t[j].group, s->t[ti].group)) {
            n++;
            if (s->t[j].tc.d != s->t[ti].tc.d) dd = 1;
        }
    if (distinct_d) *distinct_d = dd;
    return n;
}

int first_in_group(const bfc_sweep *s, int ti)
{
    for (int j = 0; j < ti; j++)
        if (!strcmp(s->t[j].group, s->t[ti].group)) return 0;
    return 1;
}

void neps_vs_d(const sweep_agg *a, int ti, int mi, double eps, dcurve *dc)
{
    const bfc_sweep *s = a->s;
    memset(dc, 0, sizeof *dc);
    for (int k = 0; k < a->nsr && dc->m < 64; k++) {
        const series *sr = &a->sr[k];
        if (sr->mi != mi || strcmp(s->t[sr->ti].group, s->t[ti].group)) continue;
        double n[SERIES_MAX_N], med[SERIES_MAX_N];
        for (int j = 0; j < sr->nn; j++) n[j] = sr->n[j], med[j] = sr->ok[j] ? sr->med[j] : NAN;
        int cens;
        const double ne = bfc_claim_neps(n, med, sr->nn, eps, 1, &cens);
        if (isnan(ne)) continue; /* no finished cell */
        const int i = dc->m++;
        dc->d[i] = s->t[sr->ti].tc.d;
        dc->ne[i] = ne;
        dc->censor[i] = cens;
    }
    bfc_claim_neps_fit(dc->d, dc->ne, dc->censor, dc->m, &dc->fit);
}
