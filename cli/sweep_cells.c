/* sweep_cells.c: the cells of a sweep (targets × methods × n × seeds), each a canonical bfc
 * command line with its cache key, and the cache on disk: OUT/cells/<key>/status.json. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bfc.h"
#include "commands.h"
#include "fsutil.h"
#include "sweep_internal.h"
#include "train.h"

#define KEY_PREFIX "bfc-sweep-cell/1" /* bump to invalidate every cached cell */

void bfc_sweep_key(char *const *argv, int argc, char key[17])
{
    static const char sep = 0x1f;
    uint64_t h = bfc_fnv1a64(BFC_FNV1A64_INIT, KEY_PREFIX, strlen(KEY_PREFIX));
    for (int i = 0; i < argc; i++) {
        h = bfc_fnv1a64(h, &sep, 1);
        h = bfc_fnv1a64(h, argv[i], strlen(argv[i]));
    }
    h ^= h >> 33; /* murmur3's finaliser: nearby command lines get unrelated keys */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    snprintf(key, 17, "%016llx", (unsigned long long)h);
}

/* a, or 'a' with quotes escaped when a shell would split or expand it (NULL: out of memory). */
static char *shell_quote(const char *a)
{
    int plain = a[0] != '\0';
    size_t quotes = 0;
    for (const char *p = a; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_./=:,+-@%", *p)))
            plain = 0;
        quotes += *p == '\'';
    }
    if (plain) return sw_strdup(a);
    char *q = sw_realloc(NULL, strlen(a) + 3 * quotes + 3);
    if (!q) return NULL;
    size_t k = 0;
    q[k++] = '\'';
    for (const char *p = a; *p; p++) {
        if (*p == '\'') {
            memcpy(q + k, "'\\''", 4);
            k += 4;
        } else {
            q[k++] = *p;
        }
    }
    q[k++] = '\'';
    q[k] = '\0';
    return q;
}

static int check_only(const bfc_sweep *s, int targets)
{
    const strv *only = targets ? &s->only_t : &s->only_m;
    for (int i = 0; i < only->n; i++) {
        int ok = 0;
        char list[1024] = "";
        int n = targets ? s->nt : s->nm;
        for (int k = 0; k < n; k++) {
            const char *nm = targets ? s->t[k].name : s->m[k].name;
            ok |= !strcmp(nm, only->v[i]);
            if (k) strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, nm, sizeof list - strlen(list) - 1);
        }
        if (!ok)
            return bfc_fail(BFC_EINVAL, "--%s: %s has no %s named '%s' (%s)",
                            targets ? "targets" : "methods", s->what, targets ? "target" : "method",
                            only->v[i], list);
    }
    return BFC_OK;
}

/* The flags of a cell: the layers target problem → top-level args of the command → the
 * target's args → the method's → quick and command-line, then --n and --seed; sorted by name
 * (stable), so that equal configurations give equal command lines. */
static int cell_flags(const bfc_sweep *s, const target *t, const method *m, int n,
                      long long seed, flagv *f)
{
    const flagv *layers[5] = {&t->problem, cmdargs_get(&s->args, m->command),
                              cmdargs_get(&t->args, m->command), &m->args,
                              cmdargs_get(&s->late_args, m->command)};
    int st = BFC_OK;
    for (int i = 0; !st && i < 5; i++)
        if (layers[i]) st = flags_merge(f, layers[i]);
    char num[32];
    /* a learner cell whose n is below its minibatch trains full-batch (bfc train refuses
     * n < --batch), so that a grid can reach down to where the learner fails; its command
     * line says so */
    if (!st && !strcmp(m->command, "train")) {
        bfc_train_config tc;
        bfc_train_defaults(&tc);
        const char *b = flags_get(f, "batch");
        if ((b ? atoi(b) : tc.batch) > n) {
            snprintf(num, sizeof num, "%d", n);
            flagv full = {0};
            st = flags_add(&full, "batch", num, FLAG_VALUE);
            if (!st) st = flags_merge(f, &full);
            flags_free(&full);
        }
    }
    snprintf(num, sizeof num, "%d", n);
    if (!st) st = flags_add(f, "n", num, FLAG_VALUE);
    snprintf(num, sizeof num, "%lld", seed);
    if (!st) st = flags_add(f, "seed", num, FLAG_VALUE);
    for (int i = 1; !st && i < f->n; i++) { /* stable insertion sort by name */
        flag x = f->v[i];
        int j = i - 1;
        while (j >= 0 && strcmp(f->v[j].name, x.name) > 0) {
            f->v[j + 1] = f->v[j];
            j--;
        }
        f->v[j + 1] = x;
    }
    return st;
}

/* argv and the shell-quoted command line "bfc ARGV..." of cell c from its flags. */
static int cell_command(bfc_sweep_cell *c, const char *command, const flagv *f)
{
    if (!(c->argv = sw_realloc(NULL, sizeof(char *) * (size_t)(2 * f->n + 2)))) return BFC_ENOMEM;
    c->argv[0] = NULL;
    if (!(c->argv[c->argc++] = sw_strdup(command))) return BFC_ENOMEM;
    c->argv[c->argc] = NULL;
    for (int i = 0; i < f->n; i++) {
        if (!(c->argv[c->argc++] = sw_printf("--%s", f->v[i].name))) return BFC_ENOMEM;
        c->argv[c->argc] = NULL;
        if (f->v[i].kind == FLAG_VALUE) {
            if (!(c->argv[c->argc++] = sw_strdup(f->v[i].value))) return BFC_ENOMEM;
            c->argv[c->argc] = NULL;
        }
    }
    bfc_sweep_key(c->argv, c->argc, c->key);
    size_t len = 4;
    char **q = sw_realloc(NULL, sizeof(char *) * (size_t)c->argc);
    if (!q) return BFC_ENOMEM;
    int st = BFC_OK;
    for (int i = 0; i < c->argc; i++) {
        if (!(q[i] = shell_quote(c->argv[i]))) {
            for (int j = 0; j < i; j++) free(q[j]);
            free(q);
            return BFC_ENOMEM;
        }
        len += strlen(q[i]) + 1;
    }
    char *line = sw_realloc(NULL, len);
    if (line) {
        strcpy(line, "bfc");
        for (int i = 0; i < c->argc; i++) {
            strcat(line, " ");
            strcat(line, q[i]);
        }
        c->cmdline = line;
    } else {
        st = BFC_ENOMEM;
    }
    for (int i = 0; i < c->argc; i++) free(q[i]);
    free(q);
    return st;
}

/* The commands a cell may run, with their parse-and-validate entry points: those that write
 * the result.csv the aggregation reads. */
static const struct {
    const char *name;
    int (*check)(int argc, char **argv);
} cell_commands[] = {{"train", bfc_cmd_train_check}, {"fit", bfc_cmd_fit_check}};

int sweep_command_known(const char *command)
{
    for (size_t i = 0; i < sizeof cell_commands / sizeof cell_commands[0]; i++)
        if (!strcmp(command, cell_commands[i].name)) return 1;
    return 0;
}

/* Cell c's command line as its command would parse and validate it, so that a flag the
 * command does not know or a value it refuses stops the sweep before any cell runs (a usage
 * error), not every cell of the method at run time. */
static int check_cell(const bfc_sweep *s, const bfc_sweep_cell *c)
{
    static char bfc_name[] = "bfc";
    size_t k = 0;
    while (k < sizeof cell_commands / sizeof cell_commands[0] &&
           strcmp(c->argv[0], cell_commands[k].name))
        k++;
    if (k == sizeof cell_commands / sizeof cell_commands[0])
        return bfc_fail(BFC_EINVAL, "%s: method %s: '%s' is not a command a cell can run",
                        s->what, c->method, c->argv[0]);
    char **argv = sw_realloc(NULL, sizeof(char *) * (size_t)(c->argc + 2));
    if (!argv) return BFC_ENOMEM;
    argv[0] = bfc_name;
    for (int i = 0; i <= c->argc; i++) argv[i + 1] = c->argv[i];
    int st = cell_commands[k].check(c->argc + 1, argv);
    free(argv);
    if (st == BFC_OK || st == BFC_ENOMEM) return st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", bfc_last_error());
    return bfc_fail(BFC_EINVAL, "%s: method %s on target %s (n = %d): bfc %s refuses its flags: %s",
                    s->what, c->method, c->target, c->n, c->argv[0], msg);
}

static int add_cell(bfc_sweep *s, int ti, int mi, int n, long long seed, int *cap)
{
    if (s->ncells == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        bfc_sweep_cell *cells = sw_realloc(s->cells, sizeof(bfc_sweep_cell) * (size_t)nc);
        if (!cells) return BFC_ENOMEM;
        s->cells = cells;
        cellinfo *ci = sw_realloc(s->ci, sizeof(cellinfo) * (size_t)nc);
        if (!ci) return BFC_ENOMEM;
        s->ci = ci;
        *cap = nc;
    }
    const target *t = &s->t[ti];
    const method *m = &s->m[mi];
    bfc_sweep_cell *c = &s->cells[s->ncells];
    memset(c, 0, sizeof *c);
    c->method = m->name;
    c->target = t->name;
    c->n = n;
    c->seed = seed;
    cellinfo *ci = &s->ci[s->ncells];
    ci->t = ti;
    ci->m = mi;
    ci->dup_of = -1;
    s->ncells++; /* counted from here on, so that free_cells releases what it holds */
    flagv f = {0};
    int st = cell_flags(s, t, m, n, seed, &f);
    if (!st) st = cell_command(c, m->command, &f);
    flags_free(&f);
    if (!st) st = check_cell(s, c);
    for (int j = 0; !st && j < s->ncells - 1 && ci->dup_of < 0; j++)
        if (!strcmp(s->cells[j].key, c->key)) ci->dup_of = j;
    return st;
}

void free_cells(bfc_sweep *s)
{
    for (int i = 0; i < s->ncells; i++) {
        for (int j = 0; j < s->cells[i].argc; j++) free(s->cells[i].argv[j]);
        free(s->cells[i].argv);
        free((char *)s->cells[i].cmdline);
    }
    free(s->cells);
    free(s->ci);
    s->cells = NULL;
    s->ci = NULL;
    s->ncells = 0;
}

int bfc_sweep_expand(bfc_sweep *s)
{
    free_cells(s);
    int st = check_only(s, 1);
    if (!st) st = check_only(s, 0);
    if (st) return st;
    int cap = 0;
    for (int ti = 0; !st && ti < s->nt; ti++) {
        const target *t = &s->t[ti];
        if (!sweep_allowed(&s->only_t, s->has_only_t, t->name)) continue;
        int ng;
        const int *grid = sweep_grid(s, ti, &ng);
        for (int mi = 0; !st && mi < s->nm; mi++) {
            const method *m = &s->m[mi];
            if (!sweep_allowed(&s->only_m, s->has_only_m, m->name) ||
                !sweep_allowed(&t->methods, t->has_methods, m->name) ||
                !sweep_allowed(&m->targets, m->has_targets, t->name))
                continue;
            for (int i = 0; !st && i < ng; i++) {
                if ((m->n_max && grid[i] > m->n_max) || grid[i] < m->n_min) continue;
                for (int k = 0; !st && k < s->nseeds; k++)
                    st = add_cell(s, ti, mi, grid[i], s->seeds[k], &cap);
            }
        }
    }
    if (st) {
        free_cells(s);
        return st;
    }
    if (!s->ncells)
        return bfc_fail(BFC_EINVAL,
                        "%s: no cells to run: the selected targets, methods and n "
                        "limits leave nothing",
                        s->what);
    return BFC_OK;
}

int bfc_sweep_ncells(const bfc_sweep *s) { return s->ncells; }

const bfc_sweep_cell *bfc_sweep_cell_at(const bfc_sweep *s, int i)
{
    return i >= 0 && i < s->ncells ? &s->cells[i] : NULL;
}

/* ---- the cache on disk --------------------------------------------------------------- */

void pjoin(char *buf, size_t cap, const char *dir, const char *name)
{
    int w = snprintf(buf, cap, "%s/%s", dir, name);
    BFC_ASSERT(w > 0 && (size_t)w < cap);
}

FILE *sweep_out_open(const char *out, const char *name, bfc_afile **af)
{
    char path[PATH_CAP];
    pjoin(path, sizeof path, out, name);
    *af = bfc_afile_open(path);
    return *af ? bfc_afile_fp(*af) : NULL;
}

void cell_dir(const char *out, const bfc_sweep_cell *c, char *buf, size_t cap)
{
    int w = snprintf(buf, cap, "%s/cells/%s", out, c->key);
    BFC_ASSERT(w > 0 && (size_t)w < cap);
}

int file_exists(const char *dir, const char *name)
{
    char p[PATH_CAP];
    pjoin(p, sizeof p, dir, name);
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

int read_status(const char *dir, double *wall, double *cpu, char *reason, size_t cap)
{
    char p[PATH_CAP];
    pjoin(p, sizeof p, dir, "status.json");
    if (access(p, F_OK)) return -1;
    char *text = bfc_read_file(p, NULL);
    if (!text) return -1;
    bfc_json *j = bfc_json_parse(text, NULL, 0);
    free(text);
    if (!j) return -1;
    const char *st = bfc_json_string(bfc_json_get(j, "status"));
    int ok = st && !strcmp(st, "ok") && file_exists(dir, "result.csv");
    if (wall && bfc_json_number(bfc_json_get(j, "wall_s"), wall)) *wall = NAN;
    if (cpu && bfc_json_number(bfc_json_get(j, "cpu_s"), cpu)) *cpu = NAN;
    if (reason) {
        const char *r = bfc_json_string(bfc_json_get(j, "reason"));
        const bfc_json *tail = bfc_json_get(j, "stderr_tail");
        size_t nt = bfc_json_len(tail);
        const char *last = nt ? bfc_json_string(bfc_json_at(tail, nt - 1)) : NULL;
        snprintf(reason, cap, "%s%s%s", r ? r : "unknown", last ? ": " : "", last ? last : "");
    }
    int interrupted = st && !strcmp(st, "interrupted");
    bfc_json_free(j);
    return ok ? 1 : st && !interrupted ? 0 : -1;
}
