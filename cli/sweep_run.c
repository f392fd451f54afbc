/* sweep_run.c: runs the cells of a sweep that are not finished, through a sweep_runner (the
 * local one of sweep_local.c today): the cache, the order of the queue, time-outs, what the
 * signals mean, progress with an ETA, and each cell's status.json. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "bfc.h"
#include "fsutil.h"
#include "metrics.h"
#include "sweep_internal.h"

#define STDERR_TAIL_LINES 5         /* last stderr lines kept for a failed cell */
#define KILL_GRACE_S      10.0      /* SIGTERM, then SIGKILL this much later */
#define POLL_NS           50000000L /* runner loop period: 50 ms */

enum { C_PENDING = 0, C_RUNNING, C_OK, C_FAILED, C_DUP, C_NOT_RUN };

/* The driver's view of one cell. */
typedef struct {
    int state;
    int cached;
    double t0, wall;
    double cpu;     /* user + system seconds of the cell's process */
    double term_at; /* when it was asked to stop (0: not asked) */
    int kill_sent;
    int timed_out;   /* asked to stop for the time-out */
    int interrupted; /* killed because the sweep was interrupted */
} run;

/* The last STDERR_TAIL_LINES non-empty lines of a file (at most 8 KB are read). */
static int stderr_tail(const char *path, char lines[][320], int max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[8193];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > 8192 ? size - 8192 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, 8192, f);
    fclose(f);
    buf[n] = '\0';
    int count = 0;
    char *save = NULL;
    char *all[512];
    int na = 0;
    for (char *l = strtok_r(buf, "\n", &save); l && na < 512; l = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(l);
        while (len && (l[len - 1] == '\r' || l[len - 1] == ' ')) l[--len] = '\0';
        if (len) all[na++] = l;
    }
    for (int i = na > max ? na - max : 0; i < na; i++) snprintf(lines[count++], 320, "%s", all[i]);
    return count;
}

static void utc_now(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Write status.json of a cell that has ended; returns the new state (C_OK or C_FAILED). */
static int finish_cell(const bfc_sweep_cell *c, const char *dir, run *r, const sweep_done *d,
                       char *reason, size_t cap)
{
    int ok = d->exited && d->code == 0 && file_exists(dir, "result.csv");
    const char *status = ok ? "ok" : r->interrupted ? "interrupted" : "failed";
    if (ok)
        snprintf(reason, cap, "ok");
    else if (r->timed_out)
        snprintf(reason, cap, "timed out after %.0f s", r->term_at - r->t0);
    else if (r->interrupted)
        snprintf(reason, cap, "interrupted");
    else if (d->exited && d->code == 0)
        snprintf(reason, cap, "exited 0 without writing result.csv");
    else if (d->exited && d->code == 3) /* the commands' exit status of a diverged run */
        snprintf(reason, cap, "diverged (exit code 3)");
    else if (d->exited && d->code == 2)
        snprintf(reason, cap, "refused its flags or memory (exit code 2)");
    else if (d->exited)
        snprintf(reason, cap, "exit code %d", d->code);
    else
        snprintf(reason, cap, "killed by signal %d (%s)", d->signal, strsignal(d->signal));
    char tail[STDERR_TAIL_LINES][320], path[PATH_CAP], when[32];
    pjoin(path, sizeof path, dir, "stderr.log");
    int nt = ok ? 0 : stderr_tail(path, tail, STDERR_TAIL_LINES);
    utc_now(when, sizeof when);
    bfc_jw j;
    bfc_jw_init(&j);
    j.pretty = 1;
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_str(&j, "status", status);
    bfc_jw_kv_str(&j, "reason", reason);
    bfc_jw_kv_str(&j, "method", c->method);
    bfc_jw_kv_str(&j, "target", c->target);
    bfc_jw_kv_int(&j, "n", c->n);
    bfc_jw_kv_int(&j, "seed", c->seed);
    bfc_jw_kv_str(&j, "key", c->key);
    bfc_jw_kv_str(&j, "command", c->cmdline);
    bfc_jw_key(&j, "exit_code");
    if (d->exited)
        bfc_jw_int(&j, d->code);
    else
        bfc_jw_null(&j);
    bfc_jw_key(&j, "signal");
    if (!d->exited)
        bfc_jw_int(&j, d->signal);
    else
        bfc_jw_null(&j);
    bfc_jw_kv_num(&j, "wall_s", r->wall);
    bfc_jw_kv_num(&j, "cpu_s", r->cpu);
    bfc_jw_key(&j, "stderr_tail");
    bfc_jw_arr_begin(&j);
    for (int i = 0; i < nt; i++) bfc_jw_str(&j, tail[i]);
    bfc_jw_arr_end(&j);
    bfc_jw_kv_str(&j, "finished_utc", when);
    bfc_jw_obj_end(&j);
    pjoin(path, sizeof path, dir, "status.json");
    if (bfc_jw_write_file(&j, path)) fprintf(stderr, "bfc sweep: %s\n", bfc_last_error());
    bfc_jw_free(&j);
    if (!ok && nt) {
        size_t len = strlen(reason);
        snprintf(reason + len, cap - len, ": %s", tail[nt - 1]);
    }
    return ok ? C_OK : C_FAILED;
}


static void remove_in(const char *dir, const char *name)
{
    char p[PATH_CAP];
    pjoin(p, sizeof p, dir, name);
    unlink(p);
}

/* A cell of a killed sweep may still be finishing (its checkpoint, on the SIGTERM it got when
 * its parent died): its directory is taken over once it has let go, waiting this long. */
#define CELL_LOCK_WAIT_S 30.0

/* A cell's directory before it runs: no result of an earlier attempt, the command in cmd.txt.
 * The cell runs with --force: the sweep owns its cells' directories and starts a failed or
 * interrupted cell afresh. */
static int prepare_dir(const bfc_sweep_cell *c, const char *dir)
{
    int lock = -1, st = bfc_mkdir_p(dir);
    if (!st) st = bfc_dir_lock(dir, "bfc sweep", CELL_LOCK_WAIT_S, &lock);
    if (st) return st;
    static const char *const stale[] = {"status.json", "result.csv", "result.json", "curve.csv",
                                        "stdout.json"};
    for (size_t i = 0; i < sizeof stale / sizeof *stale; i++) remove_in(dir, stale[i]);
    DIR *dp = opendir(dir); /* temporary files of a killed run ("curve.csv.tmp.<pid>") */
    for (struct dirent *e = dp ? readdir(dp) : NULL; e; e = readdir(dp))
        if (strstr(e->d_name, ".tmp.")) remove_in(dir, e->d_name);
    if (dp) closedir(dp);
    char *full = sw_printf("%s --json --quiet --force --out %s\n", c->cmdline, dir);
    if (full) {
        char path[PATH_CAP];
        pjoin(path, sizeof path, dir, "cmd.txt");
        st = bfc_write_file_atomic(path, full, strlen(full));
        free(full);
    } else {
        st = BFC_ENOMEM;
    }
    bfc_dir_unlock(lock); /* the cell takes it */
    return st;
}


/* Cost model for the ETA, from the finished cells: per series (target × method), the
 * least-squares fit log wall = a + b log n. A series with one distinct n borrows b from its
 * command (the median slope of that command's series with two or more, 0 without: a
 * learner's cost does not grow with n, a kernel's does); a series with nothing finished
 * borrows the method's mean over other targets, then the command's, then everyone's. */
typedef struct {
    int cnt, distinct; /* finished cells; 1 if they have two or more distinct n */
    double sx, sy, sxx, sxy;
    int n0; /* the n of the first finished cell */
} cost_series;

static double series_slope(const cost_series *c)
{
    double var = c->sxx - c->sx * c->sx / c->cnt;
    double b = var > 1e-12 ? (c->sxy - c->sx * c->sy / c->cnt) / var : 0;
    return b < 0 ? 0 : b > 3 ? 3 : b;
}

static double eta(const bfc_sweep *s, const run *r, int jobs, double now, int stopping)
{
    const int ns = s->nt * s->nm;
    cost_series *cs = sw_realloc(NULL, sizeof(cost_series) * (size_t)ns);
    if (!cs) return -1; /* the ETA is unknown */
    memset(cs, 0, sizeof(cost_series) * (size_t)ns);
    double all = 0;
    int nall = 0;
    for (int j = 0; j < s->ncells; j++) {
        if (r[j].state != C_OK || !(r[j].wall > 0)) continue;
        cost_series *c = &cs[s->ci[j].t * s->nm + s->ci[j].m];
        double x = log(s->cells[j].n), y = log(r[j].wall);
        if (!c->cnt)
            c->n0 = s->cells[j].n;
        else if (s->cells[j].n != c->n0)
            c->distinct = 1;
        c->cnt++, c->sx += x, c->sy += y, c->sxx += x * x, c->sxy += x * y;
        all += y, nall++;
    }
    double left = 0;
    for (int i = 0; i < s->ncells && left >= 0; i++) {
        if ((r[i].state != C_PENDING || stopping) && r[i].state != C_RUNNING) continue;
        const int ti = s->ci[i].t, mi = s->ci[i].m;
        const char *cmd = s->cells[i].argv[0];
        const cost_series *c = &cs[ti * s->nm + mi];
        double e = -1, x = log(s->cells[i].n);
        if (c->cnt) {
            double b = 0;
            if (c->distinct)
                b = series_slope(c);
            else { /* the command's median slope */
                double sl[256];
                int k = 0;
                for (int q = 0; q < ns && k < 256; q++)
                    if (cs[q].distinct && !strcmp(s->m[q % s->nm].command, cmd))
                        sl[k++] = series_slope(&cs[q]);
                b = k ? bfc_median(sl, k) : 0;
            }
            e = exp(c->sy / c->cnt + b * (x - c->sx / c->cnt));
        } else { /* the method elsewhere, the command, everyone: geometric means */
            double sy = 0;
            int cnt = 0;
            for (int pass = 0; pass < 2 && !cnt; pass++)
                for (int q = 0; q < ns; q++)
                    if (cs[q].cnt &&
                        (pass ? !strcmp(s->m[q % s->nm].command, cmd) : q % s->nm == mi))
                        sy += cs[q].sy, cnt += cs[q].cnt;
            if (cnt)
                e = exp(sy / cnt);
            else if (nall)
                e = exp(all / nall);
        }
        if (e < 0)
            left = -1;
        else
            left += r[i].state == C_RUNNING ? fmax(e - (now - r[i].t0), 0) : e;
    }
    free(cs);
    return left < 0 ? -1 : left / jobs;
}

/* The cells to run, longest first for a short makespan (baselines, whose cost grows like n^3,
 * by n descending, then the learners), but first one cell of each method at its smallest n:
 * cheap, and it gives the ETA a cost for every method early. */
static void order_queue(const bfc_sweep *s, int *queue, int nq)
{
    for (int a = 1; a < nq; a++) {
        int x = queue[a], b = a - 1;
        int px = strcmp(s->cells[x].argv[0], "train") ? s->cells[x].n : 0;
        while (b >= 0) {
            int y = queue[b];
            int py = strcmp(s->cells[y].argv[0], "train") ? s->cells[y].n : 0;
            if (py >= px) break;
            queue[b + 1] = queue[b];
            b--;
        }
        queue[b + 1] = x;
    }
    int front = 0;
    for (int mi = 0; mi < s->nm; mi++) {
        int best = -1;
        for (int q = front; q < nq; q++)
            if (s->ci[queue[q]].m == mi &&
                (best < 0 || s->cells[queue[q]].n < s->cells[queue[best]].n))
                best = q;
        if (best < 0) continue;
        int x = queue[best];
        memmove(queue + front + 1, queue + front, sizeof(int) * (size_t)(best - front));
        queue[front++] = x;
    }
}

/* The state of a run of the sweep. */
typedef struct {
    bfc_sweep *s;
    const bfc_sweep_run_opts *o;
    bfc_sweep_summary *sum;
    sweep_runner *runner;
    run *r;
    int jobs, running, done, stopping, killing;
    double t_start;
} driver;

/* A cell has ended: its status.json, the counts, a progress line. */
static void on_done(driver *dv, const sweep_done *d, double now)
{
    const bfc_sweep *s = dv->s;
    bfc_sweep_summary *sum = dv->sum;
    const int i = d->cell;
    run *ri = &dv->r[i];
    char dir[PATH_CAP], reason[1024];
    dv->running--;
    ri->wall = d->wall;
    ri->cpu = d->cpu;
    cell_dir(dv->o->out, &s->cells[i], dir, sizeof dir);
    ri->state = finish_cell(&s->cells[i], dir, ri, d, reason, sizeof reason);
    dv->done++;
    if (ri->state == C_OK)
        sum->ok++;
    else if (ri->interrupted)
        ri->state = C_NOT_RUN;
    else
        sum->failed++;
    if (dv->o->quiet) return;
    char el[32], et[32];
    bfc_format_duration(now - dv->t_start, el, sizeof el);
    bfc_format_duration(eta(s, dv->r, dv->jobs, now, dv->stopping), et, sizeof et);
    fprintf(stderr,
            "bfc sweep: [%d/%d] %s %s %s n=%d seed=%lld %.1fs | %d failed | %s elapsed, ETA %s\n",
            dv->done, sum->total,
            ri->state == C_OK        ? "ok    "
            : ri->state == C_NOT_RUN ? "KILLED"
                                     : "FAILED",
            s->cells[i].method, s->cells[i].target, s->cells[i].n, s->cells[i].seed, ri->wall,
            sum->failed, el, et);
    if (ri->state != C_OK) fprintf(stderr, "bfc sweep:   %s (%s)\n", reason, dir);
}

/* Signals (the first stops launching, the second kills what runs) and time-outs (asked to
 * stop, so that a learner still writes its results, then killed after a grace period). */
static void police(driver *dv, double timeout, double now)
{
    const int nsig = dv->o->signals ? (int)*dv->o->signals : 0;
    if (nsig >= 1 && !dv->stopping) {
        dv->stopping = 1;
        dv->sum->interrupted = 1;
        if (!dv->o->quiet)
            fprintf(stderr,
                    "bfc sweep: interrupted: no new cells; waiting for %d in flight "
                    "(interrupt again to kill them)\n",
                    dv->running);
    }
    if (nsig >= 2 && !dv->killing) {
        dv->killing = 1;
        for (int i = 0; i < dv->s->ncells; i++)
            if (dv->r[i].state == C_RUNNING) {
                dv->r[i].interrupted = 1;
                dv->runner->cancel(dv->runner, i, 1);
            }
    }
    for (int i = 0; timeout > 0 && i < dv->s->ncells; i++) {
        run *ri = &dv->r[i];
        if (ri->state != C_RUNNING) continue;
        if (!ri->term_at && now - ri->t0 > timeout) {
            ri->timed_out = 1;
            ri->term_at = now;
            dv->runner->cancel(dv->runner, i, 0);
        } else if (ri->term_at && !ri->kill_sent && now - ri->term_at > KILL_GRACE_S) {
            ri->kill_sent = 1;
            dv->runner->cancel(dv->runner, i, 1);
        }
    }
}

/* The cached cells and the queue of those to run (nq of them); BFC_ENOMEM. */
static int plan(driver *dv, int **queue, int *nq)
{
    const bfc_sweep *s = dv->s;
    bfc_sweep_summary *sum = dv->sum;
    if (!(*queue = sw_realloc(NULL, sizeof(int) * (size_t)s->ncells))) return BFC_ENOMEM;
    *nq = 0;
    char dir[PATH_CAP];
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].dup_of >= 0) {
            dv->r[i].state = C_DUP;
            continue;
        }
        sum->total++;
        cell_dir(dv->o->out, &s->cells[i], dir, sizeof dir);
        double w;
        if (read_status(dir, &w, NULL, NULL, 0) == 1) {
            dv->r[i].state = C_OK;
            dv->r[i].cached = 1;
            dv->r[i].wall = w;
            sum->cached++;
            sum->ok++;
        } else {
            (*queue)[(*nq)++] = i;
        }
    }
    order_queue(s, *queue, *nq);
    return BFC_OK;
}

/* The 1-minute load average: other work on the machine inflates the cells' wall times. */
static double load_average(void)
{
    double x = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &x) != 1) x = NAN;
        fclose(f);
    }
    return x;
}

int bfc_sweep_run(bfc_sweep *s, const bfc_sweep_run_opts *o, bfc_sweep_summary *sum)
{
    bfc_sweep_summary local;
    if (!sum) sum = &local;
    memset(sum, 0, sizeof *sum);
    if (!s->ncells) return bfc_fail(BFC_EINVAL, "bfc_sweep_run: no cells (call bfc_sweep_expand)");
    if (strlen(o->out) > OUT_MAX)
        return bfc_fail(BFC_EINVAL, "output directory name longer than %d characters", OUT_MAX);
    char cells[PATH_CAP];
    pjoin(cells, sizeof cells, o->out, "cells");
    int st = bfc_check_writable_dir(cells);
    if (st) return st;
    int lock_fd = -1; /* one sweep per output directory at a time */
    if ((st = bfc_dir_lock(o->out, "bfc sweep", 0, &lock_fd))) return st;
    sweep_runner runner = {0};
    driver dv = {s, o, sum, &runner, NULL, o->jobs > 0 ? o->jobs : 1, 0, 0, 0, 0, 0};
    const double timeout = o->timeout_s >= 0 ? o->timeout_s : s->timeout_s;
    dv.t_start = bfc_wall_seconds();
    sum->load_start = load_average();
    sum->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int *queue = NULL, nq = 0;
    if (!(dv.r = sw_realloc(NULL, sizeof(run) * (size_t)s->ncells))) st = BFC_ENOMEM;
    if (!st) {
        memset(dv.r, 0, sizeof(run) * (size_t)s->ncells);
        st = plan(&dv, &queue, &nq);
    }
    if (!st) st = sweep_local_runner(&runner, o->exe, s->ncells);
    if (st) {
        free(queue);
        free(dv.r);
        bfc_dir_unlock(lock_fd);
        return st;
    }
    if (!o->quiet)
        fprintf(stderr,
                "bfc sweep: %s: %d cells (%d finished before, %d to run), %d jobs, results in %s\n",
                bfc_sweep_name(s), sum->total, sum->cached, nq, dv.jobs, o->out);
    dv.done = sum->cached;
    int next = 0;
    char dir[PATH_CAP];
    while (1) {
        double now = bfc_wall_seconds();
        sweep_done d;
        while (runner.poll(&runner, &d) == 1) on_done(&dv, &d, now);
        police(&dv, timeout, now);
        while (!dv.stopping && dv.running < dv.jobs && next < nq) {
            int i = queue[next++];
            cell_dir(o->out, &s->cells[i], dir, sizeof dir);
            st = prepare_dir(&s->cells[i], dir);
            if (!st) st = runner.submit(&runner, i, &s->cells[i], dir);
            if (st) {
                fprintf(stderr, "bfc sweep: %s\n", bfc_last_error());
                dv.stopping = 1;
                break;
            }
            dv.r[i].t0 = bfc_wall_seconds();
            dv.r[i].state = C_RUNNING;
            dv.running++;
        }
        if (dv.running == 0 && (dv.stopping || next >= nq)) break;
        struct timespec ts = {0, POLL_NS};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < s->ncells; i++)
        if (dv.r[i].state == C_PENDING || dv.r[i].state == C_NOT_RUN) sum->not_run++;
    sum->wall_s = bfc_wall_seconds() - dv.t_start;
    sum->load_end = load_average();
    if (!o->quiet) {
        char el[32];
        bfc_format_duration(sum->wall_s, el, sizeof el);
        fprintf(
            stderr,
            "bfc sweep: %d of %d cells finished (%d before this run), %d failed, %d not run; %s\n",
            sum->ok, sum->total, sum->cached, sum->failed, sum->not_run, el);
    }
    runner.close(&runner);
    free(queue);
    free(dv.r);
    bfc_dir_unlock(lock_fd);
    if (st) return st;
    return sum->interrupted ? BFC_EINTR : BFC_OK;
}
