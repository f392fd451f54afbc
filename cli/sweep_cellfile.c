/* sweep_cellfile.c: the strict reader of a cell's result.csv, the one file of a cell whose
 * numbers the aggregation uses. A file that is cut short, holds a value that is not a finite
 * number, or says the run did not finish is refused with the line and the reason, so that a
 * corrupted or partial cell is reported as failed instead of entering a median. */
#include "sweep.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"

#define RESULT_HEADER "method,d,L,n,seed,metric,value"
#define RESULT_FIELDS 7
#define FIELD_CAP 128 /* longest field accepted (method names and metrics are short) */

static int refuse(char *reason, size_t cap, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(char *reason, size_t cap, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(reason, cap, "result.csv line %d: %s", line, msg);
    else
        snprintf(reason, cap, "result.csv: %s", msg);
    return BFC_EFORMAT;
}

/* A metric name: lower-case letters, digits and '_', starting with a letter. */
static int metric_ok(const char *m)
{
    if (!islower((unsigned char)m[0])) return 0;
    for (const char *p = m; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_') return 0;
    return 1;
}

/* Split line[0..len) at commas into exactly RESULT_FIELDS fields; 0 if the count or a
 * field's length is wrong. */
static int split_row(const char *line, size_t len, char f[RESULT_FIELDS][FIELD_CAP])
{
    int nf = 0;
    size_t k = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || line[i] == ',') {
            if (nf == RESULT_FIELDS) return 0;
            f[nf++][k] = '\0';
            k = 0;
            continue;
        }
        if (k + 1 >= FIELD_CAP || line[i] == '\0' || line[i] == '"') return 0;
        if (nf < RESULT_FIELDS) f[nf][k++] = line[i];
    }
    return nf == RESULT_FIELDS;
}

/* One pass over the text; with rows non-NULL, writes "PREFIX,metric,value\n" per data row. */
static int read_pass(const char *text, bfc_sweep_result *r, const char *prefix, FILE *rows,
                     char *reason, size_t cap)
{
    const char *p = text;
    int line = 0, have_status = 0;
    for (int l = 0; l <= BFC_MAX_L; l++) r->share[l] = NAN;
    r->test_error = r->test_error_bulk = NAN;
    r->rows = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        line++;
        if (!nl) return refuse(reason, cap, line, "no newline at the end (file cut short)");
        const size_t len = (size_t)(nl - p);
        if (line == 1) {
            if (len != strlen(RESULT_HEADER) || memcmp(p, RESULT_HEADER, len))
                return refuse(reason, cap, 1, "the header is not '%s'", RESULT_HEADER);
            p = nl + 1;
            continue;
        }
        char f[RESULT_FIELDS][FIELD_CAP];
        if (!split_row(p, len, f))
            return refuse(reason, cap, line, "expected %d fields method,d,L,n,seed,metric,value",
                          RESULT_FIELDS);
        const char *metric = f[5], *value = f[6];
        if (!metric_ok(metric)) return refuse(reason, cap, line, "bad metric name '%s'", metric);
        if (!strcmp(metric, "status")) {
            if (strcmp(value, "ok"))
                return refuse(reason, cap, line, "the run's status is '%s', not ok", value);
            have_status = 1;
        } else {
            char *end = NULL;
            errno = 0;
            const double x = strtod(value, &end);
            if (!value[0] || *end || !isfinite(x))
                return refuse(reason, cap, line, "value '%s' is not a finite number", value);
            if (!strcmp(metric, "test_error")) r->test_error = x;
            if (!strcmp(metric, "test_error_bulk")) r->test_error_bulk = x;
            int l2 = 0, used = 0;
            if (sscanf(metric, "share_%d%n", &l2, &used) == 1 && !metric[used] && l2 >= 2 &&
                l2 <= BFC_MAX_L)
                r->share[l2] = x;
        }
        if (rows) fprintf(rows, "%s,%s,%s\n", prefix, metric, value);
        r->rows++;
        p = nl + 1;
    }
    if (line == 0) return refuse(reason, cap, 0, "empty");
    if (!have_status)
        return refuse(reason, cap, 0, "no status row (written by an older bfc, or cut short)");
    if (isnan(r->test_error)) return refuse(reason, cap, 0, "no test_error row (cut short?)");
    return BFC_OK;
}

int bfc_sweep_read_result(const char *text, bfc_sweep_result *r, const char *prefix, FILE *rows,
                          char *reason, size_t cap)
{
    if (cap) reason[0] = '\0';
    int st = read_pass(text, r, prefix, NULL, reason, cap);
    if (st || !rows) return st;
    return read_pass(text, r, prefix, rows, reason, cap);
}
