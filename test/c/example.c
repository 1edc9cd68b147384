/*
 * The smallest complete libblkio program: write a block through a memory
 * region, read it back and compare. Uses only <blkio.h>, so it builds
 * against this project's library or upstream libblkio alike:
 *
 *   cc example.c $(pkg-config --cflags --libs blkio) -o example
 *   ./example io_uring /tmp/disk.img
 *   ./example virtio-blk-vhost-user /tmp/vhost-user-blk.sock
 */
#include <blkio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 4096

static int fail(const char *what, int ret) {
    fprintf(stderr, "%s: %s (%d: %s)\n", what, strerror(-ret), ret, blkio_get_error_msg());
    return 1;
}

/* Waits for the one request in flight and returns its result. */
static int complete_one(struct blkioq *q) {
    struct blkio_completion c;
    int n = blkioq_do_io(q, &c, 1, 1, NULL);
    if (n < 0) return n;
    if (c.ret < 0) fprintf(stderr, "request failed: %s\n", c.error_msg ? c.error_msg : strerror(-c.ret));
    return c.ret;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DRIVER PATH\n", argv[0]);
        return 2;
    }
    struct blkio *b;
    int ret = blkio_create(argv[1], &b);
    if (ret < 0) return fail("blkio_create", ret);
    if ((ret = blkio_set_str(b, "path", argv[2])) < 0) return fail("set path", ret);
    if ((ret = blkio_connect(b)) < 0) return fail("blkio_connect", ret);

    uint64_t capacity;
    int request_alignment;
    uint64_t region_alignment;
    blkio_get_uint64(b, "capacity", &capacity);
    blkio_get_int(b, "request-alignment", &request_alignment);
    blkio_get_uint64(b, "mem-region-alignment", &region_alignment);
    char *driver = NULL;
    blkio_get_str(b, "driver", &driver);
    printf("%s: %s, capacity %llu bytes, request-alignment %d\n", driver, argv[2],
           (unsigned long long)capacity, request_alignment);
    free(driver);
    if (capacity < BLOCK) {
        fprintf(stderr, "device too small\n");
        return 1;
    }

    if ((ret = blkio_start(b)) < 0) return fail("blkio_start", ret);
    struct blkioq *q = blkio_get_queue(b, 0);

    /* Two blocks of request memory, rounded up to what the driver wants. */
    size_t len = 2 * BLOCK;
    if (len % region_alignment) len += region_alignment - len % region_alignment;
    struct blkio_mem_region region;
    if ((ret = blkio_alloc_mem_region(b, &region, len)) < 0) return fail("blkio_alloc_mem_region", ret);
    if ((ret = blkio_map_mem_region(b, &region)) < 0) return fail("blkio_map_mem_region", ret);
    unsigned char *out = region.addr, *in = out + BLOCK;

    for (int i = 0; i < BLOCK; i++) out[i] = (unsigned char)(i * 7 + 1);
    blkioq_write(q, 0, out, BLOCK, NULL, BLKIO_REQ_FUA);
    if ((ret = complete_one(q)) < 0) return fail("write", ret);
    memset(in, 0, BLOCK);
    blkioq_read(q, 0, in, BLOCK, NULL, 0);
    if ((ret = complete_one(q)) < 0) return fail("read", ret);

    int same = memcmp(out, in, BLOCK) == 0;
    printf("wrote and read back %d bytes: %s\n", BLOCK, same ? "match" : "MISMATCH");

    blkio_unmap_mem_region(b, &region);
    blkio_free_mem_region(b, &region);
    blkio_destroy(&b);
    return same ? 0 : 1;
}
