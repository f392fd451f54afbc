/* sweep_local.c: the local sweep_runner: each cell a child process of the bfc executable in its
 * own process group (a terminal's Ctrl-C reaches the sweep, which decides), with one BLAS
 * thread; the parallelism is across cells. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bfc.h"
#include "sweep_internal.h"

extern char **environ;

typedef struct {
    const char *exe;
    char **env;  /* built before fork so that the child only calls execve */
    pid_t *pid;  /* per cell; 0 when not running */
    double *t0;  /* when it was started */
    int n;
} local_runner;

/* Our environment with OPENBLAS_NUM_THREADS=1 (NULL: out of memory). */
static char **cell_environment(void)
{
    int n = 0;
    while (environ[n]) n++;
    char **env = sw_realloc(NULL, sizeof(char *) * (size_t)(n + 2));
    if (!env) return NULL;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21)) env[k++] = environ[i];
    env[k++] = "OPENBLAS_NUM_THREADS=1";
    env[k] = NULL;
    return env;
}

static int local_submit(sweep_runner *r, int i, const bfc_sweep_cell *c, const char *dir)
{
    local_runner *lr = r->impl;
    char **argv = sw_realloc(NULL, sizeof(char *) * (size_t)(c->argc + 8));
    if (!argv) return BFC_ENOMEM;
    int k = 0;
    argv[k++] = "bfc";
    for (int j = 0; j < c->argc; j++) argv[k++] = c->argv[j];
    argv[k++] = "--json";
    argv[k++] = "--quiet";
    argv[k++] = "--force";
    argv[k++] = "--out";
    argv[k++] = (char *)dir;
    argv[k] = NULL;
    char out_path[PATH_CAP], err_path[PATH_CAP];
    pjoin(out_path, sizeof out_path, dir, "stdout.json");
    pjoin(err_path, sizeof err_path, dir, "stderr.log");
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(argv);
        return bfc_fail(BFC_EIO, "cannot start a cell: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(126);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGINT, &dfl, NULL);
        sigaction(SIGTERM, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int fi = open("/dev/null", O_RDONLY);
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fi < 0 || fo < 0 || fe < 0) _exit(126);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execve(lr->exe, argv, lr->env);
        static const char msg[] = "bfc sweep: cannot execute the bfc executable\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    setpgid(pid, pid); /* also here, so that kill(-pid) works before the child runs */
    free(argv);
    lr->pid[i] = pid;
    lr->t0[i] = bfc_wall_seconds();
    return BFC_OK;
}

static int local_poll(sweep_runner *r, sweep_done *d)
{
    local_runner *lr = r->impl;
    for (int i = 0; i < lr->n; i++) {
        if (lr->pid[i] <= 0) continue;
        int ws;
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        pid_t p = wait4(lr->pid[i], &ws, WNOHANG, &ru);
        if (p == 0 || (p < 0 && errno == EINTR)) continue;
        if (p < 0) ws = 127 << 8; /* lost: count as failed */
        lr->pid[i] = 0;
        d->cell = i;
        d->exited = WIFEXITED(ws);
        d->code = d->exited ? WEXITSTATUS(ws) : 0;
        d->signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
        d->wall = bfc_wall_seconds() - lr->t0[i];
        d->cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                 (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
        return 1;
    }
    return 0;
}

static void local_cancel(sweep_runner *r, int i, int hard)
{
    local_runner *lr = r->impl;
    if (lr->pid[i] > 0) kill(-lr->pid[i], hard ? SIGKILL : SIGTERM);
}

static void local_close(sweep_runner *r)
{
    local_runner *lr = r->impl;
    if (!lr) return;
    free(lr->env);
    free(lr->pid);
    free(lr->t0);
    free(lr);
    r->impl = NULL;
}

int sweep_local_runner(sweep_runner *r, const char *exe, int ncells)
{
    memset(r, 0, sizeof *r);
    local_runner *lr = sw_realloc(NULL, sizeof *lr);
    if (!lr) return BFC_ENOMEM;
    memset(lr, 0, sizeof *lr);
    r->impl = lr;
    r->submit = local_submit;
    r->poll = local_poll;
    r->cancel = local_cancel;
    r->close = local_close;
    lr->exe = exe;
    lr->n = ncells;
    lr->env = cell_environment();
    lr->pid = sw_realloc(NULL, sizeof(pid_t) * (size_t)(ncells + 1));
    lr->t0 = sw_realloc(NULL, sizeof(double) * (size_t)(ncells + 1));
    if (!lr->env || !lr->pid || !lr->t0) {
        local_close(r);
        return BFC_ENOMEM;
    }
    memset(lr->pid, 0, sizeof(pid_t) * (size_t)(ncells + 1));
    return BFC_OK;
}
