/*
 * What fio's libblkio engine does with iodepth above num-entries: queue N
 * requests, then one blkioq_do_io(q, c, N, N, &timeout). Every request must
 * complete exactly once; the 30 s timeout only bounds a regression (a hang).
 *
 *   ./do-io-backlog PATH NUM-ENTRIES TOTAL     (PATH: a file of at least 4 MiB)
 *
 * Prints "ok ..." and exits 0, or "not ok ..." and exits 1.
 */
#define _GNU_SOURCE
#include <blkio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 4096
#define REGION (4 << 20)

static int bail(const char *what, int r) {
    printf("not ok - %s: %d (%s)\n", what, r, blkio_get_error_msg());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s PATH NUM-ENTRIES TOTAL\n", argv[0]);
        return 2;
    }
    int total = atoi(argv[3]);
    struct blkio *b;
    int r;
    if ((r = blkio_create("io_uring", &b)) < 0) return bail("create", r);
    if ((r = blkio_set_str(b, "path", argv[1])) < 0) return bail("set path", r);
    if ((r = blkio_set_bool(b, "direct", true)) < 0) return bail("set direct", r);
    if ((r = blkio_connect(b)) < 0) return bail("connect", r);
    if ((r = blkio_set_str(b, "num-entries", argv[2])) < 0) return bail("set num-entries", r);
    if ((r = blkio_start(b)) < 0) return bail("start", r);
    struct blkio_mem_region region;
    if ((r = blkio_alloc_mem_region(b, &region, REGION)) < 0) return bail("alloc", r);
    if ((r = blkio_map_mem_region(b, &region)) < 0) return bail("map", r);
    struct blkioq *q = blkio_get_queue(b, 0);

    int blocks = REGION / BLOCK;
    for (int i = 0; i < total; i++) {
        char *buf = (char *)region.addr + (size_t)(i % blocks) * BLOCK;
        void *ud = (void *)(uintptr_t)(i + 1);
        if (i % 5 == 4) blkioq_flush(q, ud, 0);
        else blkioq_read(q, (uint64_t)(i % blocks) * BLOCK, buf, BLOCK, ud, 0);
    }
    struct blkio_completion *c = calloc((size_t)total, sizeof *c);
    unsigned char *counts = calloc((size_t)total, 1);
    struct timespec timeout = {30, 0};
    int n = blkioq_do_io(q, c, total, total, &timeout);
    if (n != total) return bail("do_io(min = max = total) returned", n);
    for (int i = 0; i < n; i++) {
        uintptr_t ud = (uintptr_t)c[i].user_data;
        if (ud < 1 || ud > (uintptr_t)total || c[i].ret != 0) return bail("a completion is wrong", c[i].ret);
        counts[ud - 1]++;
    }
    for (int i = 0; i < total; i++)
        if (counts[i] != 1) return bail("a request completed a wrong number of times", counts[i]);
    struct timespec zero = {0, 0};
    if ((r = blkioq_do_io(q, c, 0, total, &zero)) != 0) return bail("completions beyond the requests", r);
    printf("ok - %d requests through num-entries %s, each completed once\n", total, argv[2]);
    free(counts);
    free(c);
    blkio_destroy(&b);
    return 0;
}
