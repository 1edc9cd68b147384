#include "zbd.h"

#include <algorithm>
#include <cerrno>
#include <climits>

namespace blkio::bench {

ZoneTable::ZoneTable(const ZbdSpec& spec, uint64_t region_len, bool random, bool mixed, bool verify, uint32_t min_read,
                     uint32_t min_write)
    : open_list_(size_t(spec.max_open) + 1, 0),  // one slot past the limit stays 0, as fio's larger array does
      zone_size_(std::max<uint64_t>(1, spec.zone_size)),
      region_len_(region_len),
      max_open_(spec.max_open),
      job_max_open_(spec.job_max_open),
      threshold_(spec.reset_threshold),
      frequency_(spec.reset_frequency),
      random_(random),
      mixed_(mixed),
      verify_(verify),
      read_beyond_wp_(spec.read_beyond_wp),
      min_read_(std::max<uint32_t>(1, min_read)),
      min_write_(std::max<uint32_t>(1, min_write)) {
  zones_.reserve(spec.zones.size());
  for (size_t i = 0; i < spec.zones.size(); i++) {
    const ZoneInit& in = spec.zones[i];
    Zone z{};
    z.start = uint64_t(i) * zone_size_;
    uint64_t cap = std::min(in.capacity, zone_size_);
    z.cap_end = z.start + cap;
    z.has_wp = in.kind != kZoneConventional;
    z.offline = in.kind == kZoneOffline;
    // A conventional zone reads as written throughout (it has no write pointer).
    z.wp = z.has_wp ? z.start + std::min(in.written, cap) : z.cap_end;
    data_bytes_ += z.wp - z.start;
    if (z.has_wp) wp_data_bytes_ += z.wp - z.start;
    zones_.push_back(z);
  }
  if (zones_.empty()) zones_.push_back(Zone{0, 0, 0, false, true, false, false});  // never chosen: offline
  for (size_t i = 0; i < spec.zones.size(); i++)
    if (spec.zones[i].kind == kZoneOpen) open_zone(uint32_t(i));
  // Writes until the next threshold reset: 1 / zone_reset_frequency.
  write_cnt_ = frequency_ > 0 ? uint64_t(std::min(1.0 / frequency_, double(UINT_MAX))) : UINT_MAX;
}

uint32_t ZoneTable::zone_of(uint64_t rel) const {
  return uint32_t(std::min<uint64_t>(rel / zone_size_, zones_.size() - 1));
}

// One of the open zones, picked by where the drawn offset lies in the region.
uint32_t ZoneTable::pick_open(uint64_t rel) const {
  return uint32_t(std::min<uint64_t>(rel, region_len_) * num_open_ / std::max<uint64_t>(1, region_len_));
}

ZoneTable::Outcome ZoneTable::fail(int err, std::string msg) {
  error_ = err;
  message_ = std::move(msg);
  stage_ = kFresh;
  return kFail;
}

ZoneTable::Outcome ZoneTable::adjust(uint8_t dir, uint64_t& rel, uint32_t& len, size_t outstanding) {
  if (dir == 0) return read(rel, len);
  return write(rel, len, outstanding);
}

// A zone with at least min_bytes below its write pointer, nearest after
// `from` (and, for random jobs, before it too), or -1.
int ZoneTable::find_readable(uint32_t from, uint32_t min_bytes) const {
  int64_t n = int64_t(zones_.size());
  for (int64_t up = int64_t(from) + 1, down = int64_t(from) - 1; up < n || down >= 0; up++, down--) {
    if (up < n && !zones_[size_t(up)].offline) {
      const Zone& z = zones_[size_t(up)];
      if (z.start + min_bytes <= z.wp) return int(up);
    } else if (!random_) {
      break;
    }
    if (random_ && down >= 0 && !zones_[size_t(down)].offline) {
      const Zone& z = zones_[size_t(down)];
      if (z.start + min_bytes <= z.wp) return int(down);
    }
  }
  return -1;
}

// Reads stay below the write pointer: another zone with data when this one
// has too little, and shortened where they would cross it.
ZoneTable::Outcome ZoneTable::read(uint64_t& rel, uint32_t& len) {
  uint32_t zi = zone_of(rel);
  const uint64_t drawn_zone_start = zones_[zi].start;
  if (!zones_[zi].has_wp) return kAccept;
  if (read_beyond_wp_ && !zones_[zi].offline) return kAccept;
  const Zone* z = &zones_[zi];
  uint64_t range = z->offline ? 0 : z->wp - z->start;
  if (range < min_read_ || (!random_ && rel + min_read_ > z->wp)) {
    int found = find_readable(zi, min_read_);
    if (found < 0) return kEof;
    z = &zones_[size_t(found)];
    range = z->wp - z->start;
    if (!random_) rel = z->start;
  }
  if (range <= len) rel = z->start;
  else if (random_) rel = z->start + ((rel - drawn_zone_start) % (range - len)) / min_read_ * min_read_;
  if (!z->has_wp) return kAccept;
  uint64_t room = z->wp - rel;
  uint64_t shorter = std::min<uint64_t>(len, room) / min_read_ * min_read_;
  if (shorter < len) len = uint32_t(shorter);
  return kAccept;
}

ZoneTable::Outcome ZoneTable::write(uint64_t& rel, uint32_t& len, size_t outstanding) {
  uint32_t zone = 0;
  switch (stage_) {
    case kScanAfterDrain:
      stage_ = kFresh;
      if (scan(pending_zone_, zone) != kAccept) return kEof;
      pending_zone_ = zone;
      return chosen(rel, len, outstanding);
    case kResetAfterDrain:
      return reset_or_write(rel, len);
    case kAfterReset:
      stage_ = kFresh;
      return finish_write(rel, len);
    case kFresh:
      break;
  }
  if (len > zone_size_)
    return fail(EINVAL, "block size " + std::to_string(len) + " is larger than the zone size " + std::to_string(zone_size_));
  uint32_t zi = zone_of(rel);
  const Zone& zb = zones_[zi];
  if (!zb.has_wp) {
    // A conventional zone takes writes anywhere, but not across into a sequential zone after it.
    if (zi + 1 >= zones_.size() || !zones_[zi + 1].has_wp || rel + len <= zones_[zi + 1].start) return kAccept;
    uint64_t fit = zones_[zi + 1].start - rel;
    len = uint32_t(std::min<uint64_t>(len, fit) / min_write_ * min_write_);
    return len > 0 ? kAccept : kEof;
  }
  if (open_zone(zi)) {
    zone = zi;
  } else {
    Outcome r = convert(rel, outstanding, zone);
    if (r != kAccept) return r;
  }
  pending_zone_ = zone;
  return chosen(rel, len, outstanding);
}

// The write goes to pending_zone_: reset it first when it is full or the
// reset threshold says so, after the requests in flight have completed.
ZoneTable::Outcome ZoneTable::chosen(uint64_t& rel, uint32_t& len, size_t outstanding) {
  Zone& z = zones_[pending_zone_];
  if (frequency_ > 0 && double(wp_data_bytes_) >= double(region_len_) * threshold_) {
    if (write_cnt_ > 0) write_cnt_--;
    if (write_cnt_ == 0) {
      write_cnt_ = uint64_t(std::min(1.0 / frequency_, double(UINT_MAX)));
      z.reset_flag = true;
    }
  }
  if (!z.reset_flag && !full(z)) return finish_write(rel, len);
  if (verify_) return fail(EINVAL, "a zone would be reset under verify (its verified data would be lost)");
  if (outstanding > 0) {
    stage_ = kResetAfterDrain;
    return kDrain;
  }
  return reset_or_write(rel, len);
}

// Nothing in flight: reset the zone (when it holds data), then write.
ZoneTable::Outcome ZoneTable::reset_or_write(uint64_t& rel, uint32_t& len) {
  Zone& z = zones_[pending_zone_];
  z.reset_flag = false;
  if (z.wp != z.start) {
    stage_ = kAfterReset;
    return kReset;
  }
  stage_ = kFresh;
  return finish_write(rel, len);
}

// The write starts at the zone's write pointer, shortened to what the zone has room for.
ZoneTable::Outcome ZoneTable::finish_write(uint64_t& rel, uint32_t& len) {
  Zone& z = zones_[pending_zone_];
  if (z.cap_end - z.start < min_write_)
    return fail(EINVAL, "zone capacity " + std::to_string(z.cap_end - z.start) + " is smaller than the block size " +
                            std::to_string(min_write_));
  uint64_t room = z.cap_end > z.wp ? z.cap_end - z.wp : 0;
  uint64_t fit = std::min<uint64_t>(len, room) / min_write_ * min_write_;
  if (fit < min_write_) return fail(EIO, "zone remainder " + std::to_string(room) + " is smaller than the block size");
  rel = z.wp;
  len = uint32_t(fit);
  uint64_t end = std::min(rel + len, z.cap_end);
  data_bytes_ += end - z.wp;
  wp_data_bytes_ += end - z.wp;
  z.wp = end;  // as issued: the next write goes after this one
  return kAccept;
}

// A zone the job may write now: fio's open-zone accounting (only with a limit).
bool ZoneTable::open_zone(uint32_t zone) {
  Zone& z = zones_[zone];
  if (z.offline) return false;
  if (verify_ && full(z)) return false;  // resetting it would lose verified data
  if (max_open_ == 0) return true;
  if (z.open) return z.wp < z.cap_end;  // filled by writes in flight: as good as full
  if (job_max_open_ > 0 && num_open_ >= job_max_open_) return false;
  if (num_open_ >= max_open_) return false;
  open_list_[num_open_++] = zone;
  z.open = true;
  return true;
}

void ZoneTable::close_zone(uint32_t zone) {
  uint32_t i = 0;
  while (i < num_open_ && open_list_[i] != zone) i++;
  if (i == num_open_) return;
  // Shift the whole list (stale entries too: a later pick with none open reads slot 0).
  for (size_t j = i; j + 1 < open_list_.size(); j++) open_list_[j] = open_list_[j + 1];
  num_open_--;
  zones_[zone].open = false;
}

// A write to a zone the job may not open now goes to one it holds open, or
// opens the next one that takes it.
ZoneTable::Outcome ZoneTable::convert(uint64_t rel, size_t outstanding, uint32_t& out) {
  const bool tracking = max_open_ > 0;
  const uint32_t n = uint32_t(zones_.size());
  uint32_t idx = tracking ? open_list_[pick_open(rel)] : zone_of(rel);
  if (idx >= n) idx = n - 1;
  bool examine = true;
  for (;;) {
    const Zone& z = zones_[idx];
    if (z.has_wp) {
      if (!z.offline && !tracking) break;
      if (num_open_ == 0) {
        examine = false;
        break;
      }
    }
    if (num_open_ == 0) return kEof;
    uint32_t slot = pick_open(rel);
    if (slot >= num_open_) slot = 0;
    uint32_t candidate = open_list_[slot];
    if (candidate == idx) break;
    idx = candidate;
  }
  if (examine && zones_[idx].wp + min_write_ <= zones_[idx].cap_end) {
    out = idx;
    return kAccept;
  }
  bool at_limit = num_open_ == n || (max_open_ > 0 && num_open_ == max_open_) || (job_max_open_ > 0 && num_open_ == job_max_open_);
  if (at_limit && outstanding > 0) {
    // Writes in flight may fill and so close a zone: let them complete first.
    stage_ = kScanAfterDrain;
    pending_zone_ = idx;
    return kDrain;
  }
  return scan(idx, out);
}

// The next zone after idx (wrapping) that can be opened, else an open one with room.
ZoneTable::Outcome ZoneTable::scan(uint32_t idx, uint32_t& out) {
  const uint32_t n = uint32_t(zones_.size());
  for (uint64_t i = region_len_ / zone_size_; i > 0; i--) {
    if (++idx >= n) idx = 0;
    const Zone& z = zones_[idx];
    if (!z.has_wp || z.open) continue;
    if (open_zone(idx)) {
      out = idx;
      return kAccept;
    }
  }
  for (uint32_t i = 0; i < num_open_; i++) {
    const Zone& z = zones_[open_list_[i]];
    if (z.wp + min_write_ <= z.cap_end) {
      out = open_list_[i];
      return kAccept;
    }
  }
  return kEof;
}

void ZoneTable::reset_done(uint32_t zone) {
  Zone& z = zones_[zone];
  uint64_t data = z.wp - z.start;
  data_bytes_ -= data;
  wp_data_bytes_ -= data;
  z.wp = z.start;
  resets_++;
}

void ZoneTable::write_completed(uint64_t rel, uint32_t len) {
  uint32_t zi = zone_of(rel);
  if (zones_[zi].has_wp && rel + len >= zones_[zi].cap_end) close_zone(zi);
}

}  // namespace blkio::bench
