/*
 * Strings through libblkio's C API as a C program passes them: names and
 * values must be UTF-8 (libblkio takes &str), numbers plain decimal, and a
 * directory is no io_uring target.
 *
 *   ./strings FILE DIR      (FILE: a regular file, DIR: a directory)
 *
 * Prints "ok N - name" or "not ok N - name: ..." per check; exits 0 only
 * when every check passed.
 */
#define _GNU_SOURCE
#include <blkio.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int checks, failures;

static void report(int ok, const char *name) {
    checks++;
    if (!ok) failures++;
    printf("%sok %d - %s", ok ? "" : "not ", checks, name);
}

/* The call failed with -err and left a message. */
static void expect_err(const char *name, int got, int err) {
    report(got == -err && blkio_get_error_msg()[0] != '\0', name);
    if (got != -err) printf(": got %d, expected %d (\"%s\")", got, -err, blkio_get_error_msg());
    printf("\n");
}

static void expect_true(const char *name, int cond) {
    report(cond, name);
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE DIR\n", argv[0]);
        return 2;
    }
    struct blkio *b = NULL;
    expect_err("a driver name that is not UTF-8 is EINVAL", blkio_create("io_uring\xff", &b), EINVAL);
    expect_err("an unknown UTF-8 driver name is ENOENT", blkio_create("io_\xc3\xbcring", &b), ENOENT);
    if (blkio_create("io_uring", &b) < 0) return 1;
    expect_err("a property name that is not UTF-8 is EINVAL", blkio_set_bool(b, "read-only\xc0\xaf", true), EINVAL);
    expect_err("a surrogate in a property name is EINVAL", blkio_set_str(b, "path\xed\xa0\x80", "x"), EINVAL);
    expect_err("a truncated sequence in a property name is EINVAL", blkio_set_str(b, "path\xe2\x82", "x"), EINVAL);
    expect_err("an unknown UTF-8 property name is ENOENT", blkio_set_str(b, "p\xc3\xa4th", "x"), ENOENT);
    expect_err("a value that is not UTF-8 is EINVAL", blkio_set_str(b, "path", "/tmp/\xf8\x88\x80\x80\x80"), EINVAL);
    bool ro = true;
    blkio_get_bool(b, "read-only", &ro);
    expect_true("nothing was set: read-only is still false", !ro);

    expect_err("set_str(\"read-only\", \"1\") is EINVAL", blkio_set_str(b, "read-only", "1"), EINVAL);
    expect_err("a directory as path fails connect with EINVAL",
               (blkio_set_str(b, "path", argv[2]), blkio_connect(b)), EINVAL);
    blkio_destroy(&b);

    if (blkio_create("io_uring", &b) < 0 || blkio_set_str(b, "path", argv[1]) < 0 || blkio_connect(b) < 0) return 1;
    const char *bad[] = {" 2", "+2", "0x2", "2 ", "", "2\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "set_str(\"num-queues\", \"%s\") is EINVAL", bad[i]);
        expect_err(name, blkio_set_str(b, "num-queues", bad[i]), EINVAL);
    }
    int n = 0;
    blkio_get_int(b, "num-queues", &n);
    expect_true("num-queues is still 1", n == 1);
    blkio_destroy(&b);

    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
