/*
 * The zone functions of libblkio's C API on a zoned block device (argv[1]),
 * through the io_uring driver: report, write at the write pointer, a write
 * elsewhere, finish, reset, the _all_zones forms and a report past the end.
 * Prints "ok - ..." lines; exits non-zero at the first failed check.
 */
#include <blkio.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (!(cond)) {                                        \
            fprintf(stderr, "FAIL line %d: ", __LINE__);      \
            fprintf(stderr, __VA_ARGS__);                     \
            fprintf(stderr, " (%s)\n", blkio_get_error_msg()); \
            exit(1);                                          \
        }                                                     \
    } while (0)

static struct blkioq *q;

static int wait_one(void) {
    struct blkio_completion c;
    int n = blkioq_do_io(q, &c, 1, 1, NULL);
    CHECK(n == 1, "do_io returned %d", n);
    if (c.ret < 0) fprintf(stderr, "  (request failed: %d %s)\n", c.ret, c.error_msg ? c.error_msg : "");
    return c.ret;
}

static struct blkio_zone report_one(uint64_t offset) {
    struct blkio_zone z;
    memset(&z, 0xff, sizeof z);
    blkioq_report_zones(q, offset, &z, 1, NULL, 0);
    int n = wait_one();
    CHECK(n == 1, "report of the zone at %llu returned %d", (unsigned long long)offset, n);
    return z;
}

int main(int argc, char **argv) {
    struct blkio *b;
    CHECK(argc == 2, "usage: zones-capi DEVICE");
    CHECK(blkio_create("io_uring", &b) == 0, "create");
    CHECK(blkio_set_str(b, "path", argv[1]) == 0, "path");
    CHECK(blkio_set_bool(b, "direct", true) == 0, "direct");
    CHECK(blkio_connect(b) == 0, "connect");

    char *model = NULL;
    uint64_t nr_zones = 0, zone_size = 0, capacity = 0;
    CHECK(blkio_get_str(b, "zoned-model", &model) == 0 && strcmp(model, "host-managed") == 0, "zoned-model %s", model);
    free(model);
    CHECK(blkio_get_uint64(b, "nr-zones", &nr_zones) == 0 && nr_zones > 2, "nr-zones");
    CHECK(blkio_get_uint64(b, "zone-size", &zone_size) == 0 && zone_size > 0, "zone-size");
    CHECK(blkio_get_uint64(b, "capacity", &capacity) == 0 && capacity == nr_zones * zone_size, "capacity");
    CHECK(sizeof(struct blkio_zone) == 64, "struct blkio_zone is %zu bytes", sizeof(struct blkio_zone));
    printf("ok - properties: %llu zones of %llu bytes\n", (unsigned long long)nr_zones, (unsigned long long)zone_size);

    CHECK(blkio_start(b) == 0, "start");
    q = blkio_get_queue(b, 0);
    CHECK(q, "queue 0");
    struct blkio_mem_region region;
    CHECK(blkio_alloc_mem_region(b, &region, 8192) == 0, "alloc");
    CHECK(blkio_map_mem_region(b, &region) == 0, "map");
    char *buf = region.addr;

    blkioq_reset_all_zones(q, NULL, 0);
    CHECK(wait_one() == 0, "reset all");

    struct blkio_zone *zones = calloc(nr_zones + 1, sizeof *zones);
    blkioq_report_zones(q, 0, zones, (uint32_t)nr_zones + 1, NULL, 0);
    int n = wait_one();
    CHECK(n == (int)nr_zones, "report of all zones returned %d", n);
    uint64_t first_seq = 0;
    for (int i = 0; i < n; i++) {
        CHECK(zones[i].start == (uint64_t)i * zone_size && zones[i].len == zone_size, "zone %d geometry", i);
        if (zones[i].zone_type == BLKIO_ZONE_TYPE_SEQWRITE_REQ) {
            CHECK(zones[i].zone_state == BLKIO_ZONE_STATE_EMPTY, "zone %d state %d", i, zones[i].zone_state);
            CHECK(zones[i].write_pointer == zones[i].start, "zone %d write pointer", i);
            if (!first_seq) first_seq = zones[i].start;
        }
    }
    CHECK(first_seq, "a sequential zone");
    free(zones);
    printf("ok - report: %d zones, the first sequential one at %llu\n", n, (unsigned long long)first_seq);

    memset(buf, 'Z', 8192);
    blkioq_write(q, first_seq, buf, 8192, NULL, 0);
    CHECK(wait_one() == 0, "write at the write pointer");
    struct blkio_zone z = report_one(first_seq);
    CHECK(z.zone_state == BLKIO_ZONE_STATE_IMP_OPEN && z.write_pointer == first_seq + 8192, "after write: state %d wp %llu",
          z.zone_state, (unsigned long long)z.write_pointer);
    memset(buf, 0, 8192);
    blkioq_read(q, first_seq, buf, 8192, NULL, 0);
    CHECK(wait_one() == 0 && buf[0] == 'Z' && buf[8191] == 'Z', "data read back");
    printf("ok - a write at the write pointer advances it and reads back\n");

    blkioq_write(q, first_seq + 16384, buf, 4096, NULL, 0);
    int ret = wait_one();
    CHECK(ret == -EIO, "a write past the write pointer returned %d", ret);
    z = report_one(first_seq);
    CHECK(z.write_pointer == first_seq + 8192, "write pointer unchanged");
    printf("ok - a write not at the write pointer fails with -EIO\n");

    blkioq_finish_zone(q, first_seq, NULL, 0);
    CHECK(wait_one() == 0, "finish");
    z = report_one(first_seq);
    CHECK(z.zone_state == BLKIO_ZONE_STATE_FULL && z.write_pointer == first_seq + zone_size, "after finish");
    blkioq_reset_zone(q, first_seq, NULL, 0);
    CHECK(wait_one() == 0, "reset");
    z = report_one(first_seq);
    CHECK(z.zone_state == BLKIO_ZONE_STATE_EMPTY && z.write_pointer == first_seq, "after reset");
    printf("ok - finish fills the zone, reset empties it\n");

    blkioq_open_zone(q, first_seq, NULL, 0);
    CHECK(wait_one() == 0, "open");
    CHECK(report_one(first_seq).zone_state == BLKIO_ZONE_STATE_EXP_OPEN, "explicitly open");
    blkioq_close_all_zones(q, NULL, 0);
    CHECK(wait_one() == 0, "close all");
    /* An empty zone closes to empty. */
    CHECK(report_one(first_seq).zone_state == BLKIO_ZONE_STATE_EMPTY, "closed empty zone is empty");
    blkioq_write(q, first_seq, buf, 4096, NULL, 0);
    CHECK(wait_one() == 0, "write");
    blkioq_close_zone(q, first_seq, NULL, 0);
    CHECK(wait_one() == 0, "close");
    CHECK(report_one(first_seq).zone_state == BLKIO_ZONE_STATE_CLOSED, "closed");
    blkioq_open_all_zones(q, NULL, 0);
    CHECK(wait_one() == 0, "open all");
    CHECK(report_one(first_seq).zone_state == BLKIO_ZONE_STATE_EXP_OPEN, "open all opened the closed zone");
    blkioq_finish_all_zones(q, NULL, 0);
    CHECK(wait_one() == 0, "finish all");
    CHECK(report_one(first_seq).zone_state == BLKIO_ZONE_STATE_FULL, "finish all filled it");
    blkioq_reset_all_zones(q, NULL, 0);
    CHECK(wait_one() == 0, "reset all");
    CHECK(report_one(first_seq).zone_state == BLKIO_ZONE_STATE_EMPTY, "reset all emptied it");
    printf("ok - open, close, the _all_zones forms\n");

    struct blkio_zone past;
    blkioq_report_zones(q, capacity, &past, 1, NULL, 0);
    ret = wait_one();
    CHECK(ret == -EINVAL, "a report past the end returned %d", ret);
    blkioq_reset_zone(q, first_seq + 4096, NULL, 0);
    ret = wait_one();
    CHECK(ret == -EINVAL, "a reset inside a zone returned %d", ret);
    printf("ok - a report past the end and an offset inside a zone fail with -EINVAL\n");

    blkio_destroy(&b);
    return 0;
}
