/*
 * The C ABI's extension for moving requests to another device: quiesce a
 * queue, let its device finish what it holds, take back the rest in order.
 *
 *   ./quiesce-handover PATH     (PATH: a file of at least 1 MiB)
 *
 * Prints "ok ..." and exits 0, or "not ok ..." and exits 1.
 */
#define _GNU_SOURCE
#include <blkio.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BLOCK 4096
#define TOTAL 16

static int fail(const char *what, long got) {
    printf("not ok - %s: %ld (%s)\n", what, got, blkio_get_error_msg());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    static char bufs[TOTAL][BLOCK];
    struct blkio *b;
    int r;
    if ((r = blkio_create("io_uring", &b)) < 0) return fail("create", r);
    if ((r = blkio_set_str(b, "path", argv[1])) < 0) return fail("set path", r);
    if ((r = blkio_connect(b)) < 0) return fail("connect", r);
    if ((r = blkio_set_int(b, "num-entries", 4)) < 0) return fail("set num-entries", r);
    if ((r = blkio_start(b)) < 0) return fail("start", r);
    struct blkioq *q = blkio_get_queue(b, 0);

    for (int i = 0; i < TOTAL; i++)
        blkioq_write(q, (uint64_t)i * BLOCK, bufs[i], BLOCK, (void *)(uintptr_t)(i + 1), 0);
    struct blkio_completion c[TOTAL];
    int done = blkioq_do_io(q, c, 0, TOTAL, NULL); /* the ring takes 4, the queue keeps 12 */
    if (done < 0) return fail("do_io", done);
    blkioq_set_quiesced(q, true);
    while (blkioq_get_in_flight(q) > 0) {
        r = blkioq_do_io(q, c + done, 1, TOTAL - done, NULL);
        if (r < 0) return fail("do_io while quiesced", r);
        done += r;
    }
    /* Completions come in order of submission here: 1..done. */
    for (int i = 0; i < done; i++)
        if (c[i].ret != 0) return fail("completion ret", c[i].ret);
    void *taken[TOTAL];
    int n = blkioq_take_unsubmitted(q, taken, TOTAL);
    if (n != TOTAL - done) return fail("taken count", n);
    if (n == 0) return fail("nothing was kept back by the 4-entry ring", n);
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < done; j++) found |= c[j].user_data == taken[i];
        if (found) return fail("a taken request had completed", (long)(uintptr_t)taken[i]);
        if (i > 0 && (uintptr_t)taken[i] <= (uintptr_t)taken[i - 1]) return fail("taken out of order", i);
    }
    blkioq_set_quiesced(q, false);
    if ((r = blkioq_do_io(q, c, 0, TOTAL, NULL)) != 0) return fail("completions after the hand-over", r);
    if ((r = blkioq_take_unsubmitted(q, NULL, 1)) != -EINVAL) return fail("NULL user_data", r);
    if ((r = blkioq_take_unsubmitted(q, taken, -1)) != -EINVAL) return fail("negative max", r);
    if ((r = blkioq_take_unsubmitted(q, NULL, 0)) != 0) return fail("max 0", r);
    blkio_destroy(&b);
    printf("ok - %d completed on the device, %d taken back in order\n", done, n);
    return 0;
}
