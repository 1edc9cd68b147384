/*
 * blkio.h: the libblkio C API, implemented by this project's driver core
 * (libblkio.so.1). Declarations, struct layouts and flag values are
 * libblkio's, so programs written for libblkio build against it unchanged.
 *
 * Conventions: functions return 0 (or a count or index) on success and a
 * negative errno on failure; blkio_get_error_msg() then explains the failure
 * of the last call on this thread. Request functions return nothing: their
 * errors come back as completions from blkioq_do_io().
 */
#ifndef BLKIO_H
#define BLKIO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/select.h> /* sigset_t, even in strict ISO C modes */
#include <sys/uio.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An instance: created -> connected -> started. */
struct blkio;
/* A queue of a started instance; one thread at a time may use it. */
struct blkioq;

/* Memory for request buffers, from blkio_alloc_mem_region() or the caller. */
struct blkio_mem_region {
    void *addr;
    size_t len;
    uint64_t iova;     /* reserved, 0 */
    int64_t fd_offset; /* offset of addr within fd */
    int fd;            /* backing file descriptor, or -1 */
    uint32_t flags;    /* reserved, 0 */
};

/* One finished request. */
struct blkio_completion {
    void *user_data;       /* as passed when the request was enqueued */
    const char *error_msg; /* static string or NULL; NULL when ret == 0 */
    int ret;               /* 0 or a negative errno */
    uint8_t reserved_[12];
};

/* The message of the last failed call on this thread ("" if none). */
const char *blkio_get_error_msg(void);

int blkio_create(const char *driver, struct blkio **bp);
int blkio_connect(struct blkio *b);
int blkio_start(struct blkio *b);
/* Frees everything the instance owns and sets *bp to NULL. */
void blkio_destroy(struct blkio **bp);

int blkio_get_bool(struct blkio *b, const char *name, bool *value);
int blkio_get_int(struct blkio *b, const char *name, int *value);
int blkio_get_uint64(struct blkio *b, const char *name, uint64_t *value);
/* *value is malloc'd; the caller frees it. Works on every property type. */
int blkio_get_str(struct blkio *b, const char *name, char **value);

int blkio_set_bool(struct blkio *b, const char *name, bool value);
int blkio_set_int(struct blkio *b, const char *name, int value);
int blkio_set_uint64(struct blkio *b, const char *name, uint64_t value);
/* Works on every property type, parsing the text. */
int blkio_set_str(struct blkio *b, const char *name, const char *value);

int blkio_alloc_mem_region(struct blkio *b, struct blkio_mem_region *region, size_t len);
void blkio_free_mem_region(struct blkio *b, const struct blkio_mem_region *region);
int blkio_map_mem_region(struct blkio *b, const struct blkio_mem_region *region);
void blkio_unmap_mem_region(struct blkio *b, const struct blkio_mem_region *region);

/* NULL when there is no such queue (e.g. before blkio_start()). */
struct blkioq *blkio_get_queue(struct blkio *b, int index);
struct blkioq *blkio_get_poll_queue(struct blkio *b, int index);

/* Return the new queue's index. */
int blkio_add_queue(struct blkio *b);
int blkio_add_poll_queue(struct blkio *b);

int blkio_remove_queue(struct blkio *b, int index);
int blkio_remove_poll_queue(struct blkio *b, int index);

/* Request flags. */
enum {
    BLKIO_REQ_FUA = 1 << 0,         /* write, writev, write_zeroes: persist before completing */
    BLKIO_REQ_NO_UNMAP = 1 << 1,    /* write_zeroes: do not deallocate */
    BLKIO_REQ_NO_FALLBACK = 1 << 2, /* write_zeroes: fail with -ENOTSUP rather than write zero buffers */
};

void blkioq_read(struct blkioq *q, uint64_t start, void *buf, size_t len, void *user_data, uint32_t flags);
void blkioq_write(struct blkioq *q, uint64_t start, const void *buf, size_t len, void *user_data,
                  uint32_t flags);
void blkioq_readv(struct blkioq *q, uint64_t start, const struct iovec *iovec, int iovcnt, void *user_data,
                  uint32_t flags);
void blkioq_writev(struct blkioq *q, uint64_t start, struct iovec *iovec, int iovcnt, void *user_data,
                   uint32_t flags);
void blkioq_write_zeroes(struct blkioq *q, uint64_t start, uint64_t len, void *user_data, uint32_t flags);
void blkioq_discard(struct blkioq *q, uint64_t start, uint64_t len, void *user_data, uint32_t flags);
void blkioq_flush(struct blkioq *q, void *user_data, uint32_t flags);

/*
 * Zoned block devices. Offsets and lengths are in bytes. On a device whose
 * "zoned-model" property is "none" every zone request completes with -ENOTSUP.
 */
enum {
    BLKIO_ZONE_TYPE_CONVENTIONAL = 0x1,
    BLKIO_ZONE_TYPE_SEQWRITE_REQ = 0x2,
    BLKIO_ZONE_TYPE_SEQWRITE_PREF = 0x3,
};

enum {
    BLKIO_ZONE_STATE_EMPTY = 0x1,
    BLKIO_ZONE_STATE_IMP_OPEN = 0x2,
    BLKIO_ZONE_STATE_EXP_OPEN = 0x3,
    BLKIO_ZONE_STATE_CLOSED = 0x4,
    BLKIO_ZONE_STATE_READONLY = 0xD,
    BLKIO_ZONE_STATE_FULL = 0xE,
    BLKIO_ZONE_STATE_OFFLINE = 0xF,
};

struct blkio_zone {
    uint64_t start;         /* first byte of the zone */
    uint64_t len;           /* zone size in bytes */
    uint64_t capacity;      /* writable bytes from start */
    uint64_t write_pointer; /* next byte to write; UINT64_MAX when the zone has none (conventional) */
    uint8_t zone_type;      /* BLKIO_ZONE_TYPE_* */
    uint8_t zone_state;     /* BLKIO_ZONE_STATE_*; 0 for a conventional zone */
    uint8_t reset;          /* the device recommends resetting this zone */
    uint8_t reserved_[29];
};

/* Fills up to nr_zones zones, from the zone holding offset; the completion's ret is how many. */
void blkioq_report_zones(struct blkioq *q, uint64_t offset, struct blkio_zone *zones, uint32_t nr_zones,
                         void *user_data, uint32_t flags);

/* offset is the zone's start. */
void blkioq_close_zone(struct blkioq *q, uint64_t offset, void *user_data, uint32_t flags);
void blkioq_finish_zone(struct blkioq *q, uint64_t offset, void *user_data, uint32_t flags);
void blkioq_open_zone(struct blkioq *q, uint64_t offset, void *user_data, uint32_t flags);
void blkioq_reset_zone(struct blkioq *q, uint64_t offset, void *user_data, uint32_t flags);

/* Every zone the operation applies to (close: open zones; finish: open and closed; open: closed; reset: all). */
void blkioq_close_all_zones(struct blkioq *q, void *user_data, uint32_t flags);
void blkioq_finish_all_zones(struct blkioq *q, void *user_data, uint32_t flags);
void blkioq_open_all_zones(struct blkioq *q, void *user_data, uint32_t flags);
void blkioq_reset_all_zones(struct blkioq *q, void *user_data, uint32_t flags);

/*
 * Submits enqueued requests and returns between min_completions and
 * max_completions completions, oldest first. timeout (NULL: none) is updated
 * with the time left; when it runs out the call fails with -ETIME and no
 * completion is lost.
 */
int blkioq_do_io(struct blkioq *q, struct blkio_completion *completions, int min_completions,
                 int max_completions, struct timespec *timeout);
/* As blkioq_do_io, waiting with the signal mask sig (NULL: unchanged); may fail with -EINTR. */
int blkioq_do_io_interruptible(struct blkioq *q, struct blkio_completion *completions, int min_completions,
                               int max_completions, struct timespec *timeout, const sigset_t *sig);
/* An eventfd that becomes readable when blkioq_do_io() should be called; -1 on poll queues. */
int blkioq_get_completion_fd(struct blkioq *q);
void blkioq_set_completion_fd_enabled(struct blkioq *q, bool enable);

/*
 * Extension (not in libblkio): moving a queue's requests to another device.
 * While a queue is quiesced, new requests are validated and kept in the
 * queue instead of reaching the device; blkioq_do_io() still completes the
 * requests the device holds. blkioq_get_in_flight() says how many that is.
 * Once it is 0, blkioq_take_unsubmitted() removes the kept requests (oldest
 * first, up to max_user_data) and returns their user_data: no completion
 * comes for them, the caller submits them elsewhere. Quiescing off gives the
 * kept requests to the device at the next blkioq_do_io().
 */
void blkioq_set_quiesced(struct blkioq *q, bool quiesced);
int blkioq_get_in_flight(struct blkioq *q);
int blkioq_take_unsubmitted(struct blkioq *q, void **user_data, int max_user_data);

#ifdef __cplusplus
}
#endif

#endif /* BLKIO_H */
