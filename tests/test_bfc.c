/* test_bfc.c: the common pieces of libbfc: durations for progress lines and FNV-1a hashing. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "bfc.h"

Test(bfc, durations_read_as_seconds_minutes_or_hours_and_never_round_up_to_sixty)
{
    char buf[32];
    bfc_format_duration(42.4, buf, sizeof buf);
    cr_expect_str_eq(buf, "42s");
    bfc_format_duration(119.7, buf, sizeof buf);
    cr_expect_str_eq(buf, "1m59s");
    bfc_format_duration(2 * 3600 + 5 * 60 + 59.9, buf, sizeof buf);
    cr_expect_str_eq(buf, "2h05m");
    bfc_format_duration(-1, buf, sizeof buf);
    cr_expect_str_eq(buf, "?");
    bfc_format_duration(NAN, buf, sizeof buf);
    cr_expect_str_eq(buf, "?");
}

Test(bfc, fnv1a64_matches_the_published_test_vectors_and_chains)
{
    cr_expect_eq(bfc_fnv1a64(BFC_FNV1A64_INIT, "", 0), 0xcbf29ce484222325ull);
    cr_expect_eq(bfc_fnv1a64(BFC_FNV1A64_INIT, "a", 1), 0xaf63dc4c8601ec8cull);
    cr_expect_eq(bfc_fnv1a64(BFC_FNV1A64_INIT, "foobar", 6), 0x85944171f73967e8ull);
    /* hashing in two pieces is hashing the whole */
    uint64_t h = bfc_fnv1a64(BFC_FNV1A64_INIT, "foo", 3);
    cr_expect_eq(bfc_fnv1a64(h, "bar", 3), 0x85944171f73967e8ull);
}
