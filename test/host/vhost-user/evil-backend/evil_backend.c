// A small vhost-user-blk backend for tests that misbehaves on request.
//
//   evil_backend SOCKET [MODE...]
//
// It listens on SOCKET, prints "ready", serves one frontend and exits when
// that frontend hangs up. Without a MODE it is a correct (if minimal)
// backend over a 1 MiB in-memory disk whose byte i reads as (i * 7 + 3).
// Each MODE breaks one thing; see the table in usage() below.
#define _GNU_SOURCE
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum {
  GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, SET_MEM_TABLE = 5, SET_VRING_NUM = 8,
  SET_VRING_ADDR = 9, SET_VRING_BASE = 10, SET_VRING_KICK = 12, SET_VRING_CALL = 13,
  GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES = 16, GET_QUEUE_NUM = 17, SET_VRING_ENABLE = 18,
  GET_CONFIG = 24, GET_MAX_MEM_SLOTS = 36, ADD_MEM_REG = 37, REM_MEM_REG = 38,
};

#define REPLY_FLAG 0x4u
#define NEED_REPLY_FLAG 0x8u
#define PROTO_MQ (1ull << 0)
#define PROTO_REPLY_ACK (1ull << 3)
#define PROTO_CONFIG (1ull << 9)
#define PROTO_MEM_SLOTS (1ull << 15)

#define F_SIZE_MAX (1ull << 1)
#define F_SEG_MAX (1ull << 2)
#define F_BLK_SIZE (1ull << 6)
#define F_FLUSH (1ull << 9)
#define F_MQ (1ull << 12)
#define F_DISCARD (1ull << 13)
#define F_PROTOCOL_FEATURES (1ull << 30)
#define F_VERSION_1 (1ull << 32)

#define DISK_SIZE (1u << 20)
#define MAX_REGIONS 32
#define MAX_QUEUES 4

static const char *usage_text =
    "modes: capacity-max blk-size-huge blk-size-odd queues-0 queues-max queue-num-0 size-max-tiny\n"
    "       seg-max-0 discard-huge (config space)\n"
    "       capacity-halves-later capacity-max-later (config space after the first GET_CONFIG: a resize)\n"
    "       stop-reading no-ack no-ack-after-start wrong-reply-id wrong-reply-size huge-reply (socket)\n"
    "       hang-up complete-then-hang-up stall used-id-out-of-range used-id-duplicate used-len-oversized used-idx-jump (requests)\n";

struct header { uint32_t request, flags, size; } __attribute__((packed));
struct region { uint64_t gpa, size, uva, offset; uint8_t *map; size_t map_len; };
struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct used_elem { uint32_t id, len; };
struct vring {
  unsigned num;
  uint64_t desc_addr, avail_addr, used_addr;
  int kick, call;
  uint16_t last_avail;
};

static char **modes;
static int nmodes;
static struct region regions[MAX_REGIONS];
static struct vring vrings[MAX_QUEUES];
static uint8_t disk[DISK_SIZE];
static int sock = -1;
static int started;  // SET_VRING_ENABLE seen
static uint64_t protocol_features;

static int mode(const char *m) {
  for (int i = 0; i < nmodes; i++)
    if (!strcmp(modes[i], m)) return 1;
  return 0;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "evil_backend: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void write_all(const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = send(sock, p, len, MSG_NOSIGNAL);
    if (n <= 0) exit(0);  // the frontend went away
    p += n, len -= (size_t)n;
  }
}

static void reply(uint32_t request, const void *payload, uint32_t size) {
  struct header h = {request, 1 | REPLY_FLAG, size};
  if (mode("wrong-reply-id") && request == GET_FEATURES) h.request = GET_PROTOCOL_FEATURES;
  write_all(&h, sizeof h);
  write_all(payload, size);
}

static void reply_u64(uint32_t request, uint64_t v) {
  if (mode("wrong-reply-size") && request == GET_FEATURES) return reply(request, &v, 4);
  if (mode("huge-reply") && request == GET_FEATURES) {
    struct header h = {request, 1 | REPLY_FLAG, 1u << 20};  // announced, never sent
    return write_all(&h, sizeof h);
  }
  reply(request, &v, sizeof v);
}

static void *translate(uint64_t addr, uint64_t len) {
  for (int i = 0; i < MAX_REGIONS; i++) {
    struct region *r = &regions[i];
    if (r->map && addr >= r->uva && addr - r->uva <= r->size && len <= r->size - (addr - r->uva))
      return r->map + r->offset + (addr - r->uva);
  }
  return NULL;
}

static void add_region(const uint64_t *payload, int fd) {
  for (int i = 0; i < MAX_REGIONS; i++) {
    struct region *r = &regions[i];
    if (r->map) continue;
    r->gpa = payload[1], r->size = payload[2], r->uva = payload[3], r->offset = payload[4];
    r->map_len = r->size + r->offset;
    r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r->map == MAP_FAILED) die("mmap of a region failed");
    close(fd);
    return;
  }
  die("too many regions");
}

static void remove_region(const uint64_t *payload, int fd) {
  if (fd >= 0) close(fd);
  for (int i = 0; i < MAX_REGIONS; i++) {
    struct region *r = &regions[i];
    if (r->map && r->uva == payload[3] && r->size == payload[2]) {
      munmap(r->map, r->map_len);
      r->map = NULL;
    }
  }
}

static int config_reads;

static void fill_config(uint8_t *cfg) {
  uint64_t capacity = mode("capacity-max") ? UINT64_MAX : DISK_SIZE / 512;
  // Later reads see a resized device (the disk itself stays DISK_SIZE).
  if (config_reads > 0 && mode("capacity-halves-later")) capacity = DISK_SIZE / 2 / 512;
  if (config_reads > 0 && mode("capacity-max-later")) capacity = UINT64_MAX;
  uint32_t size_max = mode("size-max-tiny") ? 1 : 65536;
  uint32_t seg_max = mode("seg-max-0") ? 0 : 64;
  uint32_t blk_size = mode("blk-size-huge") ? 1u << 31 : mode("blk-size-odd") ? 1000 : 512;
  uint16_t num_queues = mode("queues-0") ? 0 : mode("queues-max") ? 65535 : 1;
  uint32_t discard = mode("discard-huge") ? UINT32_MAX : 2048;
  memcpy(cfg + 0, &capacity, 8);
  memcpy(cfg + 8, &size_max, 4);
  memcpy(cfg + 12, &seg_max, 4);
  memcpy(cfg + 20, &blk_size, 4);
  memcpy(cfg + 34, &num_queues, 2);
  memcpy(cfg + 36, &discard, 4);   // max_discard_sectors
  uint32_t one = 1;
  memcpy(cfg + 40, &one, 4);       // max_discard_seg
  memcpy(cfg + 44, &discard, 4);   // discard_sector_alignment
}

// Runs one request chain; returns the bytes written into device-writable buffers.
static uint32_t serve(struct vring *vr, uint16_t head) {
  struct desc *table = translate(vr->desc_addr, 16ull * vr->num);
  struct desc *d[64];
  unsigned n = 0;
  for (uint16_t i = head;; i = table[i].next) {
    if (i >= vr->num || n == 64) die("bad chain");
    d[n++] = &table[i];
    if (!(table[i].flags & 1)) break;
  }
  uint8_t *hdr = translate(d[0]->addr, 16), *status = translate(d[n - 1]->addr, 1);
  if (!hdr || !status || n < 2) die("bad request layout");
  uint32_t type;
  uint64_t sector, written = 1;
  memcpy(&type, hdr, 4);
  memcpy(&sector, hdr + 8, 8);
  uint64_t at = sector * 512;
  uint8_t st = 0;
  for (unsigned i = 1; i + 1 < n && (type == 0 || type == 1); i++) {
    uint8_t *buf = translate(d[i]->addr, d[i]->len);
    if (!buf) die("descriptor outside every region");
    if (at > DISK_SIZE || d[i]->len > DISK_SIZE - at) {
      st = 1;
      break;
    }
    if (type == 0) memcpy(buf, disk + at, d[i]->len), written += d[i]->len;
    else memcpy(disk + at, buf, d[i]->len);
    at += d[i]->len;
  }
  if (type != 0 && type != 1 && type != 4 && type != 11) st = 2;
  *status = st;
  return (uint32_t)written;
}

static void push_used(struct vring *vr, uint32_t id, uint32_t len) {
  volatile uint16_t *idx = translate(vr->used_addr + 2, 2);
  struct used_elem *ring = translate(vr->used_addr + 4, 8ull * vr->num);
  ring[*idx % vr->num] = (struct used_elem){id, len};
  __atomic_thread_fence(__ATOMIC_RELEASE);
  *idx = (uint16_t)(*idx + (mode("used-idx-jump") ? 1000 : 1));
}

static void process(struct vring *vr) {
  uint64_t count;
  if (read(vr->kick, &count, sizeof count) < 0) return;
  volatile uint16_t *avail_idx = translate(vr->avail_addr + 2, 2);
  uint16_t *avail_ring = translate(vr->avail_addr + 4, 2ull * vr->num);
  if (!avail_idx || !avail_ring) die("rings outside every region");
  int pushed = 0;
  while (vr->last_avail != *avail_idx) {
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    uint16_t head = avail_ring[vr->last_avail % vr->num];
    vr->last_avail++;
    if (mode("hang-up")) exit(0);   // mid-request: the chain is taken, never answered
    if (mode("stall")) continue;
    uint32_t len = serve(vr, head);
    if (mode("used-id-out-of-range")) head = (uint16_t)(vr->num + 7);
    if (mode("used-len-oversized")) len += 4096;
    push_used(vr, head, len);
    if (mode("used-id-duplicate")) push_used(vr, head, len);
    pushed = 1;
  }
  if (pushed && mode("complete-then-hang-up")) exit(0);  // used entries written, no call
  uint64_t one = 1;
  if (pushed && vr->call >= 0 && write(vr->call, &one, sizeof one) < 0) die("call");
}

// Receives one message; fds (at most 8) go to fds[], their count to *nfds.
static int receive(struct header *h, uint8_t *payload, int *fds, int *nfds) {
  char control[CMSG_SPACE(8 * sizeof(int))];
  struct iovec iov = {h, sizeof *h};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n = recvmsg(sock, &msg, MSG_WAITALL);
  if (n != sizeof *h) return -1;
  *nfds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_type != SCM_RIGHTS) continue;
    *nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    memcpy(fds, CMSG_DATA(c), *nfds * sizeof(int));
  }
  if (h->size > 4096) die("oversized message");
  if (h->size && recv(sock, payload, h->size, MSG_WAITALL) != (ssize_t)h->size) return -1;
  return 0;
}

static void handle(const struct header *h, uint8_t *payload, const int *fds, int nfds) {
  uint64_t u64;
  memcpy(&u64, payload, 8);
  uint32_t index = (uint32_t)u64 & 0xff;
  struct vring *vr = &vrings[index < MAX_QUEUES ? index : 0];
  int fd = nfds ? fds[0] : -1;
  switch (h->request) {
    case GET_FEATURES: {
      uint64_t f = F_VERSION_1 | F_PROTOCOL_FEATURES | F_SIZE_MAX | F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_MQ |
                   F_DISCARD;
      return reply_u64(h->request, f);
    }
    case GET_PROTOCOL_FEATURES: {
      uint64_t p = PROTO_MQ | PROTO_CONFIG | PROTO_MEM_SLOTS;
      // As qemu-storage-daemon, except where a test needs unacknowledged sends.
      if (!mode("stop-reading")) p |= PROTO_REPLY_ACK;
      return reply_u64(h->request, p);
    }
    case SET_PROTOCOL_FEATURES: protocol_features = u64; break;
    case GET_QUEUE_NUM:
      return reply_u64(h->request, mode("queue-num-0") ? 0 : mode("queues-max") ? 65535 : 1);
    case GET_MAX_MEM_SLOTS: return reply_u64(h->request, MAX_REGIONS);
    case GET_CONFIG: {
      uint32_t size;
      memcpy(&size, payload + 4, 4);
      if (size > 60) size = 60;
      uint8_t msg[12 + 60] = {0};
      memcpy(msg, payload, 12);
      memcpy(msg + 4, &size, 4);
      fill_config(msg + 12);
      config_reads++;
      return reply(h->request, msg, 12 + size);
    }
    case ADD_MEM_REG: add_region((const uint64_t *)payload, fd); break;
    case REM_MEM_REG: remove_region((const uint64_t *)payload, fd); break;
    case SET_VRING_NUM: vr->num = ((const uint32_t *)payload)[1]; break;
    case SET_VRING_ADDR: {
      const uint64_t *a = (const uint64_t *)(payload + 8);
      vr->desc_addr = a[0], vr->used_addr = a[1], vr->avail_addr = a[2];
      break;
    }
    case SET_VRING_BASE: vr->last_avail = (uint16_t)((const uint32_t *)payload)[1]; break;
    case SET_VRING_KICK: vr->kick = fd; break;
    case SET_VRING_CALL: vr->call = fd; break;
    case SET_VRING_ENABLE: started = 1; break;
    case SET_OWNER: case SET_FEATURES: break;
    default: die("unexpected request %u", h->request);
  }
  if (!(h->flags & NEED_REPLY_FLAG) || !(protocol_features & PROTO_REPLY_ACK)) return;
  if (mode("no-ack") || (mode("no-ack-after-start") && started && h->request != SET_VRING_ENABLE)) return;
  reply_u64(h->request, 0);
}

int main(int argc, char **argv) {
  if (argc < 2) die("usage: evil_backend SOCKET [MODE...]\n%s", usage_text);
  modes = argv + 2, nmodes = argc - 2;
  for (unsigned i = 0; i < DISK_SIZE; i++) disk[i] = (uint8_t)(i * 7 + 3);
  for (int i = 0; i < MAX_QUEUES; i++) vrings[i].kick = vrings[i].call = -1;

  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
  unlink(addr.sun_path);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1)) die("cannot listen");
  printf("ready\n");
  fflush(stdout);
  sock = accept(listener, NULL, NULL);
  if (sock < 0) die("accept");

  for (;;) {
    struct pollfd p[1 + MAX_QUEUES];
    int stop_reading = mode("stop-reading") && started;
    p[0] = (struct pollfd){sock, stop_reading ? 0 : POLLIN, 0};
    for (int i = 0; i < MAX_QUEUES; i++) p[1 + i] = (struct pollfd){vrings[i].kick, POLLIN, 0};
    if (poll(p, 1 + MAX_QUEUES, -1) < 0) continue;
    if (p[0].revents & (POLLHUP | POLLERR)) return 0;
    if (p[0].revents & POLLIN) {
      struct header h;
      uint8_t payload[4096] = {0};
      int fds[8], nfds = 0;
      if (receive(&h, payload, fds, &nfds) < 0) return 0;
      handle(&h, payload, fds, nfds);
      continue;  // messages first: a kick may refer to a region just added
    }
    for (int i = 0; i < MAX_QUEUES; i++)
      if (p[1 + i].revents & POLLIN) process(&vrings[i]);
  }
}
