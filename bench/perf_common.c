/* perf_common.c: result rows, the stdout table, goals and progress of bfc_perf. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "blas.h"
#include "fsutil.h"
#include "perf.h"

void perf_row(perf_run *r, int threads, const char *part, const char *caseid, const char *method,
              const char *metric, double value, const char *unit, int samples)
{
    if (!r->csv) return;
    FILE *f = r->csv;
    const char *text[] = {r->label, r->core};
    for (int i = 0; i < 2; i++) bfc_csv_field(f, text[i]), fputc(',', f);
    fprintf(f, "%d,", threads);
    const char *more[] = {part, caseid, method, metric};
    for (int i = 0; i < 4; i++) bfc_csv_field(f, more[i]), fputc(',', f);
    fprintf(f, "%.9g,", value);
    bfc_csv_field(f, unit);
    fprintf(f, ",%d\n", samples);
    fflush(f);
}

void perf_table_header(void)
{
    printf("%-58s %14s %22s %10s %-22s %7s\n", "comparison", "ours", "peer", "ratio", "core",
           "threads");
    printf("%.*s\n", 58 + 14 + 22 + 10 + 22 + 7 + 5,
           "------------------------------------------------------------------------------------"
           "--------------------------------------------------------------------");
}

/* s as one cell of a Markdown table: '|' escaped, "-" for NULL. */
static void md_cell(FILE *f, const char *s)
{
    fputs("| ", f);
    if (!s || !*s) s = "-";
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc(' ', f);
}

void perf_table(const perf_run *r, const char *comparison, const char *ours, const char *peer,
                const char *ratio, const char *core, int threads)
{
    if (r->md) {
        const char *cells[] = {comparison, ours, peer, ratio, core};
        for (int i = 0; i < 5; i++) md_cell(r->md, cells[i]);
        fprintf(r->md, "| %d |\n", threads);
        fflush(r->md);
    }
    printf("%-58s %14s %22s %10s %-22s %7d\n", comparison ? comparison : "-", ours ? ours : "-",
           peer ? peer : "-", ratio ? ratio : "-", core ? core : "-", threads);
    fflush(stdout);
}

/* One row of the goals' Markdown table: goal | measured | target | met. */
static void goal_md(perf_run *r, const char *what, double value, const char *unit,
                    const char *target, int met)
{
    if (!r->goals_md) return;
    char v[64];
    snprintf(v, sizeof v, "%.3g%s", value, unit);
    const char *cells[] = {what, v, target, met ? "met" : "**not met**"};
    for (int i = 0; i < 4; i++) md_cell(r->goals_md, cells[i]);
    fputs("|\n", r->goals_md);
}

void perf_goal(perf_run *r, const char *what, double value, double target, const char *unit)
{
    const int met = value >= target;
    printf("goal [%s] %-52s %8.3g%s (target >= %g%s): %s\n", r->label, what, value, unit, target,
           unit, met ? "met" : "NOT met");
    fflush(stdout);
    if (met) r->goals_met++;
    else r->goals_missed++;
    perf_row(r, 0, "goal", what, "bfc", met ? "met" : "not_met", value, unit, 1);
    char t[64];
    snprintf(t, sizeof t, ">= %g%s", target, unit);
    goal_md(r, what, value, unit, t, met);
}

void perf_goal_within(perf_run *r, const char *what, double value, double lo, double hi,
                      const char *unit)
{
    const int met = value >= lo && value <= hi;
    printf("goal [%s] %-52s %8.3g%s (target %g%s .. %g%s): %s\n", r->label, what, value, unit,
           lo, unit, hi, unit, met ? "met" : "NOT met");
    fflush(stdout);
    if (met) r->goals_met++;
    else r->goals_missed++;
    perf_row(r, 0, "goal", what, "bfc", met ? "met" : "not_met", value, unit, 1);
    char t[96];
    snprintf(t, sizeof t, "%g%s .. %g%s", lo, unit, hi, unit);
    goal_md(r, what, value, unit, t, met);
}

void perf_note(perf_run *r, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("%s\n", buf);
    fflush(stdout);
    if (r->notes_md) fprintf(r->notes_md, "- %s\n", buf);
}

void perf_progress(const perf_run *r, const char *fmt, ...)
{
    fprintf(stderr, "perf [%s %6.1fs] ", r->label, bfc_wall_seconds() - r->t0);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void perf_threads(int n) { bfc_blas_set_threads(n); }
