/* sweep_report.c: REPORT.md of a sweep: its targets and methods, the tables of errors and
 * times, n_ε and t_ε, the figures, the verdicts of the claims the sweep covers (C3, C4, C5,
 * C6 of SPEC §5), the claim checks and performance results found beside it, the failures. And
 * bfc_sweep_write_results, which runs the last stages: aggregation, figures, sidecar, report. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bfc.h"
#include "fsutil.h"
#include "sweep_internal.h"

static void fmt_sig(double x, char *buf, size_t cap)
{
    if (isnan(x))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.2g", x);
}

/* Beside C3's verdict, not a verdict: the same ratio on test_error_bulk, the error on the
 * central 99.9% of G* (ours). From L = 4 on a handful of extreme test points can dominate
 * the plain relative error of every method; this line shows whether the separation holds
 * on the rest. */
static void c3_bulk_line(FILE *o, const series *e2e, const series *lw)
{
    char buf[2048] = "";
    int tot = 0;
    for (int j = 0; j < e2e->nn; j++) {
        int n = e2e->n[j];
        double me = series_bulk_at(e2e, n), ml = series_bulk_at(lw, n);
        if (isnan(me) || isnan(ml)) continue;
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "%s n=%d: %.3g", tot++ ? ";" : "", n, ml / me);
    }
    if (tot)
        fprintf(o, "  - the same ratio on `test_error_bulk` (central 99.9%% of G*; ours, "
                   "reported, not judged):%s\n", buf);
}

#define CLAIM_RATIO 3.0 /* C3, C4, C6 (SPEC §5): the other method's median error ≥ 3 × e2e's */

/* One verdict line: ratio = other/e2e at each n where both have a median. */
static void verdict(FILE *o, const char *claim, const char *what, const series *e2e,
                    const series *other, const sweep_agg *a, int ti, int best_kernel)
{
    const bfc_sweep *s = a->s;
    char buf[4096] = "";
    int pass = 0, tot = 0;
    for (int j = 0; e2e && j < e2e->nn; j++) {
        int n = e2e->n[j];
        double me = series_at(e2e, n), mo = NAN;
        const char *who = "";
        if (best_kernel) {
            for (int mi = 0; mi < s->nm; mi++) {
                const char *r = s->m[mi].role;
                if (strcmp(r, "kernel") && strcmp(r, "ntk") && strcmp(r, "nngp")) continue;
                double x = series_at(find_series(a, ti, mi), n);
                if (!isnan(x) && (isnan(mo) || x < mo)) mo = x, who = s->m[mi].name;
            }
        } else {
            mo = series_at(other, n);
        }
        if (isnan(me) || isnan(mo)) continue;
        double ratio = mo / me;
        tot++;
        pass += ratio >= CLAIM_RATIO;
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "%s n=%d: %.3g%s%s%s", tot > 1 ? ";" : "", n, ratio,
                 best_kernel ? " (" : "", best_kernel ? who : "", best_kernel ? ")" : "");
    }
    const char *v = !tot ? "N/A" : pass == tot ? "PASS" : pass ? "PARTIAL" : "FAIL";
    fprintf(o, "- **%s** %s, target %s: **%s**", claim, what, s->t[ti].name, v);
    if (tot)
        fprintf(o, " (ratio >= %g at %d of %d n; ratios%s)\n", CLAIM_RATIO, pass, tot, buf);
    else
        fprintf(o, " (no n at which both have finished cells)\n");
}

/* Split one RFC 4180 CSV line into at most max fields (each truncated to 1023 bytes), with
 * '|' escaped for a Markdown table; returns the number of fields. */
static int csv_fields(const char *line, char field[][1024], int max)
{
    int nf = 0, quoted = 0;
    size_t k = 0;
    for (const char *p = line;; p++) {
        int end = *p == '\0' || (!quoted && *p == ',');
        if (end) {
            field[nf++][k] = '\0';
            k = 0;
            if (!*p || nf == max) return nf;
            continue;
        }
        if (*p == '"' && quoted && p[1] == '"')
            p++; /* "" inside quotes */
        else if (*p == '"') {
            quoted = !quoted;
            continue;
        }
        if (k + 2 < 1024) {
            if (*p == '|') field[nf][k++] = '\\';
            field[nf][k++] = *p;
        }
    }
}

/* The text of out/rel (to free), or NULL after writing "Not run with this sweep (how).". */
static char *report_input(FILE *o, const char *out, const char *rel, const char *how)
{
    char path[PATH_CAP];
    pjoin(path, sizeof path, out, rel);
    char *text = bfc_read_file(path, NULL);
    if (!text) fprintf(o, "Not run with this sweep (%s).\n\n", how);
    return text;
}

static void report_checks(FILE *o, const char *out)
{
    char *text = report_input(o, out, "checks/verdicts.csv",
                              "`make bench` runs `bfc_check --size full --out DIR/checks` after "
                              "the sweep unless BENCH_CHECKS=0");
    if (!text) return;
    const int has_c4_c6 = strstr(text, "\nC4") || strstr(text, "\nC6"); /* before strtok */
    fprintf(o, "From `checks/verdicts.csv` (bfc_check with its own runs; details in "
               "`checks/checks.csv`):\n\n| claim | verdict | summary |\n|---|---|---|\n");
    char *save = NULL;
    int line = 0;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save), line++) {
        if (line == 0) continue; /* header claim,verdict,summary */
        char field[3][1024];
        int nf = csv_fields(l, field, 3);
        if (nf >= 2) fprintf(o, "| %s | %s | %s |\n", field[0], field[1], field[2]);
    }
    fprintf(o, "\n");
    if (!has_c4_c6)
        fprintf(o, "C4 and C6 are judged in the section above, on this sweep's cells (`make bench` "
                   "with BENCH_CHECKS=all also runs their own checks).\n\n");
    free(text);
}

/* perf/perf.md of bfc_perf (make bench runs it after the checks), embedded as it is. */
static void report_perf(FILE *o, const char *out)
{
    char *text = report_input(o, out, "perf/perf.md",
                              "`make bench` runs `bfc_perf --out DIR/perf` after the checks "
                              "unless BENCH_PERF=0; `make bench-perf` runs it alone");
    if (!text) return;
    fprintf(o, "bfc against PyTorch (the learner's training step) and scikit-learn (kernel ridge "
               "regression), timed side by side in one run, and against the DGEMM rate; from "
               "`perf/perf.md` (rows in `perf/perf.csv`).\n\n%s\n", text);
    free(text);
}

static void report_figure(FILE *o, const char *out, const char *png, const char *title)
{
    char path[PATH_CAP];
    pjoin(path, sizeof path, out, png);
    if (!access(path, R_OK))
        fprintf(o, "![%s](%s)\n\n*%s* (`%s`)\n\n", title, png, title, png);
    else
        fprintf(
            o, "- *%s*: `%s` not drawn (gnuplot -c plots/SCRIPT.gp CSV PNG, as in figures.txt)\n\n",
            title, png);
}

/* Distinct commits of the finished cells with their counts, as "abc (12 cells), def (3)". */
/* Flags as " --name value" each (quoted in q), deletion markers as " (no --name)" when shown. */
static void print_flags(FILE *o, const flagv *f, int show_deleted, const char *q)
{
    for (int i = 0; i < f->n; i++) {
        const flag *fl = &f->v[i];
        if (fl->kind == FLAG_DELETE) {
            if (show_deleted) fprintf(o, " (no --%s)", fl->name);
        } else {
            fprintf(o, " %s--%s%s%s%s", q, fl->name, fl->kind == FLAG_VALUE ? " " : "",
                    fl->kind == FLAG_VALUE ? fl->value : "", q);
        }
    }
}

int sweep_write_report(const sweep_agg *a, const figlist *figures, const bfc_sweep_summary *sum,
                       const bfc_meta *meta)
{
    const bfc_sweep *s = a->s;
    char path[PATH_CAP];
    pjoin(path, sizeof path, a->out, "REPORT.md");
    bfc_afile *af = bfc_afile_open(path);
    if (!af) return BFC_EIO;
    FILE *o = bfc_afile_fp(af);
    fprintf(o, "# Sweep report: %s%s\n\n", bfc_sweep_name(s), s->quick ? " (quick subset)" : "");
    if (s->description) fprintf(o, "%s\n\n", s->description);
    fprintf(o,
            "- configuration: `%s`; results: `results.csv` (long format), `sweep.json` (resolved "
            "configuration, run metadata), `summary.csv`, `neps.csv`\n",
            s->what);
    fprintf(o,
            "- code: bfc %s, %s; the cells ran at commit %s; this report by commit %s; CPU %s; "
            "OpenBLAS core %s, one BLAS thread per cell\n",
            meta->bfc_version, meta->compiler, a->commits[0] ? a->commits : "-", meta->commit,
            meta->cpu, meta->blas_core);
    fprintf(o,
            "- cells: %d (%d finished, %d failed, %d not run); sum of the cells' wall times %.0f s",
            a->total, a->nok, a->nfail, a->nnot, a->cell_wall_sum);
    if (sum && sum->total)
        fprintf(o,
                "; this run: %.0f s wall for %d cells (%d taken from earlier runs)%s; machine load "
                "average %.1f at the start, %.1f at the end, on %d CPUs (wall times include any "
                "other work on the machine; CPU times do not)",
                sum->wall_s, sum->total - sum->cached, sum->cached,
                sum->interrupted ? ", interrupted" : "", sum->load_start, sum->load_end, sum->ncpu);
    fprintf(o, "\n- written %s\n\n", meta->date_utc);

    fprintf(o,
            "## Targets\n\nShares v_l = Var(alpha_l |S*_l|^2)/Var(G*) (SPEC §1), median over the "
            "learner cells' targets.\n\n| target | group | configuration | target seed | shares "
            "v_2..v_L | extra flags |\n|---|---|---|---|---|---|\n");
    for (int ti = 0; ti < s->nt; ti++) {
        const target *t = &s->t[ti];
        int used = 0;
        for (int i = 0; i < s->ncells; i++) used |= s->ci[i].t == ti;
        if (!used) continue;
        char desc[128], sh[256] = "";
        describe_target(t, desc, sizeof desc);
        for (int l = 2; l <= t->tc.L; l++) {
            double v = a->share[ti][l];
            size_t len = strlen(sh);
            snprintf(sh + len, sizeof sh - len, "%s%.3g", l > 2 ? ", " : "", v);
        }
        fprintf(o, "| %s | %s | %s | %s | %s | ", t->name, t->group, desc,
                t->target_seed_fixed ? flags_get(&t->problem, "target-seed") : "= seed", sh);
        for (int k = 0; k < t->args.n; k++) {
            fprintf(o, "%s%s:", k ? "<br>" : "", t->args.v[k].cmd);
            print_flags(o, &t->args.v[k].f, 1, "");
        }
        fprintf(o, " |\n");
    }
    fprintf(o, "\n## Methods\n\n| method | role | command and flags |\n|---|---|---|\n");
    for (int mi = 0; mi < s->nm; mi++) {
        const method *m = &s->m[mi];
        int used = 0;
        for (int i = 0; i < s->ncells; i++) used |= s->ci[i].m == mi;
        if (!used) continue;
        fprintf(o, "| %s | %s | `bfc %s", m->name, m->role, m->command);
        print_flags(o, &m->args, 0, "");
        fprintf(o, "`");
        if (m->n_min) fprintf(o, " (n >= %d)", m->n_min);
        if (m->n_max) fprintf(o, " (n <= %d)", m->n_max);
        fprintf(o, " |\n");
    }
    const cmdargs *layers[2] = {&s->args, &s->late_args};
    for (int w = 0; w < 2; w++)
        for (int k = 0; k < layers[w]->n; k++) {
            fprintf(o, "\nEvery `%s` cell also gets%s:", layers[w]->v[k].cmd,
                    w ? " (quick or command-line overrides)" : "");
            print_flags(o, &layers[w]->v[k].f, 1, "`");
            fprintf(o, "\n");
        }
    fprintf(o, "\n\nSeeds:");
    for (int k = 0; k < s->nseeds; k++) fprintf(o, " %lld", s->seeds[k]);
    fprintf(o, " (each seed draws its own training set, test set, initialisation and minibatch "
               "order; and its own target unless the target fixes `target_seed`).\n\n");

    fprintf(o, "## Relative test error\n\nE(F - G*)^2 / Var(G*) on the test set (SPEC §4): median "
               "over seeds [min, max]; `fail` = every seed failed, `-` = not run.\n");
    for (int ti = 0; ti < s->nt; ti++) {
        int ng;
        const int *grid = sweep_grid(s, ti, &ng);
        int any = 0;
        for (int k = 0; k < a->nsr; k++) any |= a->sr[k].ti == ti;
        if (!any) continue;
        char desc[128];
        describe_target(&s->t[ti], desc, sizeof desc);
        for (int table = 0; table < 2; table++) {
            fprintf(o, "\n### %s (%s): %s\n\n| method |", s->t[ti].name, desc,
                    table ? "median wall time of a cell, s (its CPU time)" : "error");
            for (int j = 0; j < ng; j++) fprintf(o, " n = %d |", grid[j]);
            fprintf(o, "\n|---|");
            for (int j = 0; j < ng; j++) fprintf(o, "---|");
            fprintf(o, "\n");
            for (int k = 0; k < a->nsr; k++) {
                const series *sr = &a->sr[k];
                if (sr->ti != ti) continue;
                fprintf(o, "| %s |", s->m[sr->mi].name);
                for (int j = 0; j < ng; j++) {
                    int q = -1;
                    for (int r = 0; r < sr->nn; r++)
                        if (sr->n[r] == grid[j]) q = r;
                    char m1[32], m2[32], m3[32];
                    if (q < 0)
                        fprintf(o, " - |");
                    else if (!sr->ok[q])
                        fprintf(o, " fail |");
                    else if (table) {
                        fmt_sig(sr->wall[q], m1, sizeof m1);
                        fmt_sig(sr->cpu[q], m2, sizeof m2);
                        fprintf(o, " %s (%s) |", m1, m2);
                    } else {
                        fmt_sig(sr->med[q], m1, sizeof m1);
                        fmt_sig(sr->lo[q], m2, sizeof m2);
                        fmt_sig(sr->hi[q], m3, sizeof m3);
                        fprintf(o, " %s [%s, %s]%s |", m1, m2, m3,
                                sr->ok[q] < sr->total[q] ? "*" : "");
                    }
                }
                fprintf(o, "\n");
            }
        }
    }
    fprintf(o, "\n`*`: some seeds failed; the median is over those that finished.\n\n");

    fprintf(
        o,
        "## Sample and time complexity\n\nn_eps = the smallest n of the grid at which the "
        "median error over seeds is <= eps; t_eps = the median wall time of the cells at "
        "that n (SPEC §4). `> N`: not reached up to N, the largest n run; `<= N`: reached at the "
        "smallest n of the method's grid, so the true n_eps may be lower.\n\n| target | method |");
    for (int e = 0; e < s->neps; e++) fprintf(o, " n_eps (eps = %g) | t_eps (s) |", s->eps[e]);
    fprintf(o, "\n|---|---|");
    for (int e = 0; e < s->neps; e++) fprintf(o, "---|---|");
    fprintf(o, "\n");
    for (int k = 0; k < a->nsr; k++) {
        const series *sr = &a->sr[k];
        int nmax = series_nmax(sr);
        if (nmax < 0) continue;
        fprintf(o, "| %s | %s |", s->t[sr->ti].name, s->m[sr->mi].name);
        for (int e = 0; e < s->neps; e++) {
            int ne = bfc_sweep_n_eps(sr->n, sr->med, sr->nn, s->eps[e]);
            if (ne < 0)
                fprintf(o, " > %d | - |", nmax);
            else {
                char m1[32];
                fmt_sig(series_wall_at(sr, ne), m1, sizeof m1);
                fprintf(o, " %s%d | %s |", ne == sr->n[0] ? "<= " : "", ne, m1);
            }
        }
        fprintf(o, "\n");
    }

    fprintf(o, "\n## Figures\n\n");
    for (int k = 0; k < figures->n; k++)
        report_figure(o, a->out, figures->v[k].png, figures->v[k].title);

    fprintf(o, "## Claims of SPEC §5 covered by this sweep\n\nComputed from this sweep's medians "
               "over seeds at each n where both methods have finished cells. PASS: the criterion "
               "holds at every such n; PARTIAL: at some; FAIL: at none. C5 compares the exponents "
               "of n_eps(d) fitted over the d sweep (figure above).\n\n");
    int any_claim = 0;
    for (int ti = 0; ti < s->nt; ti++) {
        const series *e2e = role_series(a, ti, "e2e");
        if (!e2e) continue;
        const series *lw = role_series(a, ti, "layerwise");
        if (lw) {
            verdict(o, "C3", "layerwise median error >= 3x e2e's (same data and steps)", e2e, lw, a,
                    ti, 0);
            c3_bulk_line(o, e2e, lw);
            any_claim = 1;
        }
        int has_kernel = 0;
        for (int mi = 0; mi < s->nm; mi++) {
            const char *r = s->m[mi].role;
            if ((!strcmp(r, "kernel") || !strcmp(r, "ntk") || !strcmp(r, "nngp")) &&
                find_series(a, ti, mi))
                has_kernel = 1;
        }
        if (has_kernel) {
            verdict(o, "C4",
                    "best kernel method's median error >= 3x e2e's at every n (best over "
                    "the KRR, NTK and NNGP methods run at that n, named with each ratio)",
                    e2e, NULL, a, ti, 1);
            any_claim = 1;
        }
        for (int mi = 0; mi < s->nm; mi++) {
            const char *r = s->m[mi].role;
            if (strcmp(r, "ntk") && strcmp(r, "nngp") && strcmp(r, "seqkernel")) continue;
            const series *sr = find_series(a, ti, mi);
            if (!sr) continue;
            char what[160];
            snprintf(what, sizeof what, "%s median error >= 3x e2e's at the same n", s->m[mi].name);
            verdict(o, "C6", what, e2e, sr, a, ti, 0);
            any_claim = 1;
        }
    }
    for (int ti = 0; ti < s->nt; ti++) {
        int dd;
        if (!first_in_group(s, ti) || group_size(s, ti, &dd) < 2 || !dd) continue;
        int me = -1;
        for (int mi = 0; mi < s->nm && me < 0; mi++)
            if (!strcmp(s->m[mi].role, "e2e")) me = mi;
        if (me < 0) continue;
        dcurve e;
        neps_vs_d(a, ti, me, s->eps_vs_d, &e);
        if (!e.m) continue;
        char low[256] = "";
        for (int i = 0; i < e.m; i++)
            if (e.fails_low[i]) {
                size_t len = strlen(low);
                snprintf(low + len, sizeof low - len, "%s%g", len ? ", " : "", e.d[i]);
            }
        for (int mi = 0; mi < s->nm; mi++) {
            const char *r = s->m[mi].role;
            if (strcmp(r, "kernel") && strcmp(r, "ntk") && strcmp(r, "nngp")) continue;
            dcurve k;
            neps_vs_d(a, ti, mi, s->eps_vs_d, &k);
            if (!k.m) continue;
            any_claim = 1;
            fprintf(o, "- **C5** exponent b of n_eps(d) ~ d^b at eps = %g, %s vs %s, group %s: ",
                    s->eps_vs_d, s->m[mi].name, s->m[me].name, s->t[ti].group);
            double kb = k.fitted ? k.b : k.b_low;
            const char *how = k.fitted ? "=" : ">";
            if (!e.fitted)
                fprintf(o, "**N/A** (%s reached eps at %d of %d d: no exponent)", s->m[me].name,
                        e.nr, e.m);
            else if (!isfinite(kb))
                fprintf(o, "**N/A** (%s reached eps at %d of %d d: no exponent or bound)",
                        s->m[mi].name, k.nr, k.m);
            else
                fprintf(o, "**%s** (%s b %s %.2f, %s b = %.2f: difference %s %.2f, need >= 1%s)",
                        kb - e.b >= 1 ? "PASS"
                        : k.fitted    ? "FAIL"
                                      : "INCONCLUSIVE",
                        s->m[mi].name, how, kb, s->m[me].name, e.b, how, kb - e.b,
                        k.fitted ? ""
                                 : "; a lower bound from a d where eps was reached to a larger d "
                                   "where it was not");
            fprintf(o, "; %s fails (median > eps at the smallest n) at d = %s\n", s->m[me].name,
                    low[0] ? low : "none: the grid does not reach down to where it fails");
        }
    }
    if (!any_claim)
        fprintf(o, "None: the sweep has no e2e method next to a layerwise or kernel method.\n");
    fprintf(o, "\n## Claim checks (proofs_checks)\n\n");
    report_checks(o, a->out);
    fprintf(o, "## Performance (bench/)\n\n");
    report_perf(o, a->out);

    fprintf(o, "## Failed cells\n\n");
    int nf = 0;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].dup_of >= 0 || a->cr[i].status != 0) continue;
        const bfc_sweep_cell *c = &s->cells[i];
        fprintf(o, "- %s on %s, n = %d, seed %lld: %s (`cells/%s/`)\n", c->method, c->target, c->n,
                c->seed, a->cr[i].reason, c->key);
        nf++;
    }
    if (!nf) fprintf(o, "None.\n");
    if (a->nnot)
        fprintf(o,
                "\n%d cells were not run (the sweep was interrupted): rerun the same command to "
                "finish them.\n",
                a->nnot);
    return bfc_afile_commit(af);
}

int bfc_sweep_write_results(const bfc_sweep *s, const char *out, const bfc_sweep_summary *sum)
{
    if (strlen(out) > OUT_MAX)
        return bfc_fail(BFC_EINVAL, "output directory name longer than %d characters", OUT_MAX);
    int st = bfc_check_writable_dir(out);
    if (st) return st;
    sweep_agg a;
    figlist figures = {0};
    st = sweep_aggregate(&a, s, out);
    if (!st) st = sweep_figures(&a, &figures);
    if (!st) {
        bfc_meta meta; /* one date for the sidecar and the report */
        bfc_meta_get(&meta);
        st = sweep_write_sidecar(&a, sum, &meta);
        if (!st) st = sweep_write_report(&a, &figures, sum, &meta);
    }
    free(figures.v);
    sweep_agg_free(&a);
    return st;
}
