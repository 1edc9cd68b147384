#include "zone_worker.h"

#include <linux/blkzoned.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

namespace blkio {

namespace {

constexpr unsigned kSectorShift = 9;
constexpr uint32_t kReportChunk = 256;  // zones per BLKREPORTZONE call

const char* errno_text(int err) { return strerrordesc_np(err); }

// The kernel's zone, in bytes, checked: a zone that is not where we asked,
// or a write pointer outside it, is reported as offline rather than passed on.
Zone to_zone(const blk_zone& k, uint32_t report_flags) {
  Zone z;
  memset(&z, 0, sizeof z);
  z.start = k.start << kSectorShift;
  z.len = k.len << kSectorShift;
  z.capacity = (report_flags & BLK_ZONE_REP_CAPACITY) ? k.capacity << kSectorShift : z.len;
  z.type = k.type;
  z.state = k.cond;
  z.reset = k.reset;
  // Conventional zones have no write pointer (the kernel's value is -1).
  bool has_wp = k.type != BLK_ZONE_TYPE_CONVENTIONAL && k.cond != BLK_ZONE_COND_NOT_WP &&
                k.cond != BLK_ZONE_COND_OFFLINE;
  z.write_pointer = has_wp ? k.wp << kSectorShift : UINT64_MAX;
  if (has_wp && (k.wp < k.start || k.wp - k.start > k.len)) z.write_pointer = UINT64_MAX, z.state = ZONE_STATE_OFFLINE;
  return z;
}

// Reports up to max zones from offset into out; returns the count or -errno.
int report(int fd, uint64_t offset, Zone* out, uint32_t max, const char** msg) {
  std::vector<uint8_t> buf(sizeof(blk_zone_report) + kReportChunk * sizeof(blk_zone));
  auto* rep = reinterpret_cast<blk_zone_report*>(buf.data());
  uint32_t got = 0;
  uint64_t sector = offset >> kSectorShift;
  while (got < max) {
    uint32_t want = max - got < kReportChunk ? max - got : kReportChunk;
    memset(rep, 0, sizeof *rep);
    rep->sector = sector;
    rep->nr_zones = want;
    if (ioctl(fd, BLKREPORTZONE, rep) < 0) {
      int err = errno;
      *msg = err == ENOTTY ? "BLKREPORTZONE: not a zoned block device" : errno_text(err);
      return -(err == ENOTTY ? ENOTSUP : err);
    }
    uint32_t n = rep->nr_zones < want ? rep->nr_zones : want;  // never more than the buffer holds
    if (n == 0) break;
    for (uint32_t i = 0; i < n; i++) out[got + i] = to_zone(rep->zones[i], rep->flags);
    got += n;
    const blk_zone& last = rep->zones[n - 1];
    if (last.len == 0) break;
    sector = last.start + last.len;
  }
  return int(got);
}

unsigned long zone_ioctl(int action) {
  switch (action) {
    case 0: return BLKOPENZONE;
    case 1: return BLKCLOSEZONE;
    case 2: return BLKFINISHZONE;
    default: return BLKRESETZONE;
  }
}

int manage(int fd, int action, uint64_t start, uint64_t len, const char** msg) {
  blk_zone_range range{start >> kSectorShift, len >> kSectorShift};
  if (ioctl(fd, zone_ioctl(action), &range) == 0) return 0;
  int err = errno;
  *msg = err == ENOTTY ? "zone management ioctl: not a zoned block device" : errno_text(err);
  return -(err == ENOTTY ? ENOTSUP : err);
}

// Whether an "all zones" action applies to a zone in this state (the zoned
// command sets' select-all rules): open closed zones; close open ones;
// finish open and closed ones.
bool applies_to(int action, uint8_t state) {
  bool open = state == ZONE_STATE_IMP_OPEN || state == ZONE_STATE_EXP_OPEN;
  switch (action) {
    case 0: return state == ZONE_STATE_CLOSED;
    case 1: return open;
    case 2: return open || state == ZONE_STATE_CLOSED;
    default: return false;
  }
}

int manage_all(const ZoneTarget& t, int action, const char** msg) {
  // Reset: the whole device in one call (the kernel skips conventional zones).
  if (action == 3) return manage(t.fd, action, 0, t.capacity, msg);
  std::vector<Zone> zones(kReportChunk);
  uint64_t offset = 0;
  while (offset < t.capacity) {
    int n = report(t.fd, offset, zones.data(), kReportChunk, msg);
    if (n <= 0) return n;
    for (int i = 0; i < n; i++) {
      const Zone& z = zones[size_t(i)];
      if (z.type == ZONE_TYPE_CONVENTIONAL || !applies_to(action, z.state)) continue;
      int r = manage(t.fd, action, z.start, z.len, msg);
      if (r < 0) return r;
    }
    const Zone& last = zones[size_t(n - 1)];
    if (last.len == 0) break;
    offset = last.start + last.len;
  }
  return 0;
}

}  // namespace

int run_zone_request(const ZoneTarget& t, Request* req, const char** msg) {
  switch (req->type) {
    case RequestType::ReportZones:
      return report(t.fd, req->start, static_cast<Zone*>(req->buf), uint32_t(req->len), msg);
    case RequestType::ZoneOpen:
    case RequestType::ZoneClose:
    case RequestType::ZoneFinish:
    case RequestType::ZoneReset:
      return manage(t.fd, zone_action(req->type), req->start, t.zone_size, msg);
    case RequestType::ZoneOpenAll:
    case RequestType::ZoneCloseAll:
    case RequestType::ZoneFinishAll:
    case RequestType::ZoneResetAll:
      return manage_all(t, zone_action(req->type), msg);
    default:
      *msg = "not a zone request";
      return -EINVAL;
  }
}

ZoneWorker::~ZoneWorker() {
  stop_and_wait();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ZoneWorker::post(Request* req) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!thread_.joinable()) {
      try {
        thread_ = std::thread([this] { run(); });
      } catch (const std::system_error&) {
        return false;  // no thread to be had (resource limits)
      }
    }
    jobs_.push_back(req);
  }
  wake_.notify_one();
  return true;
}

void ZoneWorker::stop_and_wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  jobs_.clear();
  idle_.wait(lock, [this] { return !busy_; });
}

void ZoneWorker::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping
    Request* req = jobs_.front();
    jobs_.pop_front();
    busy_ = true;
    lock.unlock();
    const char* msg = nullptr;
    int ret = run_zone_request(target_, req, &msg);
    req->side_result = ret;
    req->side_msg = ret < 0 ? msg : nullptr;
    uint64_t one = 1;
    ssize_t w = write(req->side_fd, &one, sizeof one);
    (void)w;
    lock.lock();
    busy_ = false;
    idle_.notify_all();
  }
}

}  // namespace blkio
