/* test_npy.c: .npy round trips, hand-written headers (f4, versions 2.0/3.0), rejection of
 * malformed files with the file named, and exchange with NumPy when it is installed. */
#include "bfc.h"
#include "fsutil.h"
#include "npy.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[512];

static void make_scratch(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/bfc_npy_XXXXXX", t && *t ? t : "/tmp");
    cr_assert_not_null(mkdtemp(scratch), "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void remove_scratch(void) { nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char *in_scratch(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    cr_assert_eq(bfc_path_join(buf[k], sizeof buf[k], scratch, name), BFC_OK);
    return buf[k];
}

/* Write a .npy file by hand: preamble of the given version, the header text as given
 * (no padding added), then len bytes of data. */
static void write_raw(const char *path, int major, const char *header, const void *data,
                      size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    size_t hl = strlen(header);
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    pre[8] = (unsigned char)(hl & 0xff);
    pre[9] = (unsigned char)((hl >> 8) & 0xff);
    pre[10] = (unsigned char)((hl >> 16) & 0xff);
    pre[11] = (unsigned char)((hl >> 24) & 0xff);
    fwrite(pre, 1, major == 1 ? 10 : 12, f);
    fwrite(header, 1, hl, f);
    if (len) fwrite(data, 1, len, f);
    fclose(f);
}

/* Loading path must fail with code, and the message must name the file and contain want. */
static void load_fails(const char *path, int code, const char *want)
{
    double *a = (double *)&a; /* anything non-NULL: must come back NULL */
    int nd = -1;
    size_t sh[2] = {7, 7};
    int st = bfc_npy_load(path, &a, &nd, sh);
    cr_assert_eq(st, code, "status %d (want %d): %s", st, code, bfc_last_error());
    cr_assert_null(a);
    cr_assert(strstr(bfc_last_error(), path), "message does not name the file: %s",
              bfc_last_error());
    cr_assert(strstr(bfc_last_error(), want), "message: %s\nwant it to mention: %s",
              bfc_last_error(), want);
}

TestSuite(npy, .init = make_scratch, .fini = remove_scratch);

Test(npy, round_trips_a_1d_array)
{
    double x[5] = {0.1, -2.5, 1e-300, 3.0e300, -0.0};
    size_t shape[1] = {5};
    char *p = in_scratch("x.npy");
    cr_assert_eq(bfc_npy_save(p, x, 1, shape), BFC_OK, "%s", bfc_last_error());
    double *a;
    int nd;
    size_t sh[2];
    cr_assert_eq(bfc_npy_load(p, &a, &nd, sh), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(nd, 1);
    cr_assert_eq(sh[0], 5);
    cr_assert_eq(sh[1], 1);
    cr_assert_eq(memcmp(a, x, sizeof x), 0);
    bfc_free(a);
}

Test(npy, round_trips_a_2d_array)
{
    enum { R = 37, C = 11 };
    double *x = bfc_alloc_d(R * C);
    for (int i = 0; i < R * C; i++) x[i] = (i % 7 - 3) * 0.37 + i * 1e-3;
    size_t shape[2] = {R, C};
    char *p = in_scratch("w.npy");
    cr_assert_eq(bfc_npy_save(p, x, 2, shape), BFC_OK, "%s", bfc_last_error());
    double *a;
    int nd;
    size_t sh[2];
    cr_assert_eq(bfc_npy_load(p, &a, &nd, sh), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(nd, 2);
    cr_assert_eq(sh[0], R);
    cr_assert_eq(sh[1], C);
    cr_assert_eq(memcmp(a, x, sizeof(double) * R * C), 0);
    bfc_free(a);
    bfc_free(x);
}

Test(npy, writes_the_header_numpy_writes)
{
    double x[6] = {1, 2, 3, 4, 5, 6};
    size_t shape[2] = {2, 3};
    char *p = in_scratch("h.npy");
    cr_assert_eq(bfc_npy_save(p, x, 2, shape), BFC_OK);
    size_t n;
    char *s = bfc_read_file(p, &n);
    cr_assert_not_null(s);
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
    cr_assert_eq(n, 128 + sizeof x, "data must start at a multiple of 64 bytes");
    cr_assert_eq(memcmp(s, "\x93NUMPY\x01\x00\x76\x00", 10), 0, "preamble, header length 118");
    cr_assert_eq(memcmp(s + 10, dict, strlen(dict)), 0);
    for (size_t i = 10 + strlen(dict); i < 127; i++) cr_assert_eq(s[i], ' ');
    cr_assert_eq(s[127], '\n');
    cr_assert_eq(memcmp(s + 128, x, sizeof x), 0);
    free(s);
}

Test(npy, round_trips_float32_through_double)
{
    float x[4] = {0.1f, -1.5f, 3.4e38f, 1e-45f};
    size_t shape[2] = {2, 2};
    char *p = in_scratch("f.npy");
    cr_assert_eq(bfc_npy_save_f32(p, x, 2, shape), BFC_OK, "%s", bfc_last_error());
    double *a;
    int nd;
    size_t sh[2];
    cr_assert_eq(bfc_npy_load(p, &a, &nd, sh), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(nd, 2);
    for (int i = 0; i < 4; i++) cr_assert_eq(a[i], (double)x[i]);
    bfc_free(a);
}

Test(npy, loads_a_hand_written_f4_header)
{
    /* other key order, double quotes, no trailing comma, no padding */
    float x[3] = {1.5f, -2.0f, 0.25f};
    char *p = in_scratch("hand.npy");
    write_raw(p, 1, "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}\n", x, sizeof x);
    double *a;
    int nd;
    size_t sh[2];
    cr_assert_eq(bfc_npy_load(p, &a, &nd, sh), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(nd, 1);
    cr_assert_eq(sh[0], 3);
    cr_assert_eq(a[0], 1.5);
    cr_assert_eq(a[1], -2.0);
    cr_assert_eq(a[2], 0.25);
    bfc_free(a);
}

Test(npy, reads_version_2_and_3_headers)
{
    double x[2] = {4.0, 5.0};
    for (int major = 2; major <= 3; major++) {
        char *p = in_scratch(major == 2 ? "v2.npy" : "v3.npy");
        write_raw(p, major, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }\n", x,
                  sizeof x);
        double *a;
        int nd;
        size_t sh[2];
        cr_assert_eq(bfc_npy_load(p, &a, &nd, sh), BFC_OK, "v%d: %s", major, bfc_last_error());
        cr_assert_eq(nd, 2);
        cr_assert_eq(sh[0], 1);
        cr_assert_eq(sh[1], 2);
        cr_assert_eq(a[1], 5.0);
        bfc_free(a);
    }
}

Test(npy, round_trips_empty_arrays)
{
    size_t s1[1] = {0}, s2[2] = {0, 3};
    char *p = in_scratch("e.npy");
    double *a;
    int nd;
    size_t sh[2];
    cr_assert_eq(bfc_npy_save(p, NULL, 1, s1), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(bfc_npy_load(p, &a, &nd, sh), BFC_OK, "%s", bfc_last_error());
    cr_assert(nd == 1 && sh[0] == 0);
    bfc_free(a);
    cr_assert_eq(bfc_npy_save(p, NULL, 2, s2), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(bfc_npy_load(p, &a, &nd, sh), BFC_OK, "%s", bfc_last_error());
    cr_assert(nd == 2 && sh[0] == 0 && sh[1] == 3);
    bfc_free(a);
}

Test(npy, save_rejects_other_ranks)
{
    double x[8] = {0};
    size_t shape[3] = {2, 2, 2};
    cr_assert_eq(bfc_npy_save(in_scratch("r3.npy"), x, 3, shape), BFC_EINVAL);
    cr_assert(strstr(bfc_last_error(), "3-d"), "%s", bfc_last_error());
    cr_assert_eq(bfc_npy_save(in_scratch("r0.npy"), x, 0, shape), BFC_EINVAL);
    cr_assert_eq(access(in_scratch("r3.npy"), F_OK), -1);
}

Test(npy, rejects_a_missing_file)
{
    load_fails(in_scratch("nope.npy"), BFC_EIO, "No such file");
}

Test(npy, rejects_a_truncated_file)
{
    double x[6] = {1, 2, 3, 4, 5, 6};
    size_t shape[2] = {2, 3};
    char *p = in_scratch("t.npy");
    cr_assert_eq(bfc_npy_save(p, x, 2, shape), BFC_OK);
    cr_assert_eq(truncate(p, 128 + 40), 0);
    load_fails(p, BFC_EFORMAT, "truncated: shape (2, 3) of <f8 needs 48 data bytes but the "
                               "file holds 40");
    cr_assert_eq(truncate(p, 60), 0);
    load_fails(p, BFC_EFORMAT, "truncated header");
    cr_assert_eq(truncate(p, 7), 0);
    load_fails(p, BFC_EFORMAT, "truncated");
    cr_assert_eq(truncate(p, 0), 0);
    load_fails(p, BFC_EFORMAT, "truncated");
}

Test(npy, rejects_trailing_bytes)
{
    double x[3] = {1, 2, 3};
    char *p = in_scratch("long.npy");
    write_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", x, sizeof x);
    load_fails(p, BFC_EFORMAT, "too long");
}

Test(npy, rejects_bad_magic)
{
    char *p = in_scratch("magic.npy");
    cr_assert_eq(bfc_write_file_atomic(p, "\x93NUMPZ\x01\x00\x10\x00{}             \n", 26),
                 BFC_OK);
    load_fails(p, BFC_EFORMAT, "bad magic");
    cr_assert_eq(bfc_write_file_atomic(p, "a,b,c\n1,2,3\n", 12), BFC_OK);
    load_fails(p, BFC_EFORMAT, "not a .npy file");
}

Test(npy, rejects_an_unknown_version)
{
    char *p = in_scratch("v4.npy");
    write_raw(p, 4, "{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }\n", NULL, 0);
    load_fails(p, BFC_EFORMAT, "version 4.0 not supported");
}

Test(npy, rejects_fortran_order)
{
    double x[4] = {1, 2, 3, 4};
    char *p = in_scratch("fo.npy");
    write_raw(p, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }\n", x, sizeof x);
    load_fails(p, BFC_EFORMAT, "fortran_order True not supported");
}

Test(npy, rejects_other_dtypes_naming_them)
{
    int64_t x[2] = {1, 2};
    char *p = in_scratch("i8.npy");
    write_raw(p, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n", x, sizeof x);
    char want[1100];
    snprintf(want, sizeof want, "%s: dtype '<i8' not supported (need <f8 or <f4)", p);
    load_fails(p, BFC_EFORMAT, want);
    write_raw(p, 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }\n", x, sizeof x);
    load_fails(p, BFC_EFORMAT, "dtype '>f8' not supported");
    write_raw(p, 1, "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }\n", x,
              sizeof x);
    load_fails(p, BFC_EFORMAT, "structured dtype");
}

Test(npy, rejects_garbage_headers)
{
    double x[2] = {1, 2};
    char *p = in_scratch("g.npy");
    const char *bad[][2] = {
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), } junk\n", "after the dict"},
        {"descr: <f8\n", "expected a dict"},
        {"{'descr': '<f8', 'fortran_order': False}\n", "missing key 'shape'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}\n",
         "unexpected or repeated key 'extra'"},
        {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\n",
         "repeated key 'descr'"},
        {"{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2,)}\n", "True or False"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': [2]}\n", "must be a tuple"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2 3)}\n", "expected ',' or ')'"},
        {"{'descr': '<f8' 'fortran_order': False, 'shape': (2,)}\n", "expected ',' or '}'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}\n", "non-negative"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), \n", "expected a quoted key"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,)\n", "expected ',' or '}'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_raw(p, 1, bad[i][0], x, sizeof x);
        load_fails(p, BFC_EFORMAT, bad[i][1]);
    }
    write_raw(p, 1, "", x, sizeof x);
    load_fails(p, BFC_EFORMAT, "header length 0");
}

Test(npy, rejects_0d_and_3d_arrays)
{
    double x[8] = {0};
    char *p = in_scratch("nd.npy");
    write_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }\n", x, 8);
    load_fails(p, BFC_EFORMAT, "0-d array not supported");
    write_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }\n", x,
              sizeof x);
    load_fails(p, BFC_EFORMAT, "3-d array not supported");
}

Test(npy, rejects_absurd_shapes_before_allocating)
{
    double x[2] = {0};
    char *p = in_scratch("huge.npy");
    write_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}\n",
              x, sizeof x);
    load_fails(p, BFC_EFORMAT, "absurdly large");
    write_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}\n",
              x, sizeof x);
    load_fails(p, BFC_EFORMAT, "absurdly large");
    write_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000)}\n", x,
              sizeof x);
    load_fails(p, BFC_EFORMAT, "needs 8000000000000 data bytes but the file holds 16");
}

/* The Python to run: $BFC_PYTHON if set, else python3 from PATH. */
static const char *python(void)
{
    const char *p = getenv("BFC_PYTHON");
    return p && *p ? p : "python3";
}

static int have_numpy(void)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import numpy' >/dev/null 2>&1", python());
    return system(cmd) == 0;
}

/* NumPy reads what we write and we read what NumPy writes (skipped without NumPy). */
Test(npy, exchanges_files_with_numpy)
{
    if (!have_numpy()) {
        /* fprintf, not cr_log_warn: Criterion 2.4 exits 1 after a logged-then-skipped test */
        fprintf(stderr, "npy::exchanges_files_with_numpy skipped: numpy not importable by %s "
                        "(set BFC_PYTHON to choose another Python)\n", python());
        cr_skip_test("numpy not available");
    }
    double x[6] = {0.1, -2.0, 1e-300, 3.0, 4.5, -0.0};
    float y[3] = {0.1f, 2.0f, -3.5f};
    size_t s2[2] = {2, 3}, s1[1] = {3};
    cr_assert_eq(bfc_npy_save(in_scratch("ours.npy"), x, 2, s2), BFC_OK);
    cr_assert_eq(bfc_npy_save_f32(in_scratch("ours32.npy"), y, 1, s1), BFC_OK);

    const char *script =
        "import sys, numpy as np\n"
        "d = sys.argv[1]\n"
        "a = np.load(d + '/ours.npy')\n"
        "assert a.dtype == np.float64 and a.shape == (2, 3), (a.dtype, a.shape)\n"
        "want = np.array([[0.1, -2.0, 1e-300], [3.0, 4.5, -0.0]])\n"
        "assert a.tobytes() == want.tobytes(), a\n"
        "b = np.load(d + '/ours32.npy')\n"
        "assert b.dtype == np.float32 and b.shape == (3,)\n"
        "assert (b == np.array([0.1, 2.0, -3.5], dtype=np.float32)).all()\n"
        "np.save(d + '/theirs.npy', np.arange(12.0).reshape(3, 4) / 7)\n"
        "np.save(d + '/theirs32.npy', (np.arange(5) / 3).astype(np.float32))\n"
        "np.save(d + '/theirs_t.npy', np.asfortranarray(np.arange(6.0).reshape(2, 3)))\n"
        "np.save(d + '/theirs_i.npy', np.arange(3))\n"
        "print('numpy', np.__version__, 'ok')\n";
    char *sp = in_scratch("exchange.py");
    cr_assert_eq(bfc_write_file_atomic(sp, script, strlen(script)), BFC_OK);
    char cmd[3300];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", python(), sp, scratch);
    cr_assert_eq(system(cmd), 0, "numpy could not read our files (see its output above)");

    double *a;
    int nd;
    size_t sh[2];
    cr_assert_eq(bfc_npy_load(in_scratch("theirs.npy"), &a, &nd, sh), BFC_OK, "%s",
                 bfc_last_error());
    cr_assert(nd == 2 && sh[0] == 3 && sh[1] == 4);
    for (int i = 0; i < 12; i++) cr_assert_eq(a[i], (double)i / 7);
    bfc_free(a);
    cr_assert_eq(bfc_npy_load(in_scratch("theirs32.npy"), &a, &nd, sh), BFC_OK, "%s",
                 bfc_last_error());
    cr_assert(nd == 1 && sh[0] == 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(a[i], (double)(float)((double)i / 3));
    bfc_free(a);
    load_fails(in_scratch("theirs_t.npy"), BFC_EFORMAT, "fortran_order True");
    load_fails(in_scratch("theirs_i.npy"), BFC_EFORMAT, "dtype '<i8' not supported");
}
