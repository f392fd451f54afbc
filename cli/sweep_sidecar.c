/* sweep_sidecar.c: sweep.json, the JSON sidecar of a sweep's results: the resolved
 * configuration (targets and methods run, their flags, seeds, grids, ε), the cells by status
 * with the commits that ran them, the last run's counts and load, the failures, and the
 * metadata of this build (bfc_meta). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "fsutil.h"
#include "json.h"
#include "sweep_internal.h"

/* Flags as strings: "--name", its value, "(no --name)" for a deletion marker. An allocation
 * that fails marks the writer failed, like its own. */
static void jw_flags(bfc_jw *j, const flagv *f)
{
    bfc_jw_arr_begin(j);
    for (int i = 0; i < f->n; i++) {
        const int del = f->v[i].kind == FLAG_DELETE;
        char *x = del ? sw_printf("(no --%s)", f->v[i].name) : sw_printf("--%s", f->v[i].name);
        if (!x) {
            j->failed = 1;
            continue;
        }
        bfc_jw_str(j, x);
        free(x);
        if (f->v[i].kind == FLAG_VALUE) bfc_jw_str(j, f->v[i].value);
    }
    bfc_jw_arr_end(j);
}

static void jw_cmdargs(bfc_jw *j, const cmdargs *a)
{
    bfc_jw_obj_begin(j);
    for (int i = 0; i < a->n; i++) {
        bfc_jw_key(j, a->v[i].cmd);
        jw_flags(j, &a->v[i].f);
    }
    bfc_jw_obj_end(j);
}

int sweep_write_sidecar(const sweep_agg *a, const bfc_sweep_summary *sum, const bfc_meta *meta)
{
    const bfc_sweep *s = a->s;
    bfc_jw j;
    bfc_jw_init(&j);
    j.pretty = 1;
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_str(&j, "name", bfc_sweep_name(s));
    bfc_jw_kv_str(&j, "config", s->what);
    if (s->description) bfc_jw_kv_str(&j, "description", s->description);
    bfc_jw_kv_bool(&j, "quick", s->quick);
    bfc_jw_key(&j, "seeds");
    bfc_jw_arr_begin(&j);
    for (int i = 0; i < s->nseeds; i++) bfc_jw_int(&j, s->seeds[i]);
    bfc_jw_arr_end(&j);
    bfc_jw_key(&j, "n");
    bfc_jw_int_array(&j, s->grid, (size_t)s->ngrid);
    bfc_jw_key(&j, "eps");
    bfc_jw_num_array(&j, s->eps, (size_t)s->neps);
    bfc_jw_kv_num(&j, "eps_vs_d", s->eps_vs_d);
    bfc_jw_kv_num(&j, "timeout_s", s->timeout_s);
    bfc_jw_key(&j, "args");
    jw_cmdargs(&j, &s->args);
    bfc_jw_key(&j, "override_args");
    jw_cmdargs(&j, &s->late_args);
    bfc_jw_key(&j, "targets");
    bfc_jw_arr_begin(&j);
    for (int ti = 0; ti < s->nt; ti++) {
        const target *t = &s->t[ti];
        if (!sweep_allowed(&s->only_t, s->has_only_t, t->name)) continue;
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_str(&j, "name", t->name);
        bfc_jw_kv_str(&j, "group", t->group);
        bfc_jw_kv_int(&j, "d", t->tc.d);
        bfc_jw_kv_int(&j, "L", t->tc.L);
        int k[BFC_MAX_L];
        double al[BFC_MAX_L], sh[BFC_MAX_L];
        for (int l = 2; l <= t->tc.L; l++) {
            k[l - 2] = t->tc.k[l];
            al[l - 2] = t->tc.alpha[l];
            sh[l - 2] = a->share[ti][l];
        }
        bfc_jw_key(&j, "k");
        bfc_jw_int_array(&j, k, (size_t)(t->tc.L - 1));
        bfc_jw_key(&j, "alpha");
        bfc_jw_num_array(&j, al, (size_t)(t->tc.L - 1));
        bfc_jw_key(&j, "shares_median");
        bfc_jw_num_array(&j, sh, (size_t)(t->tc.L - 1));
        bfc_jw_key(&j, "target_seed");
        if (t->target_seed_fixed)
            bfc_jw_int(&j, (long long)t->tc.seed);
        else
            bfc_jw_str(&j, "seed");
        bfc_jw_key(&j, "problem_flags");
        jw_flags(&j, &t->problem);
        bfc_jw_key(&j, "args");
        jw_cmdargs(&j, &t->args);
        bfc_jw_key(&j, "n");
        if (t->grid)
            bfc_jw_int_array(&j, t->grid, (size_t)t->ngrid);
        else
            bfc_jw_int_array(&j, s->grid, (size_t)s->ngrid);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_arr_end(&j);
    bfc_jw_key(&j, "methods");
    bfc_jw_arr_begin(&j);
    for (int mi = 0; mi < s->nm; mi++) {
        const method *m = &s->m[mi];
        if (!sweep_allowed(&s->only_m, s->has_only_m, m->name)) continue;
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_str(&j, "name", m->name);
        bfc_jw_kv_str(&j, "command", m->command);
        bfc_jw_kv_str(&j, "role", m->role);
        bfc_jw_key(&j, "args");
        jw_flags(&j, &m->args);
        if (m->n_min) bfc_jw_kv_int(&j, "n_min", m->n_min);
        if (m->n_max) bfc_jw_kv_int(&j, "n_max", m->n_max);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_arr_end(&j);
    bfc_jw_key(&j, "cells");
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_int(&j, "total", a->total);
    bfc_jw_kv_int(&j, "finished", a->nok);
    bfc_jw_kv_int(&j, "failed", a->nfail);
    bfc_jw_kv_int(&j, "not_run", a->nnot);
    bfc_jw_kv_int(&j, "blas_threads_per_cell", 1);
    bfc_jw_kv_str(&j, "commits", a->commits);
    bfc_jw_obj_end(&j);
    if (sum && sum->total) {
        bfc_jw_key(&j, "last_run");
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_num(&j, "wall_s", sum->wall_s);
        bfc_jw_kv_int(&j, "cells_run", sum->total - sum->cached);
        bfc_jw_kv_int(&j, "cells_cached", sum->cached);
        bfc_jw_kv_int(&j, "failed", sum->failed);
        bfc_jw_kv_bool(&j, "interrupted", sum->interrupted);
        bfc_jw_kv_num(&j, "load_average_start", sum->load_start);
        bfc_jw_kv_num(&j, "load_average_end", sum->load_end);
        bfc_jw_kv_int(&j, "cpus", sum->ncpu);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_key(&j, "failures");
    bfc_jw_arr_begin(&j);
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].dup_of >= 0 || a->cr[i].status != 0) continue;
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_str(&j, "method", s->cells[i].method);
        bfc_jw_kv_str(&j, "target", s->cells[i].target);
        bfc_jw_kv_int(&j, "n", s->cells[i].n);
        bfc_jw_kv_int(&j, "seed", s->cells[i].seed);
        bfc_jw_kv_str(&j, "key", s->cells[i].key);
        bfc_jw_kv_str(&j, "reason", a->cr[i].reason);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_arr_end(&j);
    bfc_jw_key(&j, "meta");
    bfc_jw_obj_begin(&j);
    bfc_meta_put(&j, meta);
    bfc_jw_obj_end(&j);
    bfc_jw_obj_end(&j);
    int st = BFC_OK;
    if (j.failed) st = bfc_fail(BFC_ENOMEM, "sweep.json: out of memory");
    if (!st) {
        char path[PATH_CAP];
        pjoin(path, sizeof path, a->out, "sweep.json");
        st = bfc_jw_write_file(&j, path);
    }
    bfc_jw_free(&j);
    return st;
}

int sweep_read_last_run(const char *out, bfc_sweep_summary *sum)
{
    char path[PATH_CAP];
    pjoin(path, sizeof path, out, "sweep.json");
    char *text = bfc_read_file(path, NULL);
    bfc_json *j = text ? bfc_json_parse(text, NULL, 0) : NULL;
    free(text);
    const bfc_json *r = bfc_json_get(j, "last_run");
    memset(sum, 0, sizeof *sum);
    double run = 0, cached = 0, failed = 0, cpus = 0;
    int st = !r || bfc_json_number(bfc_json_get(r, "wall_s"), &sum->wall_s) ||
             bfc_json_number(bfc_json_get(r, "cells_run"), &run) ||
             bfc_json_number(bfc_json_get(r, "cells_cached"), &cached);
    if (!st) {
        sum->cached = (int)cached;
        sum->total = (int)(run + cached);
        if (!bfc_json_number(bfc_json_get(r, "failed"), &failed)) sum->failed = (int)failed;
        if (!bfc_json_number(bfc_json_get(r, "cpus"), &cpus)) sum->ncpu = (int)cpus;
        bfc_json_bool(bfc_json_get(r, "interrupted"), &sum->interrupted);
        sum->load_start = sum->load_end = NAN;
        bfc_json_number(bfc_json_get(r, "load_average_start"), &sum->load_start);
        bfc_json_number(bfc_json_get(r, "load_average_end"), &sum->load_end);
    }
    bfc_json_free(j);
    return st ? BFC_EFORMAT : BFC_OK;
}
