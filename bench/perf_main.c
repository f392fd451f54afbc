/* perf_main.c: bfc_perf, the side-by-side performance benchmark (bench/README.md).
 *
 * The process runs one worker per OpenBLAS configuration, each a fresh process because
 * OpenBLAS reads OPENBLAS_CORETYPE only when it loads:
 *   env     the environment as it is (what a user gets by default), peers likewise;
 *   <Core>  OPENBLAS_CORETYPE=<Core> for us and for the peers (same kernels), by default
 *           the best core this CPU supports, skipped when env already runs it.
 * Each worker prints its part of the table on stdout and writes <label>.csv (long format)
 * and <label>.json (resolved configuration and run metadata) in the results directory; the
 * parent then writes perf.csv (all rows) and perf.json. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bfc.h"
#include "blas.h"
#include "fsutil.h"
#include "json.h"
#include "perf.h"

#ifndef BFC_BENCH_PEERS_DIR
#define BFC_BENCH_PEERS_DIR "bench/peers"
#endif

#define CSV_HEADER "config,core,threads,part,case,method,metric,value,unit,samples\n"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bfc_perf [options]\n"
            "Times bfc against its peers side by side (PyTorch for the learner's training step,\n"
            "scikit-learn for kernel ridge regression) and against the DGEMM rate.\n"
            "  --out DIR            results directory (default results/perf-<UTC time>)\n"
            "  --parts LIST         dgemm,memory,learner,krr (default all)\n"
            "  --configs LIST       env and/or OpenBLAS core names, 'best' = the best core of this\n"
            "                       CPU (default env,best; best is skipped if env runs it)\n"
            "  --reps N             timed samples after the warm-up, DGEMM and learner (default 7)\n"
            "  --krr-reps N         timed samples per KRR size (default 5)\n"
            "  --sample-seconds S   length of one learner sample (default 0.25)\n"
            "  --dgemm-n N          DGEMM size (default 3000)\n"
            "  --krr-n LIST         KRR training sizes (default 5000,10000,20000)\n"
            "  --krr-peer-max-n N   time scikit-learn only up to this n (default 10000)\n"
            "  --krr-test N         test points (default 10000)\n"
            "  --krr-ridge R        fixed ridge, scikit-learn's alpha (default 1e-3)\n"
            "  --python PATH        interpreter of the peers (default /usr/bin/python3 if present)\n"
            "  --peers DIR          directory of torch_step.py and sklearn_krr.py\n"
            "  --no-peers           time bfc only\n"
            "  --quick              small sizes (a smoke test of the whole pipeline)\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

typedef struct {
    perf_run run;
    const char *worker; /* label when this process is a worker */
    const char *configs;
    char out[4096];
} options;

static int parse_args(int argc, char **argv, options *o)
{
    perf_run *r = &o->run;
    memset(o, 0, sizeof *o);
    r->python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    r->peers_dir = BFC_BENCH_PEERS_DIR;
    r->peers = 1;
    r->parts = PERF_DGEMM | PERF_MEMORY | PERF_LEARNER | PERF_KRR;
    r->reps = 7;
    r->krr_reps = 5;
    r->sample_s = 0.25;
    r->dgemm_n = 3000;
    r->krr_n[0] = 5000, r->krr_n[1] = 10000, r->krr_n[2] = 20000, r->n_krr = 3;
    r->krr_peer_max_n = 10000;
    r->krr_test = 10000;
    r->krr_ridge = 1e-3;
    o->configs = "env,best";
    int quick = 0, set_krr_n = 0, set_peer_max = 0, set_test = 0, set_dgemm = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--no-peers")) {
            r->peers = 0, takes = 0;
        } else if (!strcmp(a, "--quick")) {
            quick = 1, takes = 0;
        } else if (!v) {
            fprintf(stderr, "bfc_perf: %s needs a value\n", a);
            return -1;
        } else if (!strcmp(a, "--out")) {
            snprintf(o->out, sizeof o->out, "%s", v);
        } else if (!strcmp(a, "--worker")) {
            o->worker = v;
        } else if (!strcmp(a, "--configs")) {
            o->configs = v;
        } else if (!strcmp(a, "--python")) {
            r->python = v;
        } else if (!strcmp(a, "--peers")) {
            r->peers_dir = v;
        } else if (!strcmp(a, "--reps")) {
            bad = parse_int(v, 5, 64, &r->reps);
        } else if (!strcmp(a, "--krr-reps")) {
            bad = parse_int(v, 5, 64, &r->krr_reps);
        } else if (!strcmp(a, "--dgemm-n")) {
            bad = parse_int(v, 100, 20000, &r->dgemm_n), set_dgemm = 1;
        } else if (!strcmp(a, "--krr-peer-max-n")) {
            bad = parse_int(v, 0, 1000000, &r->krr_peer_max_n), set_peer_max = 1;
        } else if (!strcmp(a, "--krr-test")) {
            bad = parse_int(v, 1, 10000000, &r->krr_test), set_test = 1;
        } else if (!strcmp(a, "--sample-seconds")) {
            r->sample_s = atof(v);
            bad = !(r->sample_s > 0.001 && r->sample_s < 100);
        } else if (!strcmp(a, "--krr-ridge")) {
            r->krr_ridge = atof(v);
            bad = !(r->krr_ridge > 0);
        } else if (!strcmp(a, "--krr-n")) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            r->n_krr = 0;
            for (char *s = strtok(buf, ","); s && !bad; s = strtok(NULL, ",")) {
                if (r->n_krr == PERF_MAX_KRR_N) bad = 1;
                else bad = parse_int(s, 10, 200000, &r->krr_n[r->n_krr++]);
            }
            bad = bad || r->n_krr == 0;
            set_krr_n = 1;
        } else if (!strcmp(a, "--parts")) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            r->parts = 0;
            for (char *s = strtok(buf, ","); s && !bad; s = strtok(NULL, ",")) {
                if (!strcmp(s, "dgemm")) r->parts |= PERF_DGEMM;
                else if (!strcmp(s, "learner")) r->parts |= PERF_LEARNER;
                else if (!strcmp(s, "krr")) r->parts |= PERF_KRR;
                else if (!strcmp(s, "memory")) r->parts |= PERF_MEMORY;
                else bad = 1;
            }
        } else {
            fprintf(stderr, "bfc_perf: unknown option %s (see --help)\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "bfc_perf: bad value for %s: '%s' (see --help)\n", a, v);
            return -1;
        }
        i += takes;
    }
    if (quick) {
        r->quick = 1;
        r->reps = 5;
        r->krr_reps = 5;
        r->sample_s = 0.05;
        if (!set_dgemm) r->dgemm_n = 1000;
        if (!set_krr_n) r->krr_n[0] = 2000, r->n_krr = 1;
        if (!set_peer_max) r->krr_peer_max_n = 2000;
        if (!set_test) r->krr_test = 2000;
    }
    if (!o->out[0]) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(o->out, sizeof o->out, "results/perf-%s", stamp);
    }
    r->out_dir = o->out;
    return 0;
}

/* ---- worker ----------------------------------------------------------------------------- */

static void meta_config(const perf_run *r, bfc_jw *j)
{
    bfc_jw_kv_str(j, "config", r->label);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    bfc_jw_kv_str(j, "openblas_coretype_env", ct ? ct : "");
    bfc_jw_key(j, "parts");
    bfc_jw_arr_begin(j);
    if (r->parts & PERF_DGEMM) bfc_jw_str(j, "dgemm");
    if (r->parts & PERF_MEMORY) bfc_jw_str(j, "memory");
    if (r->parts & PERF_LEARNER) bfc_jw_str(j, "learner");
    if (r->parts & PERF_KRR) bfc_jw_str(j, "krr");
    bfc_jw_arr_end(j);
    bfc_jw_kv_int(j, "reps", r->reps);
    bfc_jw_kv_int(j, "krr_reps", r->krr_reps);
    bfc_jw_kv_num(j, "learner_sample_seconds", r->sample_s);
    bfc_jw_kv_int(j, "learner_batch", 256);
    bfc_jw_kv_int(j, "learner_threads", 1);
    bfc_jw_kv_int(j, "dgemm_n", r->dgemm_n);
    bfc_jw_key(j, "krr_n");
    bfc_jw_int_array(j, r->krr_n, (size_t)r->n_krr);
    bfc_jw_kv_int(j, "krr_peer_max_n", r->krr_peer_max_n);
    bfc_jw_kv_int(j, "krr_test", r->krr_test);
    bfc_jw_kv_num(j, "krr_ridge", r->krr_ridge);
    bfc_jw_kv_str(j, "krr_kernel", "poly-4: (1 + <x,y>/d)^4, d = 20");
    bfc_jw_kv_int(j, "krr_threads", 2);
    bfc_jw_kv_bool(j, "peers", r->peers);
    bfc_jw_kv_str(j, "python", r->python);
    bfc_jw_kv_bool(j, "quick", r->quick);
}

/* The 1-minute load average, or NaN: the machine's other work, for the record. */
static double load1(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : NAN;
}

static int worker(perf_run *r)
{
    r->t0 = bfc_wall_seconds();
    const double load_start = load1();
    snprintf(r->core, sizeof r->core, "%s", bfc_blas_core());
    char path[4096], name[128];
    snprintf(name, sizeof name, "%s.csv", r->label);
    if (bfc_path_join(path, sizeof path, r->out_dir, name) || !(r->csv = fopen(path, "w"))) {
        fprintf(stderr, "bfc_perf: cannot write %s/%s\n", r->out_dir, name);
        return 1;
    }
    fputs(CSV_HEADER, r->csv);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    snprintf(name, sizeof name, "%s.md", r->label);
    if (bfc_path_join(path, sizeof path, r->out_dir, name) || !(r->md = fopen(path, "w"))) {
        fprintf(stderr, "bfc_perf: cannot write %s/%s\n", r->out_dir, name);
        fclose(r->csv);
        return 1;
    }
    r->goals_md = open_memstream(&r->goals_buf, &r->goals_len);
    r->notes_md = open_memstream(&r->notes_buf, &r->notes_len);
    fprintf(r->md,
            "### Configuration `%s`: OpenBLAS core %s\n\n%s; bfc's core fix: %s. Load average "
            "%.1f at the start, %ld CPUs. Ratio = peer time / bfc time (for rates: bfc / "
            "DGEMM).\n\n",
            r->label, r->core, ct ? "OPENBLAS_CORETYPE set" : "OPENBLAS_CORETYPE unset",
            bfc_blas_fix_status(), load_start, sysconf(_SC_NPROCESSORS_ONLN));
    fputs("| comparison | bfc | peer | ratio | core | threads |\n|---|---:|---:|---:|---|---:|\n",
          r->md);
    printf("\n== configuration %s: OpenBLAS core %s (%s; bfc: %s); load average %.1f on %ld "
           "CPUs ==\n",
           r->label, r->core, ct ? "OPENBLAS_CORETYPE set" : "OPENBLAS_CORETYPE unset",
           bfc_blas_fix_status(), load_start, sysconf(_SC_NPROCESSORS_ONLN));
    perf_table_header();
    if (r->parts & PERF_DGEMM) perf_dgemm(r);
    if (r->parts & PERF_MEMORY) perf_memory(r);
    if (r->parts & PERF_LEARNER) perf_learner(r);
    if (r->parts & PERF_KRR) perf_krr(r);
    printf("goals [%s]: %d met, %d not met\n", r->label, r->goals_met, r->goals_missed);
    fclose(r->csv);
    fprintf(r->md, "\nPeers: %s; %s. Load average %.1f at the end.\n",
            r->peer_torch[0] ? r->peer_torch : "PyTorch not run",
            r->peer_sklearn[0] ? r->peer_sklearn : "scikit-learn not run", load1());
    if (r->notes_md && fflush(r->notes_md) == 0 && r->notes_len > 0)
        fprintf(r->md, "\n%s", r->notes_buf);
    if (r->notes_md) fclose(r->notes_md);
    free(r->notes_buf);
    r->notes_md = NULL, r->notes_buf = NULL;
    if (r->goals_md && fflush(r->goals_md) == 0 && r->goals_len > 0)
        fprintf(r->md,
                "\nGoals of the performance issue (`%s`): %d met, %d not met.\n\n"
                "| goal | measured | target | |\n|---|---:|---|---|\n%s",
                r->label, r->goals_met, r->goals_missed, r->goals_buf);
    if (r->goals_md) fclose(r->goals_md);
    free(r->goals_buf);
    r->goals_md = NULL, r->goals_buf = NULL;
    fclose(r->md);
    r->md = NULL;

    bfc_jw j;
    bfc_jw_init(&j);
    j.pretty = 1;
    bfc_jw_obj_begin(&j);
    meta_config(r, &j);
    bfc_jw_kv_num(&j, "dgemm_gflops_1_thread", r->dgemm_gflops[1]);
    bfc_jw_kv_num(&j, "dgemm_gflops_2_threads", r->dgemm_gflops[2]);
    bfc_jw_kv_str(&j, "peer_torch", r->peer_torch[0] ? r->peer_torch : "not run");
    bfc_jw_kv_str(&j, "peer_sklearn", r->peer_sklearn[0] ? r->peer_sklearn : "not run");
    bfc_jw_kv_int(&j, "goals_met", r->goals_met);
    bfc_jw_kv_int(&j, "goals_missed", r->goals_missed);
    bfc_jw_kv_num(&j, "wall_seconds", bfc_wall_seconds() - r->t0);
    bfc_jw_kv_num(&j, "load_average_start", load_start);
    bfc_jw_kv_num(&j, "load_average_end", load1());
    bfc_jw_kv_int(&j, "online_cpus", sysconf(_SC_NPROCESSORS_ONLN));
    bfc_jw_key(&j, "meta");
    bfc_jw_obj_begin(&j);
    bfc_meta_write(&j);
    bfc_jw_obj_end(&j);
    bfc_jw_obj_end(&j);
    snprintf(name, sizeof name, "%s.json", r->label);
    int st = bfc_path_join(path, sizeof path, r->out_dir, name);
    if (!st) st = bfc_jw_write_file(&j, path);
    bfc_jw_free(&j);
    if (st) fprintf(stderr, "bfc_perf: %s\n", bfc_last_error());
    return st ? 1 : 0;
}

/* ---- parent ----------------------------------------------------------------------------- */

extern char **environ;

/* Run this program as the worker `label`, with OPENBLAS_CORETYPE = core (NULL: as is). */
static int run_worker(int argc, char **argv, const char *label, const char *core, const char *out)
{
    const char **args = malloc(sizeof(char *) * (size_t)(argc + 6));
    size_t n = 0;
    while (environ[n]) n++;
    char **env = malloc(sizeof(char *) * (n + 3));
    if (!args || !env) {
        free(args), free(env);
        return -1;
    }
    int a = 0;
    for (int i = 0; i < argc; i++) args[a++] = argv[i];
    args[a++] = "--worker";
    args[a++] = label;
    args[a++] = "--out";
    args[a++] = out;
    args[a] = NULL;
    char coretype[640];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (core && (!strncmp(environ[i], "OPENBLAS_CORETYPE=", 18) ||
                     !strncmp(environ[i], "BFC_BLAS_AUTOFIX=", 17)))
            continue;
        env[k++] = environ[i];
    }
    if (core) {
        snprintf(coretype, sizeof coretype, "OPENBLAS_CORETYPE=%s", core);
        env[k++] = coretype;
        env[k++] = "BFC_BLAS_AUTOFIX=0";
    }
    env[k] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        execve("/proc/self/exe", (char *const *)args, env);
        execve(argv[0], (char *const *)args, env);
        _exit(127);
    }
    free(args);
    free(env);
    if (pid < 0) return -1;
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Append dir/<label><ext> to f, without its first line if skip_header. */
static void append_file(FILE *f, const char *dir, const char *label, const char *ext,
                        int skip_header)
{
    char path[4096], name[640];
    snprintf(name, sizeof name, "%s%s", label, ext);
    if (bfc_path_join(path, sizeof path, dir, name)) return;
    FILE *in = fopen(path, "r");
    if (!in) return;
    char line[1024];
    int first = 1;
    while (fgets(line, sizeof line, in)) {
        if (!first || !skip_header) fputs(line, f);
        first = 0;
    }
    fclose(in);
}

int main(int argc, char **argv)
{
    bfc_blas_autofix(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    options o;
    if (parse_args(argc, argv, &o)) return 2;
    perf_run *r = &o.run;
    if (bfc_mkdir_p(r->out_dir)) {
        fprintf(stderr, "bfc_perf: %s\n", bfc_last_error());
        return 1;
    }
    if (o.worker) {
        r->label = o.worker;
        return worker(r);
    }

    /* the configurations */
    int avx2, skx, bf16;
    bfc_cpu_isa(&avx2, &skx, &bf16);
    const char *best = bfc_blas_better_core("Prescott", avx2, skx, bf16);
    char env_core[64];
    const char *ct = getenv("OPENBLAS_CORETYPE");
    if (ct) snprintf(env_core, sizeof env_core, "%s", ct);
    else if (!bfc_blas_plan(env_core, sizeof env_core)) snprintf(env_core, sizeof env_core, "%s", bfc_blas_core());
    char labels[8][64];
    int nl = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", o.configs);
    for (char *s = strtok(buf, ","); s && nl < 8; s = strtok(NULL, ",")) {
        const char *c = strcmp(s, "best") == 0 ? best : s;
        if (!c) {
            printf("configuration 'best' skipped: no OpenBLAS core to force on this CPU\n");
            continue;
        }
        if (strcmp(s, "best") == 0 && strcasecmp(c, env_core) == 0) {
            printf("configuration %s skipped: the environment already runs it\n", c);
            continue;
        }
        snprintf(labels[nl++], sizeof labels[0], "%s", c);
    }
    printf("bfc_perf: results in %s; configurations:", r->out_dir);
    for (int i = 0; i < nl; i++) printf(" %s", labels[i]);
    printf(" (env runs OpenBLAS core %s)\n", env_core);
    const double t0 = bfc_wall_seconds();
    int failed = 0;
    for (int i = 0; i < nl; i++) {
        const int env = strcmp(labels[i], "env") == 0;
        char el[32], eta[32];
        const double now = bfc_wall_seconds();
        bfc_format_duration(now - t0, el, sizeof el);
        bfc_format_duration(i > 0 ? (now - t0) / i * (nl - i) : 0, eta, sizeof eta);
        fprintf(stderr, "bfc_perf: [%s] configuration %s (%d of %d)%s%s\n", el, labels[i], i + 1,
                nl, i > 0 ? "; the configurations measure the same, so ETA " : "",
                i > 0 ? eta : "");
        const int rc = run_worker(argc, argv, labels[i], env ? NULL : labels[i], r->out_dir);
        if (rc) {
            fprintf(stderr, "bfc_perf: configuration %s failed (exit %d)\n", labels[i], rc);
            failed = 1;
        }
    }

    /* perf.csv and perf.json */
    char path[4096];
    bfc_path_join(path, sizeof path, r->out_dir, "perf.csv");
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(CSV_HEADER, f);
        for (int i = 0; i < nl; i++) append_file(f, r->out_dir, labels[i], ".csv", 1);
        fclose(f);
    }
    /* perf.md: every configuration's table and goals, for reports */
    bfc_path_join(path, sizeof path, r->out_dir, "perf.md");
    if ((f = fopen(path, "w"))) {
        fprintf(f, "Measured by `bfc_perf");
        for (int i = 1; i < argc; i++) fprintf(f, " %s", argv[i]);
        fprintf(f, "` on %s, bfc %s (commit %s), OpenBLAS core of the environment: %s. "
                   "Rows and metadata: `perf.csv`, `perf.json`; how it measures: "
                   "bench/README.md.\n",
                bfc_cpu_model(), BFC_VERSION, bfc_git_commit(), env_core);
        for (int i = 0; i < nl; i++) {
            fputc('\n', f);
            append_file(f, r->out_dir, labels[i], ".md", 0);
        }
        if (failed) fprintf(f, "\n**A configuration failed**: see the output of bfc_perf.\n");
        fclose(f);
    }
    bfc_jw j;
    bfc_jw_init(&j);
    j.pretty = 1;
    bfc_jw_obj_begin(&j);
    bfc_jw_key(&j, "command");
    bfc_jw_arr_begin(&j);
    for (int i = 0; i < argc; i++) bfc_jw_str(&j, argv[i]);
    bfc_jw_arr_end(&j);
    bfc_jw_key(&j, "configs");
    bfc_jw_arr_begin(&j);
    for (int i = 0; i < nl; i++) bfc_jw_str(&j, labels[i]);
    bfc_jw_arr_end(&j);
    bfc_jw_kv_str(&j, "env_core", env_core);
    bfc_jw_kv_str(&j, "best_core", best ? best : "");
    bfc_jw_kv_str(&j, "rows", "perf.csv (per configuration: <config>.csv, <config>.json)");
    bfc_jw_kv_num(&j, "wall_seconds", bfc_wall_seconds() - t0);
    bfc_jw_key(&j, "meta");
    bfc_jw_obj_begin(&j);
    bfc_meta_write(&j);
    bfc_jw_obj_end(&j);
    bfc_jw_obj_end(&j);
    bfc_path_join(path, sizeof path, r->out_dir, "perf.json");
    if (bfc_jw_write_file(&j, path)) fprintf(stderr, "bfc_perf: %s\n", bfc_last_error());
    bfc_jw_free(&j);
    printf("\nbfc_perf: wrote %s/perf.csv, perf.json and perf.md (%.0f s)\n", r->out_dir,
           bfc_wall_seconds() - t0);
    return failed;
}
