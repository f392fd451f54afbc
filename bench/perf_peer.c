/* perf_peer.c: peers as co-processes. The peer (a Python program) reads one command per line
 * and answers one line, so the benchmark alternates our timed samples with the peer's in
 * the same run: machine noise hits both sides alike. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "perf.h"

extern char **environ;

/* The peer's environment: ours with the thread counts set, PYTHONUNBUFFERED, and for the
 * "env" configuration the OpenBLAS core as the user had it (a core forced by bfc's own
 * re-exec removed). Built before fork, so the child only calls exec. NULL on no memory. */
static char **peer_environ(const perf_run *r, int threads, char *store, size_t cap)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = malloc(sizeof(char *) * (n + 8));
    if (!env) return NULL;
    const int drop_core = strcmp(r->label, "env") == 0 && getenv("BFC_BLAS_REEXEC") != NULL;
    static const char *const replaced[] = {"OPENBLAS_NUM_THREADS=", "OMP_NUM_THREADS=",
                                           "MKL_NUM_THREADS=", "PYTHONUNBUFFERED=",
                                           "BFC_BLAS_REEXEC=", "BFC_BLAS_ORIG_CORE="};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int skip = drop_core && strncmp(environ[i], "OPENBLAS_CORETYPE=", 18) == 0;
        for (size_t j = 0; j < sizeof replaced / sizeof replaced[0]; j++)
            if (strncmp(environ[i], replaced[j], strlen(replaced[j])) == 0) skip = 1;
        if (!skip) env[k++] = environ[i];
    }
    snprintf(store, cap, "OPENBLAS_NUM_THREADS=%d%cOMP_NUM_THREADS=%d%cMKL_NUM_THREADS=%d%c"
                         "PYTHONUNBUFFERED=1",
             threads, 0, threads, 0, threads, 0);
    for (int v = 0; v < 4; v++) {
        env[k++] = store;
        store += strlen(store) + 1;
    }
    env[k] = NULL;
    return env;
}

static int read_line(perf_peer *p)
{
    ssize_t len = getline(&p->line, &p->cap, p->from);
    if (len < 0) return -1;
    while (len > 0 && (p->line[len - 1] == '\n' || p->line[len - 1] == '\r')) p->line[--len] = 0;
    return 0;
}

int perf_peer_start(perf_peer *p, const perf_run *r, const char *script, const char *const *args,
                    int threads, char *why, size_t whylen)
{
    memset(p, 0, sizeof *p);
    char path[4096];
    if (bfc_path_join(path, sizeof path, r->peers_dir, script) || access(path, R_OK) != 0) {
        snprintf(why, whylen, "peer script %s/%s not found (pass --peers DIR)", r->peers_dir,
                 script);
        return -1;
    }
    if (strchr(r->python, '/') && access(r->python, X_OK) != 0) {
        snprintf(why, whylen, "Python interpreter %s not found (pass --python PATH)", r->python);
        return -1;
    }
    int in[2], out[2];
    if (pipe(in) != 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe(out) != 0) {
        close(in[0]), close(in[1]);
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    char store[256];
    char **env = peer_environ(r, threads, store, sizeof store);
    const char *argv[64];
    int a = 0;
    argv[a++] = r->python;
    argv[a++] = path;
    for (int i = 0; args && args[i] && a < 63; i++) argv[a++] = args[i];
    argv[a] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = env ? fork() : -1;
    if (pid < 0) {
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        snprintf(why, whylen, "cannot start the peer: %s", env ? strerror(errno) : "no memory");
        free(env);
        return -1;
    }
    if (pid == 0) { /* child: only async-signal-safe calls until exec */
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execvpe(r->python, (char *const *)argv, env);
        _exit(127);
    }
    free(env);
    close(in[0]);
    close(out[1]);
    p->pid = pid;
    p->to = fdopen(in[1], "w");
    p->from = fdopen(out[0], "r");
    if (!p->to || !p->from || read_line(p) != 0) {
        int status = 0;
        if (p->to) fclose(p->to);
        if (p->from) fclose(p->from);
        p->to = p->from = NULL;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            snprintf(why, whylen, "cannot run %s (pass --python PATH)", r->python);
        else
            snprintf(why, whylen, "%s %s exited (status %d) before answering", r->python, path,
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    p->alive = 1;
    return 0;
}

const char *perf_peer_ask(perf_peer *p, const char *fmt, ...)
{
    if (!p->alive) return NULL;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->to, fmt, ap);
    va_end(ap);
    fputc('\n', p->to);
    if (fflush(p->to) != 0 || read_line(p) != 0) {
        p->alive = 0;
        return NULL;
    }
    return p->line;
}

void perf_peer_stop(perf_peer *p)
{
    if (p->to) {
        if (p->alive) {
            fputs("quit\n", p->to);
            fflush(p->to);
        }
        fclose(p->to);
    }
    if (p->from) fclose(p->from);
    if (p->pid > 0) waitpid(p->pid, NULL, 0);
    free(p->line);
    memset(p, 0, sizeof *p);
}
