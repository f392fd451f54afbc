/* test_sweep_cellfile.c: the sweep's strict reader of a cell's result.csv
 * (bfc_sweep_read_result): what it takes, and every way a damaged file is refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "sweep.h"

#define HEAD "method,d,L,n,seed,metric,value\n"
#define ROW(metric, value) "e2e,20,3,1000,0," metric "," value "\n"
#define GOOD                                                                                  \
    HEAD ROW("status", "ok") ROW("test_error", "0.00123") ROW("test_error_bulk", "0.001")     \
        ROW("share_2", "0.66") ROW("share_3", "0.064") ROW("feature_error_2_stage_2", "1e-3")

/* Read text; returns the status, the reason in reason[], the rows written in *rows_out. */
static int read_text(const char *text, bfc_sweep_result *r, char *reason, char **rows_out)
{
    size_t len = 0;
    char *buf = NULL;
    FILE *rows = open_memstream(&buf, &len);
    cr_assert_not_null(rows);
    int st = bfc_sweep_read_result(text, r, "e2e,L3,1000,0", rows, reason, 512);
    fclose(rows);
    *rows_out = buf;
    return st;
}

Test(sweep_cellfile, takes_the_errors_and_shares_and_copies_every_row)
{
    bfc_sweep_result r;
    char reason[512], *rows;
    cr_assert_eq(read_text(GOOD, &r, reason, &rows), BFC_OK, "%s", reason);
    cr_assert_float_eq(r.test_error, 0.00123, 1e-15);
    cr_assert_float_eq(r.test_error_bulk, 0.001, 1e-15);
    cr_assert_float_eq(r.share[2], 0.66, 1e-15);
    cr_assert_float_eq(r.share[3], 0.064, 1e-15);
    cr_assert(isnan(r.share[4]));
    cr_assert_eq(r.rows, 6);
    cr_assert_str_eq(rows, "e2e,L3,1000,0,status,ok\n"
                           "e2e,L3,1000,0,test_error,0.00123\n"
                           "e2e,L3,1000,0,test_error_bulk,0.001\n"
                           "e2e,L3,1000,0,share_2,0.66\n"
                           "e2e,L3,1000,0,share_3,0.064\n"
                           "e2e,L3,1000,0,feature_error_2_stage_2,1e-3\n");
    free(rows);
}

/* A refused file: the status, a reason containing want, and no row written. */
static void assert_refused(const char *text, const char *want)
{
    bfc_sweep_result r;
    char reason[512], *rows;
    cr_assert_eq(read_text(text, &r, reason, &rows), BFC_EFORMAT, "accepted: %s", text);
    cr_assert(strstr(reason, want), "reason '%s' lacks '%s'", reason, want);
    cr_assert_str_eq(rows, "", "rows were written for a refused file");
    free(rows);
}

Test(sweep_cellfile, refuses_values_that_are_not_finite_numbers)
{
    assert_refused(HEAD ROW("status", "ok") ROW("test_error", "nan"),
                   "line 3: value 'nan' is not a finite number");
    assert_refused(HEAD ROW("status", "ok") ROW("test_error", "1e999"), "'1e999'");
    assert_refused(HEAD ROW("status", "ok") ROW("test_error", "0.1") ROW("share_2", "-inf"),
                   "line 4");
    assert_refused(HEAD ROW("status", "ok") ROW("test_error", "0.1x"), "'0.1x'");
    assert_refused(HEAD ROW("status", "ok") ROW("test_error", ""), "line 3");
}

Test(sweep_cellfile, refuses_a_file_cut_short)
{
    /* mid-line: no newline at the end */
    assert_refused(HEAD ROW("status", "ok") "e2e,20,3,1000,0,test_err", "cut short");
    /* at a line boundary before the error */
    assert_refused(HEAD ROW("status", "ok"), "no test_error row");
    assert_refused(HEAD, "no status row");
    assert_refused("", "empty");
}

Test(sweep_cellfile, refuses_a_run_that_did_not_finish)
{
    assert_refused(HEAD ROW("status", "diverged") ROW("test_error", "0.5"),
                   "status is 'diverged'");
    assert_refused(HEAD ROW("status", "interrupted") ROW("test_error", "0.5"), "interrupted");
    assert_refused(HEAD ROW("test_error", "0.5"), "no status row");
}

Test(sweep_cellfile, refuses_a_malformed_header_or_row)
{
    assert_refused("method,metric,value\n" ROW("status", "ok"), "header");
    assert_refused(HEAD "e2e,20,3,1000,test_error,0.1\n", "line 2: expected 7 fields");
    assert_refused(HEAD "e2e,20,3,1000,0,0,test_error,0.1\n", "expected 7 fields");
    assert_refused(HEAD ROW("status", "ok") ROW("Test Error", "0.1"), "bad metric name");
    assert_refused(HEAD ROW("status", "ok") "e2e,20,3,1000,0,\"test_error\",0.1\n",
                   "expected 7 fields");
}
