/*
 * Every function taking a start and a length, at the edges of the 64-bit
 * space: ranges that end exactly at 2^64, wrap past it, or reach past the
 * largest device offset (2^63 - 1) are refused with EINVAL, and nothing
 * refused is recorded. Uses only <blkio.h> and libc.
 *
 *   cc range-bounds.c $(pkg-config --cflags --libs blkio) -o range-bounds
 *   ./range-bounds DRIVER PATH
 *
 * Prints "ok N - name" or "not ok N - name: why" per check, then
 * "N checks, M failed"; exits 0 only when every check passed.
 */
#define _GNU_SOURCE
#include <blkio.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int checks, failures;

static void report(int ok, const char *name, int got, int expected) {
    checks++;
    if (ok) {
        printf("ok %d - %s\n", checks, name);
        return;
    }
    failures++;
    printf("not ok %d - %s: got %d, expected %d (last error message: \"%s\")\n", checks, name, got,
           expected, blkio_get_error_msg());
}

#define EXPECT(name, call, expected)                      \
    do {                                                  \
        int got_ = (call);                                \
        report(got_ == (expected), name, got_, expected); \
    } while (0)

#define MUST(call)                                                                \
    do {                                                                          \
        int r_ = (call);                                                          \
        if (r_ < 0) {                                                             \
            printf("Bail out! %s: %d (%s)\n", #call, r_, blkio_get_error_msg()); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static struct blkioq *q;

/* The ret of the one request just queued. */
static int result(void) {
    struct blkio_completion c;
    struct timespec timeout = {10, 0};
    int n = blkioq_do_io(q, &c, 1, 1, &timeout);
    return n == 1 ? c.ret : -1000 + n;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DRIVER PATH\n", argv[0]);
        return 2;
    }
    struct blkio *b;
    MUST(blkio_create(argv[1], &b));
    MUST(blkio_set_str(b, "path", argv[2]));
    MUST(blkio_connect(b));
    MUST(blkio_start(b));
    q = blkio_get_queue(b, 0);
    uint64_t align;
    MUST(blkio_get_uint64(b, "mem-region-alignment", &align));
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (align < page) align = page;
    uintptr_t top = UINTPTR_MAX - (align - 1); /* the highest aligned address */

    /* Memory regions. */
    EXPECT("alloc_mem_region of SIZE_MAX is refused", blkio_alloc_mem_region(b, &(struct blkio_mem_region){0}, SIZE_MAX), -EINVAL);
    EXPECT("alloc_mem_region of 2^63 is refused", blkio_alloc_mem_region(b, &(struct blkio_mem_region){0}, (size_t)1 << 63), -EINVAL);

    struct blkio_mem_region real;
    MUST(blkio_alloc_mem_region(b, &real, align));

    struct blkio_mem_region wrap = real;
    wrap.len = SIZE_MAX - (align - 1); /* aligned, and addr + len wraps */
    EXPECT("map_mem_region of a region wrapping the address space is refused", blkio_map_mem_region(b, &wrap), -EINVAL);

    struct blkio_mem_region to_top = {(void *)top, align, 0, 0, -1, 0};
    EXPECT("map_mem_region of a region ending exactly at 2^64 is refused", blkio_map_mem_region(b, &to_top), -EINVAL);

    struct blkio_mem_region huge = {(void *)align, SIZE_MAX - (align - 1), 0, 0, -1, 0};
    EXPECT("map_mem_region of a region from the first page to past 2^64 is refused", blkio_map_mem_region(b, &huge), -EINVAL);

    /* Nothing refused was recorded: the real region maps, once. */
    EXPECT("the real region still maps after the refusals", blkio_map_mem_region(b, &real), 0);
    EXPECT("mapping it again is refused", blkio_map_mem_region(b, &real), -EINVAL);

    /* An unmap of a wrapping region is a no-op, and a free of one is refused. */
    blkio_unmap_mem_region(b, &wrap);
    blkio_free_mem_region(b, &wrap);
    EXPECT("the real region is still mapped after unmap/free of a wrapping one", blkio_map_mem_region(b, &real), -EINVAL);

    /* Requests: the largest device offset is 2^63 - 1. */
    const uint64_t max_off = (uint64_t)INT64_MAX;
    void *buf = real.addr;

    blkioq_read(q, UINT64_MAX, buf, 512, NULL, 0);
    EXPECT("read at 2^64 - 1 fails with EINVAL", result(), -EINVAL);
    blkioq_read(q, max_off - 511, buf, 512, NULL, 0);
    EXPECT("read ending at 2^63 fails with EINVAL", result(), -EINVAL);
    blkioq_write(q, UINT64_MAX - 511, buf, 512, NULL, 0);
    EXPECT("write ending exactly at 2^64 fails with EINVAL", result(), -EINVAL);
    blkioq_write(q, (uint64_t)1 << 63, buf, 512, NULL, 0);
    EXPECT("write at 2^63 fails with EINVAL", result(), -EINVAL);

    struct iovec two_halves[2] = {{buf, SIZE_MAX / 2 + 1}, {buf, SIZE_MAX / 2 + 1}};
    blkioq_readv(q, 0, two_halves, 2, NULL, 0);
    EXPECT("readv whose iovecs add up past 2^64 fails with EINVAL", result(), -EINVAL);
    struct iovec past_ssize[2] = {{buf, (size_t)INT64_MAX}, {buf, 1}};
    blkioq_writev(q, 0, past_ssize, 2, NULL, 0);
    EXPECT("writev whose iovecs add up to 2^63 fails with EINVAL", result(), -EINVAL);
    struct iovec one = {buf, 512};
    blkioq_writev(q, UINT64_MAX - 511, &one, 1, NULL, 0);
    EXPECT("writev ending exactly at 2^64 fails with EINVAL", result(), -EINVAL);

    blkioq_write_zeroes(q, 4096, UINT64_MAX, NULL, 0);
    EXPECT("write_zeroes whose range wraps fails with EINVAL", result(), -EINVAL);
    blkioq_write_zeroes(q, 0, max_off + 1, NULL, 0);
    EXPECT("write_zeroes of 2^63 bytes fails with EINVAL", result(), -EINVAL);
    blkioq_discard(q, UINT64_MAX, 1, NULL, 0);
    EXPECT("discard ending exactly at 2^64 fails with EINVAL", result(), -EINVAL);
    blkioq_discard(q, 1, UINT64_MAX, NULL, 0);
    EXPECT("discard whose range wraps fails with EINVAL", result(), -EINVAL);

    /* In range, the same calls work. */
    memset(buf, 0x5a, 512);
    blkioq_write(q, 0, buf, 512, NULL, 0);
    EXPECT("a write at 0 still works", result(), 0);
    blkioq_read(q, 0, buf, 512, NULL, 0);
    EXPECT("a read at 0 still works", result(), 0);

    blkio_unmap_mem_region(b, &real);
    blkio_free_mem_region(b, &real);
    blkio_destroy(&b);
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
