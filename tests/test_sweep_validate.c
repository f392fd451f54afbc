/* test_sweep_validate.c: a sweep configuration is refused before any cell runs when a cell
 * could not run: a command that is not a bfc command producing results, a flag the command
 * does not know or a value it refuses, text that is not UTF-8. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "bfc.h"
#include "fsutil.h"
#include "scratch.h"
#include "sweep.h"

#define CONFIG(methods)                                                                        \
    "{\"name\": \"v\", \"targets\": [{\"name\": \"T\", \"d\": 8, \"L\": 3}], \"n\": [1000], " \
    "\"seeds\": [0], \"methods\": [" methods "]}"

/* Parse and expand text; BFC_OK or the first failing status, the message in bfc_last_error. */
static int parse_expand(const char *text)
{
    int st = BFC_OK;
    bfc_sweep *s = bfc_sweep_parse(text, "cfg.json", &st);
    if (!s) return st;
    st = bfc_sweep_expand(s);
    bfc_sweep_free(s);
    return st;
}

static void assert_refused(const char *text, const char *want)
{
    int st = parse_expand(text);
    cr_assert_eq(st, BFC_EINVAL, "accepted (status %d): %s", st, text);
    cr_assert(strstr(bfc_last_error(), want), "message '%s' lacks '%s'", bfc_last_error(), want);
}

Test(sweep_validate, accepts_train_and_fit_methods_whose_flags_the_commands_take)
{
    cr_assert_eq(parse_expand(CONFIG("{\"name\": \"e2e\", \"command\": \"train\", \"args\": "
                                     "{\"schedule\": \"e2e\", \"steps\": 100}},"
                                     "{\"name\": \"krr\", \"command\": \"fit\", \"args\": "
                                     "{\"method\": \"krr\", \"kernel\": \"rbf\"}}")),
                 BFC_OK, "%s", bfc_last_error());
}

Test(sweep_validate, refuses_a_command_that_is_not_train_or_fit)
{
    assert_refused(CONFIG("{\"name\": \"x\", \"command\": \"rm\"}"), "'rm'");
    assert_refused(CONFIG("{\"name\": \"x\", \"command\": \"gen\"}"), "'gen'");
}

Test(sweep_validate, refuses_a_misspelt_flag_inside_a_methods_arguments)
{
    assert_refused(CONFIG("{\"name\": \"e2e\", \"command\": \"train\", \"args\": "
                          "{\"schedul\": \"e2e\"}}"),
                   "--schedul");
    assert_refused(CONFIG("{\"name\": \"k\", \"command\": \"fit\", \"args\": "
                          "{\"method\": \"krr\", \"kernal\": \"rbf\"}}"),
                   "--kernal");
}

Test(sweep_validate, refuses_a_value_the_command_would_refuse)
{
    assert_refused(CONFIG("{\"name\": \"e2e\", \"command\": \"train\", \"args\": "
                          "{\"steps\": 0}}"),
                   "--steps");
    assert_refused(CONFIG("{\"name\": \"k\", \"command\": \"fit\", \"args\": "
                          "{\"method\": \"krr\", \"width\": 64}}"),
                   "--width");
}

Test(sweep_validate, refuses_text_that_is_not_utf8)
{
    int st = BFC_OK;
    bfc_sweep *s = bfc_sweep_parse("{\"name\": \"v\", \"description\": \"bad \xff\xfe\"}",
                                   "cfg.json", &st);
    cr_assert_null(s);
    cr_assert_neq(st, BFC_OK);
    cr_assert(strstr(bfc_last_error(), "cfg.json:1:"), "%s", bfc_last_error());
}

Test(sweep_validate, infers_the_role_of_each_schedule_and_the_ablation_is_no_joint_run)
{
    int st = BFC_OK;
    bfc_sweep *s = bfc_sweep_parse(
        CONFIG("{\"name\": \"a\", \"command\": \"train\", \"args\": {\"schedule\": \"e2e\"}},"
               "{\"name\": \"b\", \"command\": \"train\", \"args\": {\"schedule\": \"joint\"}},"
               "{\"name\": \"c\", \"command\": \"train\", \"args\": {\"schedule\": \"refit\"}},"
               "{\"name\": \"d\", \"command\": \"train\", \"args\": {\"schedule\": "
               "\"featonly\"}}"),
        "cfg.json", &st);
    cr_assert_not_null(s, "%s", bfc_last_error());
    cr_assert_eq(bfc_sweep_expand(s), BFC_OK, "%s", bfc_last_error());
    char *dir = bfc_test_tmpdir("bfc-sweep-roles");
    cr_assert_eq(bfc_sweep_write_results(s, dir, NULL), BFC_OK, "%s", bfc_last_error());
    char path[4200];
    snprintf(path, sizeof path, "%s/REPORT.md", dir);
    char *report = bfc_read_file(path, NULL);
    cr_assert_not_null(report);
    cr_assert(strstr(report, "| a | e2e |") && strstr(report, "| b | joint |") &&
                  strstr(report, "| c | other |") && strstr(report, "| d | other |"),
              "%s", report);
    free(report);
    free(dir);
    bfc_sweep_free(s);
}
