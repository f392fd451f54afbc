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

/* Split one RFC 4180 CSV line into at most max fields (each truncated to 1023 bytes), with
 * '|' escaped for a Markdown table; returns the number of fields. */
int csv_fields(const char *line, char field[][1024], int max)
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

/* What a figure shows, under it in the report: what is plotted, over how many seeds, what
 * the bars are. */
static void figure_caption(const bfc_sweep *s, const char *script, char *buf, size_t cap)
{
    const int ns = s->nseeds;
    if (!strcmp(script, "error_n"))
        snprintf(buf, cap, "Median over the %d seeds of the relative test error at each n; bars "
                 "from the smallest to the largest seed's error. Colour and marker: the method "
                 "(the same in every figure); dash: the target, when a group has several.", ns);
    else if (!strcmp(script, "error_time"))
        snprintf(buf, cap, "One point per method and n (labelled with n): the median over the %d "
                 "seeds of the relative test error against the median wall time of those cells "
                 "(one core each); bars from the smallest to the largest seed's error. Lower left "
                 "is better.", ns);
    else if (!strcmp(script, "neps_d"))
        snprintf(buf, cap, "n_eps at eps = %g: the n at which the median error over the %d seeds "
                 "crosses eps (log-log interpolated between grid points). Filled markers: "
                 "measured; open triangles: censored, up = not reached up to that n, down = "
                 "reached already at the grid's smallest n. Dashed: the power law fitted over the "
                 "measured points only; its slope, standard error and number of points are in the "
                 "key.", s->eps_vs_d, ns);
    else if (!strcmp(script, "curves"))
        snprintf(buf, cap, "Feature error of each learned layer over training steps, one run of e2e "
                 "and one of layerwise on the same data and seed (in the title); dotted "
                 "verticals: the ends of the stages. Backward feature correction is e2e's layer-2 "
                 "error falling after its own stage while layerwise's stays flat.");
    else if (!strcmp(script, "depth"))
        snprintf(buf, cap, "Median over the %d seeds of the relative test error at each backward "
                 "depth D (0 = layerwise, L - 2 = e2e), one curve per n; bars from the smallest "
                 "to the largest seed's error.", ns);
    else if (!strcmp(script, "error_bulk"))
        snprintf(buf, cap, "Left: the relative test error; right: the bulk error, the same on the "
                 "test points whose G* lies in its central 99.9%%. Median over the %d seeds, bars "
                 "from the smallest to the largest seed. A few extreme test points can decide the "
                 "left panel at this depth; the right one shows the ordering of the methods on the "
                 "rest.", ns);
    else
        buf[0] = '\0';
}

static void report_figure(FILE *o, const bfc_sweep *s, const char *out, const figure *f)
{
    char path[PATH_CAP], caption[1024];
    pjoin(path, sizeof path, out, f->png);
    figure_caption(s, f->script, caption, sizeof caption);
    if (!access(path, R_OK))
        fprintf(o, "![%s](%s)\n\n*%s* (`%s`). %s\n\n", f->title, f->png, f->title, f->png,
                caption);
    else
        fprintf(o,
                "- *%s*: `%s` not drawn (gnuplot -c plots/SCRIPT.gp CSV PNG, as in figures.txt). "
                "%s\n\n",
                f->title, f->png, caption);
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
    bfc_afile *af;
    FILE *o = sweep_out_open(a->out, "REPORT.md", &af);
    if (!o) return BFC_EIO;
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
    sweep_report_claims(o, a);

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
        report_figure(o, s, a->out, &figures->v[k]);

    fprintf(o, "## Performance (bench/)\n\n");
    report_perf(o, a->out);

    fprintf(o, "## Failed cells\n\n"
               "A cell that failed (an error, a diverged run, a time-out, a result file that is "
               "damaged or says the run did not finish) or did not finish is left out of every "
               "median, n_eps, figure and verdict above.\n\n");
    int nf = 0;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].dup_of >= 0 || a->cr[i].status != 0) continue;
        const bfc_sweep_cell *c = &s->cells[i];
        fprintf(o, "- %s on %s, n = %d, seed %lld: %s (`cells/%s/`)\n", c->method, c->target, c->n,
                c->seed, a->cr[i].reason, c->key);
        nf++;
    }
    if (!nf) fprintf(o, "None.\n");
    if (a->nnot) {
        fprintf(o,
                "\n%d cells were not run or were interrupted (the sweep was stopped): rerun the "
                "same command to finish them.\n\n",
                a->nnot);
        for (int i = 0; i < s->ncells; i++) {
            if (s->ci[i].dup_of >= 0 || a->cr[i].status != -1) continue;
            const bfc_sweep_cell *c = &s->cells[i];
            fprintf(o, "- %s on %s, n = %d, seed %lld: %s\n", c->method, c->target, c->n, c->seed,
                    a->cr[i].reason[0] ? a->cr[i].reason : "not run");
        }
    }
    return bfc_afile_commit(af);
}

int bfc_sweep_write_results(const bfc_sweep *s, const char *out, const bfc_sweep_summary *sum)
{
    if (strlen(out) > OUT_MAX)
        return bfc_fail(BFC_EINVAL, "output directory name longer than %d characters", OUT_MAX);
    int st = bfc_check_writable_dir(out);
    if (st) return st;
    /* --report-only: the last run's wall time, counts and load stay those sweep.json has */
    bfc_sweep_summary last;
    if (!sum && !sweep_read_last_run(out, &last)) sum = &last;
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
