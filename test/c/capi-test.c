/*
 * libblkio's C API as a C program sees it: lifecycle, properties, error
 * conventions, memory regions, every request type, do_io and its timeouts,
 * the completion fd, queues and destroy. Uses only <blkio.h> and libc.
 *
 *   cc capi-test.c $(pkg-config --cflags --libs blkio) -o capi-test
 *   ./capi-test DRIVER PATH [BACKEND-PID]   (PATH: a file of at least 4 MiB, or a socket)
 *
 * With BACKEND-PID (the device's server, e.g. qemu-storage-daemon), also
 * stops it briefly to check waits that time out or are interrupted.
 *
 * Prints "ok N - name" or "not ok N - name: why" per check, then a summary;
 * exits 0 only when every check passed.
 */
#define _GNU_SOURCE
#include <blkio.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KiB 1024
#define REGION_SIZE (1024 * KiB)

static const char *driver;
static const char *path;
static int checks, failures;

static void report(int ok, const char *name, const char *fmt, ...) {
    checks++;
    if (ok) {
        printf("ok %d - %s\n", checks, name);
        return;
    }
    failures++;
    printf("not ok %d - %s: ", checks, name);
    va_list args;
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf(" (last error message: \"%s\")\n", blkio_get_error_msg());
}

/* Checks a call's return value. */
#define EXPECT(name, call, expected)                                                    \
    do {                                                                                \
        int got_ = (call);                                                              \
        report(got_ == (expected), name, "%s returned %d, expected %d", #call, got_, (expected)); \
    } while (0)

/* Checks that a call failed with -err and left a message. */
#define EXPECT_ERR(name, call, err)                                                     \
    do {                                                                                \
        int got_ = (call);                                                              \
        report(got_ == -(err) && blkio_get_error_msg()[0] != '\0', name,                \
               "%s returned %d, expected -%s with a message", #call, got_, #err);      \
    } while (0)

/* Aborts the run when setup fails: later checks would be meaningless. */
#define MUST(call)                                                                      \
    do {                                                                                \
        int r_ = (call);                                                                \
        if (r_ < 0) {                                                                   \
            printf("Bail out! %s: %d (%s)\n", #call, r_, blkio_get_error_msg());       \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

static struct blkio *create_connected(void) {
    struct blkio *b;
    MUST(blkio_create(driver, &b));
    MUST(blkio_set_str(b, "path", path));
    MUST(blkio_connect(b));
    return b;
}

/* A started instance with one mapped region. */
struct started {
    struct blkio *b;
    struct blkioq *q;
    struct blkio_mem_region region;
    unsigned char *mem;
};

static void start_with_region(struct blkio *b, struct started *s) {
    MUST(blkio_start(b));
    s->b = b;
    s->q = blkio_get_queue(b, 0);
    if (!s->q) {
        printf("Bail out! no queue 0 after start\n");
        exit(1);
    }
    MUST(blkio_alloc_mem_region(b, &s->region, REGION_SIZE));
    MUST(blkio_map_mem_region(b, &s->region));
    s->mem = s->region.addr;
}

static void stop(struct started *s) {
    blkio_unmap_mem_region(s->b, &s->region);
    blkio_free_mem_region(s->b, &s->region);
    blkio_destroy(&s->b);
}

/* Waits (bounded) for n completions into c; returns how many arrived. */
static int complete(struct blkioq *q, struct blkio_completion *c, int n) {
    int got = 0;
    while (got < n) {
        struct timespec timeout = {10, 0};
        int r = blkioq_do_io(q, c + got, 1, n - got, &timeout);
        if (r < 0) {
            printf("# do_io failed: %d (%s)\n", r, blkio_get_error_msg());
            break;
        }
        got += r;
    }
    return got;
}

/* Runs one request to completion and returns its ret. */
static int run_one(struct blkioq *q) {
    struct blkio_completion c;
    if (complete(q, &c, 1) != 1) return INT_MIN;
    return c.ret;
}

static void *read_error_message(void *arg) {
    *(const char **)arg = blkio_get_error_msg();
    return NULL;
}

static void test_errors(void) {
    struct blkio *b = (struct blkio *)&b; /* not NULL, so the reset is visible */
    EXPECT_ERR("an unknown driver gives ENOENT", blkio_create("no-such-driver", &b), ENOENT);
    report(b == NULL, "a failed create sets *bp to NULL", "*bp is %p", (void *)b);
    EXPECT_ERR("create with bp == NULL gives EINVAL", blkio_create(driver, NULL), EINVAL);

    /* The message is per thread: a fresh thread has none. */
    const char *other = NULL;
    pthread_t t;
    pthread_create(&t, NULL, read_error_message, &other);
    pthread_join(t, NULL);
    report(other && other[0] == '\0' && blkio_get_error_msg()[0] != '\0', "the error message is thread-local",
           "other thread sees \"%s\"", other ? other : "(null)");

    blkio_destroy(NULL); /* ignored */
    struct blkio *none = NULL;
    blkio_destroy(&none);
    report(1, "blkio_destroy(NULL) and of a NULL instance are harmless", "");
}

static void test_properties(void) {
    struct blkio *b;
    MUST(blkio_create(driver, &b));

    char *name = NULL;
    EXPECT("get_str(driver) succeeds", blkio_get_str(b, "driver", &name), 0);
    report(name && strcmp(name, driver) == 0, "driver reads back the name given to create", "got \"%s\"",
           name ? name : "(null)");
    free(name); /* the caller owns it */
    EXPECT_ERR("driver is read-only (EACCES)", blkio_set_str(b, "driver", "x"), EACCES);

    int i = 42;
    EXPECT_ERR("an unknown property gives ENOENT", blkio_get_int(b, "no-such-property", &i), ENOENT);
    report(i == 0, "a failed get_int stores 0", "value is %d", i);
    bool flag = true;
    EXPECT_ERR("get_bool on a string property gives ENOTTY", blkio_get_bool(b, "path", &flag), ENOTTY);
    report(!flag, "a failed get_bool stores false", "value is true");
    char *text = (char *)&text;
    EXPECT_ERR("get_str of an unknown property gives ENOENT", blkio_get_str(b, "no-such-property", &text), ENOENT);
    report(text == NULL, "a failed get_str stores NULL", "value is %p", (void *)text);
    uint64_t u = 7;
    EXPECT_ERR("device limits need a connection (ENODEV)", blkio_get_uint64(b, "capacity", &u), ENODEV);
    report(u == 0, "a failed get_uint64 stores 0", "value is %llu", (unsigned long long)u);

    EXPECT("set_str parses bools", blkio_set_str(b, "read-only", "true"), 0);
    EXPECT("get_bool reads it back", blkio_get_bool(b, "read-only", &flag) == 0 && flag, 1);
    EXPECT_ERR("set_str rejects a bad bool (EINVAL)", blkio_set_str(b, "read-only", "yes"), EINVAL);
    EXPECT("set_bool works", blkio_set_bool(b, "read-only", false), 0);
    EXPECT("get_str formats bools", blkio_get_str(b, "read-only", &text) == 0 && strcmp(text, "false") == 0, 1);
    free(text);

    EXPECT_ERR("start before connect gives ENODEV", blkio_start(b), ENODEV);
    EXPECT_ERR("num-queues before connect gives ENODEV", blkio_set_int(b, "num-queues", 1), ENODEV);
    EXPECT("set path", blkio_set_str(b, "path", path), 0);
    EXPECT("connect", blkio_connect(b), 0);
    EXPECT("connect is idempotent", blkio_connect(b), 0);
    EXPECT_ERR("path cannot change after connect (EBUSY)", blkio_set_str(b, "path", path), EBUSY);
    EXPECT_ERR("capacity is read-only (EACCES)", blkio_set_uint64(b, "capacity", 1), EACCES);
    EXPECT("capacity is readable after connect", blkio_get_uint64(b, "capacity", &u) == 0 && u >= 4 * 1024 * KiB, 1);
    EXPECT("get_str formats integers", blkio_get_str(b, "capacity", &text) == 0 && strtoull(text, NULL, 10) == u, 1);
    free(text);
    EXPECT_ERR("a negative num-queues gives EINVAL", blkio_set_int(b, "num-queues", -1), EINVAL);
    EXPECT("num-queues is settable once connected", blkio_set_int(b, "num-queues", 1), 0);
    EXPECT("get_queue before start is NULL", blkio_get_queue(b, 0) == NULL, 1);
    EXPECT("start", blkio_start(b), 0);
    EXPECT("start is idempotent", blkio_start(b), 0);
    EXPECT_ERR("connect after start gives EBUSY", blkio_connect(b), EBUSY);
    EXPECT_ERR("num-queues after start gives EBUSY", blkio_set_int(b, "num-queues", 1), EBUSY);
    struct blkioq *q = blkio_get_queue(b, 0);
    EXPECT("queue 0 exists after start", q != NULL, 1);
    EXPECT("get_queue returns the same queue each time", blkio_get_queue(b, 0) == q, 1);
    EXPECT("a missing queue index gives NULL", blkio_get_queue(b, 1) == NULL && blkio_get_queue(b, -1) == NULL, 1);
    EXPECT("no poll queue by default", blkio_get_poll_queue(b, 0) == NULL, 1);
    blkio_destroy(&b);
    report(b == NULL, "destroy sets *bp to NULL", "*bp is %p", (void *)b);
}

static void test_regions(void) {
    struct blkio *b = create_connected();
    uint64_t align = 0;
    MUST(blkio_get_uint64(b, "mem-region-alignment", &align));
    struct blkio_mem_region r;
    EXPECT("a region can be allocated once connected", blkio_alloc_mem_region(b, &r, REGION_SIZE), 0);
    report(r.addr != NULL && r.len == REGION_SIZE && r.fd >= 0 && r.iova == 0 && r.flags == 0,
           "the allocated region describes its memory and fd", "addr %p len %zu fd %d", r.addr, r.len, r.fd);
    EXPECT_ERR("mapping before start gives EBUSY", blkio_map_mem_region(b, &r), EBUSY);
    MUST(blkio_start(b));
    EXPECT("map", blkio_map_mem_region(b, &r), 0);
    EXPECT_ERR("mapping twice gives EINVAL", blkio_map_mem_region(b, &r), EINVAL);
    blkio_unmap_mem_region(b, &r);
    blkio_unmap_mem_region(b, &r); /* not mapped: nothing happens */
    EXPECT("remapping after unmap works", blkio_map_mem_region(b, &r), 0);

    /* Data written through the region survives a round trip to the device. */
    struct blkioq *q = blkio_get_queue(b, 0);
    unsigned char *mem = r.addr;
    memset(mem, 'A', 4 * KiB);
    blkioq_write(q, 0, mem, 4 * KiB, NULL, 0);
    EXPECT("write from a remapped region", run_one(q), 0);
    memset(mem + 4 * KiB, 0, 4 * KiB);
    blkioq_read(q, 0, mem + 4 * KiB, 4 * KiB, NULL, 0);
    EXPECT("read back", run_one(q), 0);
    EXPECT("the data matches", memcmp(mem, mem + 4 * KiB, 4 * KiB), 0);

    blkio_unmap_mem_region(b, &r);
    int fd = r.fd;
    blkio_free_mem_region(b, &r);
    report(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "freeing a region closes its fd", "fd %d still open", fd);

    /* Regions left allocated are freed by destroy. */
    struct blkio_mem_region kept;
    MUST(blkio_alloc_mem_region(b, &kept, align > 64 * KiB ? align : 64 * KiB));
    MUST(blkio_map_mem_region(b, &kept));
    blkio_destroy(&b);
    report(fcntl(kept.fd, F_GETFD) < 0 && errno == EBADF, "destroy frees regions still allocated",
           "fd %d still open", kept.fd);
}

static void test_requests(void) {
    struct started s;
    start_with_region(create_connected(), &s);
    struct blkioq *q = s.q;
    struct blkio_completion c[8];
    unsigned char *mem = s.mem;

    /* user_data comes back as the same pointer. */
    int tags[3];
    for (int i = 0; i < 64 * KiB; i++) mem[i] = (unsigned char)(i * 31 + 7);
    blkioq_write(q, 128 * KiB, mem, 64 * KiB, &tags[0], 0);
    blkioq_write(q, 192 * KiB, mem, 4 * KiB, &tags[1], BLKIO_REQ_FUA);
    blkioq_flush(q, &tags[2], 0);
    int n = complete(q, c, 3);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        for (int t = 0; t < 3; t++)
            if (c[i].user_data == &tags[t] && c[i].ret == 0 && c[i].error_msg == NULL) seen |= 1 << t;
    }
    report(n == 3 && seen == 7, "write, FUA write and flush complete with their user_data", "n %d seen %#x", n, seen);

    memset(mem + 256 * KiB, 0, 64 * KiB);
    blkioq_read(q, 128 * KiB, mem + 256 * KiB, 64 * KiB, NULL, 0);
    EXPECT("read", run_one(q), 0);
    EXPECT("read returns what was written", memcmp(mem, mem + 256 * KiB, 64 * KiB), 0);

    /* Vectored: three pieces out, two pieces back. */
    struct iovec out[3] = {{mem, 4 * KiB}, {mem + 8 * KiB, 8 * KiB}, {mem + 32 * KiB, 4 * KiB}};
    blkioq_writev(q, 512 * KiB, out, 3, NULL, 0);
    EXPECT("writev", run_one(q), 0);
    memset(mem + 512 * KiB, 0, 16 * KiB);
    const struct iovec back[2] = {{mem + 512 * KiB, 12 * KiB}, {mem + 600 * KiB, 4 * KiB}};
    blkioq_readv(q, 512 * KiB, back, 2, NULL, 0);
    EXPECT("readv", run_one(q), 0);
    int same = memcmp(mem + 512 * KiB, mem, 4 * KiB) == 0 && memcmp(mem + 516 * KiB, mem + 8 * KiB, 8 * KiB) == 0 &&
               memcmp(mem + 600 * KiB, mem + 32 * KiB, 4 * KiB) == 0;
    report(same, "readv gathers what writev scattered", "data differs");

    /* Zeroing and discard: ENOTSUP is an allowed answer. */
    blkioq_write_zeroes(q, 128 * KiB, 8 * KiB, NULL, 0);
    int r = run_one(q);
    EXPECT("write_zeroes", r == 0 || r == -ENOTSUP, 1);
    if (r == 0) {
        blkioq_read(q, 128 * KiB, mem + 256 * KiB, 16 * KiB, NULL, 0);
        run_one(q);
        int zero = 1;
        for (int i = 0; i < 8 * KiB; i++) zero &= mem[256 * KiB + i] == 0;
        report(zero && memcmp(mem + 264 * KiB, mem + 8 * KiB, 8 * KiB) == 0, "write_zeroes zeroes exactly its range",
               "wrong data");
    }
    blkioq_discard(q, 1024 * KiB, 64 * KiB, NULL, 0);
    r = run_one(q);
    EXPECT("discard", r == 0 || r == -ENOTSUP, 1);

    /* Request errors arrive as completions with static messages. */
    blkioq_read(q, 0, mem, 4 * KiB, NULL, 1u << 8);
    n = complete(q, c, 1);
    report(n == 1 && c[0].ret == -EINVAL && c[0].error_msg &&
               strcmp(c[0].error_msg, "unsupported bits in request flags") == 0,
           "unknown flag bits complete with EINVAL", "ret %d msg %s", c[0].ret, c[0].error_msg);
    blkioq_read(q, 0, mem, 4 * KiB, NULL, BLKIO_REQ_FUA);
    n = complete(q, c, 1);
    report(n == 1 && c[0].ret == -EINVAL && c[0].error_msg &&
               strcmp(c[0].error_msg, "BLKIO_REQ_FUA is invalid for this request type") == 0,
           "FUA on a read completes with EINVAL naming it", "ret %d msg %s", c[0].ret, c[0].error_msg);
    report(c[0].user_data == NULL, "user_data NULL comes back NULL", "got %p", c[0].user_data);

    stop(&s);
}

static void test_do_io(void) {
    struct blkio *b = create_connected();
    /* A small ring, so most requests wait in the backlog. */
    if (blkio_set_int(b, "num-entries", 16) == -ENOENT) MUST(blkio_set_int(b, "queue-size", 16));
    struct started s;
    start_with_region(b, &s);
    struct blkioq *q = s.q;
    static struct blkio_completion c[1024];

    EXPECT_ERR("min larger than the outstanding requests gives EINVAL", blkioq_do_io(q, c, 1, 1, NULL), EINVAL);
    EXPECT_ERR("min larger than max gives EINVAL", blkioq_do_io(q, c, 2, 1, NULL), EINVAL);
    EXPECT_ERR("completions NULL with max > 0 gives EINVAL", blkioq_do_io(q, NULL, 0, 1, NULL), EINVAL);
    struct timespec bad = {0, 1000000000};
    EXPECT_ERR("tv_nsec out of range gives EINVAL", blkioq_do_io(q, c, 0, 1, &bad), EINVAL);
    EXPECT("do_io(NULL, 0, 0, NULL) just submits", blkioq_do_io(q, NULL, 0, 0, NULL), 0);

    /* 1000 requests through a 16-entry ring: each completes exactly once. */
    enum { TOTAL = 1000 };
    static unsigned char counts[TOTAL];
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < TOTAL; i++) {
        void *ud = (void *)(uintptr_t)(i + 1);
        if (i % 3 == 0) blkioq_flush(q, ud, 0);
        else blkioq_read(q, (uint64_t)(i % 200) * 4 * KiB, s.mem + (i % 200) * 4 * KiB, 4 * KiB, ud, 0);
    }
    int done = 0, bad_ret = 0;
    while (done < TOTAL) {
        struct timespec timeout = {10, 0};
        int n = blkioq_do_io(q, c, 1, 1024, &timeout);
        if (n <= 0) break;
        for (int i = 0; i < n; i++) {
            counts[(uintptr_t)c[i].user_data - 1]++;
            bad_ret |= c[i].ret != 0;
        }
        done += n;
    }
    int once = 1;
    for (int i = 0; i < TOTAL; i++) once &= counts[i] == 1;
    report(done == TOTAL && once && !bad_ret, "an overfilled ring completes every request exactly once",
           "done %d", done);

    /* An expired timeout: ETIME (or success), and nothing lost. */
    for (int i = 0; i < 64; i++) blkioq_read(q, (uint64_t)i * 4 * KiB, s.mem + i * 4 * KiB, 4 * KiB, NULL, 0);
    struct timespec tiny = {0, 1};
    int n = blkioq_do_io(q, c, 64, 64, &tiny);
    report(n == 64 || n == -ETIME, "a 1 ns timeout gives ETIME or all completions", "got %d", n);
    report(tiny.tv_sec == 0 && tiny.tv_nsec >= 0 && tiny.tv_nsec <= 1, "the timeout is updated with the time left",
           "left %ld.%09ld", (long)tiny.tv_sec, tiny.tv_nsec);
    if (n < 0) n = complete(q, c, 64);
    EXPECT("all 64 requests arrive afterwards", n, 64);

    blkioq_read(q, 0, s.mem, 4 * KiB, NULL, 0);
    struct timespec forever = {LONG_MAX, 0};
    EXPECT("a LONG_MAX timeout does not expire", blkioq_do_io(q, c, 1, 1, &forever), 1);
    report(forever.tv_sec > 0, "a long timeout keeps most of its time", "left %ld s", (long)forever.tv_sec);

    /* The interruptible variant with an empty mask behaves the same. */
    sigset_t none;
    sigemptyset(&none);
    for (int i = 0; i < 8; i++) blkioq_read(q, (uint64_t)i * 4 * KiB, s.mem + i * 4 * KiB, 4 * KiB, NULL, 0);
    int got = 0;
    while (got < 8) {
        struct timespec timeout = {10, 0};
        int r = blkioq_do_io_interruptible(q, c, 1, 8, &timeout, &none);
        if (r <= 0) break;
        got += r;
    }
    EXPECT("do_io_interruptible completes requests", got, 8);
    for (int i = 0; i < 8; i++) blkioq_read(q, (uint64_t)i * 4 * KiB, s.mem + i * 4 * KiB, 4 * KiB, NULL, 0);
    tiny = (struct timespec){0, 1};
    n = blkioq_do_io_interruptible(q, c, 8, 8, &tiny, &none);
    report(n == 8 || n == -ETIME, "do_io_interruptible with 1 ns gives ETIME or all completions", "got %d", n);
    if (n < 0) n = complete(q, c, 8);
    EXPECT("nothing is lost after an interruptible timeout", n, 8);
    EXPECT_ERR("interruptible with min > outstanding gives EINVAL", blkioq_do_io_interruptible(q, c, 1, 1, NULL, &none),
               EINVAL);
    stop(&s);
}

static void test_completion_fd(void) {
    struct started s;
    start_with_region(create_connected(), &s);
    struct blkioq *q = s.q;
    int fd = blkioq_get_completion_fd(q);
    EXPECT("the completion fd is valid", fd >= 0, 1);
    EXPECT("the completion fd is non-blocking", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0, 1);

    blkioq_set_completion_fd_enabled(q, true);
    struct blkio_completion c[4];
    uint64_t count;
    /* Start from a quiet fd. */
    while (read(fd, &count, sizeof count) == sizeof count) {
    }
    int tag;
    blkioq_read(q, 0, s.mem, 4 * KiB, &tag, 0);
    blkioq_do_io(q, NULL, 0, 0, NULL);
    int got = 0;
    for (int round = 0; round < 100 && got == 0; round++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1) break;
        (void)!read(fd, &count, sizeof count);
        got = blkioq_do_io(q, c, 0, 4, NULL);
    }
    report(got == 1 && c[0].user_data == &tag && c[0].ret == 0, "the completion fd signals a finished request",
           "got %d", got);
    blkioq_set_completion_fd_enabled(q, false);
    stop(&s);
}

static void test_queues(void) {
    struct blkio *b = create_connected();
    bool can_add = false;
    MUST(blkio_get_bool(b, "can-add-queues", &can_add));
    if (can_add) EXPECT_ERR("add_queue before start gives EBUSY", blkio_add_queue(b), EBUSY);
    MUST(blkio_start(b));
    if (!can_add) {
        EXPECT_ERR("add_queue on a fixed-queue driver gives ENOTSUP", blkio_add_queue(b), ENOTSUP);
    } else {
        int index = blkio_add_queue(b);
        EXPECT("add_queue returns the next index", index, 1);
        struct blkioq *q = blkio_get_queue(b, 1);
        EXPECT("the added queue exists", q != NULL, 1);
        struct blkio_mem_region r;
        MUST(blkio_alloc_mem_region(b, &r, 64 * KiB));
        MUST(blkio_map_mem_region(b, &r));
        blkioq_read(q, 0, r.addr, 4 * KiB, NULL, 0);
        EXPECT("the added queue does I/O", run_one(q), 0);
        EXPECT("remove_queue", blkio_remove_queue(b, 1), 0);
        EXPECT("a removed queue is gone", blkio_get_queue(b, 1) == NULL, 1);
        EXPECT_ERR("removing it again gives ENOENT", blkio_remove_queue(b, 1), ENOENT);
        EXPECT("add_queue reuses the free index", blkio_add_queue(b), 1);
    }
    EXPECT_ERR("removing a missing queue gives ENOENT", blkio_remove_queue(b, 7), ENOENT);

    /* Destroy with requests in flight on queue 0. */
    struct blkio_mem_region r;
    MUST(blkio_alloc_mem_region(b, &r, 256 * KiB));
    MUST(blkio_map_mem_region(b, &r));
    struct blkioq *q = blkio_get_queue(b, 0);
    for (int i = 0; i < 200; i++) blkioq_read(q, (uint64_t)(i % 64) * 4 * KiB, (char *)r.addr + (i % 64) * 4 * KiB, 4 * KiB, NULL, 0);
    blkioq_do_io(q, NULL, 0, 0, NULL);
    blkio_destroy(&b);
    report(b == NULL, "destroy with requests in flight", "");
}

static pid_t stalled_backend = 0;
static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }

static void resume_backend(void) {
    if (stalled_backend > 0) kill(stalled_backend, SIGCONT);
}

static int64_t elapsed_ms(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/*
 * Waits that cannot be satisfied: the device's backend process is stopped
 * (SIGSTOP), so a request stays in flight until it is continued.
 */
static void test_stalled_waits(pid_t backend) {
    struct started s;
    start_with_region(create_connected(), &s);
    struct blkioq *q = s.q;
    struct blkio_completion c[2];
    stalled_backend = backend;
    atexit(resume_backend); /* never leave the backend stopped */
    MUST(kill(backend, SIGSTOP));
    static int tag;
    blkioq_read(q, 0, s.mem, 4 * KiB, &tag, 0);

    struct timespec t0, timeout = {0, 50 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = blkioq_do_io(q, c, 1, 1, &timeout);
    report(r == -ETIME && elapsed_ms(&t0) >= 45, "do_io times out with ETIME while the device is stalled",
           "got %d after %lld ms", r, (long long)elapsed_ms(&t0));
    report(timeout.tv_sec == 0 && timeout.tv_nsec == 0, "an expired timeout is left at zero", "left %ld.%09ld",
           (long)timeout.tv_sec, timeout.tv_nsec);

    sigset_t usr1, waiting;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    signal(SIGUSR1, on_signal);
    sigemptyset(&waiting); /* the mask during the wait: SIGUSR1 unblocked */
    timeout = (struct timespec){0, 50 * 1000 * 1000};
    r = blkioq_do_io_interruptible(q, c, 1, 1, &timeout, &waiting);
    report(r == -ETIME, "do_io_interruptible times out with ETIME", "got %d", r);
    raise(SIGUSR1); /* pending until the wait unblocks it */
    r = blkioq_do_io_interruptible(q, c, 1, 1, NULL, &waiting);
    report(r == -EINTR && got_signal == SIGUSR1 && blkio_get_error_msg()[0] != '\0',
           "a signal unblocked by the mask interrupts do_io_interruptible (EINTR)", "got %d, signal %d", r,
           (int)got_signal);
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);

    MUST(kill(backend, SIGCONT));
    stalled_backend = 0;
    int n = complete(q, c, 1);
    report(n == 1 && c[0].ret == 0 && c[0].user_data == &tag,
           "the request completes once the device resumes, exactly once", "got %d", n);
    EXPECT("nothing else is outstanding", blkioq_do_io(q, c, 0, 2, NULL), 0);
    stop(&s);
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s DRIVER PATH [BACKEND-PID]\n", argv[0]);
        fprintf(stderr, "BACKEND-PID: the device's server process (e.g. qemu-storage-daemon), stopped\n"
                        "briefly to test waits that time out or are interrupted\n");
        return 2;
    }
    driver = argv[1];
    path = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_errors();
    test_properties();
    test_regions();
    test_requests();
    test_do_io();
    test_completion_fd();
    test_queues();
    if (argc == 4) test_stalled_waits((pid_t)atoi(argv[3]));
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
