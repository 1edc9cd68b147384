// fio's zonemode=zbd for the job loop: a table of the job's zones (write
// pointers as issued, which zones the job holds open) that moves each drawn
// request to where a zoned device accepts it: writes at a write pointer of a
// zone the job may have open, reads below a write pointer. Pure logic with no
// I/O, so that it can be tested alone; src/blkbench/zbd.ts is the same
// table for the JS loop, decision for decision.
//
// A decision may need the loop's help before it completes: all requests in
// flight completed (kDrain), or a zone reset done on the device (kReset).
// The loop then calls adjust() again with the same request and it continues
// where it stopped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace blkio::bench {

// What a zone is when the job starts.
enum ZoneKind : uint8_t { kZoneConventional = 0, kZoneSequential = 1, kZoneOpen = 2, kZoneOffline = 3 };

struct ZoneInit {
  uint64_t capacity;  // writable bytes from the zone's start
  uint64_t written;   // write pointer - start (capacity for a conventional zone)
  uint8_t kind;       // ZoneKind
};

struct ZbdSpec {
  bool enabled = false;
  uint64_t zone_size = 0;
  std::vector<ZoneInit> zones;  // the zones of the job's region, from its start
  uint32_t max_open = 0;        // 0: open zones are not tracked
  uint32_t job_max_open = 0;
  double reset_threshold = 1;
  double reset_frequency = 0;
  bool read_beyond_wp = false;
  // The zones have no device behind them (fio's zones on a regular file or
  // block device): a reset only moves the table's write pointer.
  bool emulated = false;
};

class ZoneTable {
 public:
  enum Outcome { kAccept, kEof, kDrain, kReset, kFail };

  // region_len: the job's region (a whole number of zones); min_bs: the
  // smallest read and write sizes.
  ZoneTable(const ZbdSpec& spec, uint64_t region_len, bool random, bool mixed, bool verify, uint32_t min_read, uint32_t min_write);

  // Moves a request of the run phase (rel: offset in the region) to where the
  // device takes it; outstanding: requests in flight. kAccept: rel and len
  // are the request to issue (a write is then counted as issued); kReset:
  // reset zone reset_zone() on the device, then call reset_done() and adjust
  // again; kDrain: let every request in flight complete, then adjust again;
  // kFail: error()/message() say why.
  Outcome adjust(uint8_t dir, uint64_t& rel, uint32_t& len, size_t outstanding);
  // fio's first-read rule for mixed jobs: a read when nothing is written yet is a write.
  bool reads_possible() const { return !mixed_ || data_bytes_ > 0; }
  uint32_t reset_zone() const { return pending_zone_; }
  void reset_done(uint32_t zone);
  // A write finished successfully (device offsets relative to the region).
  void write_completed(uint64_t rel, uint32_t len);

  uint64_t resets() const { return resets_; }
  uint32_t open_count() const { return num_open_; }
  uint64_t write_pointer(uint32_t zone) const { return zones_[zone].wp; }
  bool is_open(uint32_t zone) const { return zones_[zone].open; }
  size_t zone_count() const { return zones_.size(); }
  int error() const { return error_; }
  const std::string& message() const { return message_; }

 private:
  struct Zone {
    uint64_t start, cap_end, wp;  // region-relative
    bool has_wp, offline, open, reset_flag;
  };
  enum Stage { kFresh, kScanAfterDrain, kResetAfterDrain, kAfterReset };

  Outcome read(uint64_t& rel, uint32_t& len);
  Outcome write(uint64_t& rel, uint32_t& len, size_t outstanding);
  Outcome convert(uint64_t rel, size_t outstanding, uint32_t& chosen);
  Outcome scan(uint32_t idx, uint32_t& chosen);
  Outcome chosen(uint64_t& rel, uint32_t& len, size_t outstanding);
  Outcome reset_or_write(uint64_t& rel, uint32_t& len);
  Outcome finish_write(uint64_t& rel, uint32_t& len);
  bool open_zone(uint32_t zone);
  void close_zone(uint32_t zone);
  bool full(const Zone& z) const { return z.has_wp && z.wp + min_write_ > z.cap_end; }
  uint32_t zone_of(uint64_t rel) const;
  uint32_t pick_open(uint64_t rel) const;
  int find_readable(uint32_t from, uint32_t min_bytes) const;
  Outcome fail(int err, std::string msg);

  std::vector<Zone> zones_;
  std::vector<uint32_t> open_list_;  // max_open slots (fio keeps stale entries past num_open_)
  uint32_t num_open_ = 0;
  uint64_t zone_size_, region_len_;
  uint32_t max_open_, job_max_open_;
  double threshold_, frequency_;
  uint64_t write_cnt_ = 0;
  uint64_t data_bytes_ = 0;     // below write pointers, all zones
  uint64_t wp_data_bytes_ = 0;  // below write pointers, zones with one
  uint64_t resets_ = 0;
  bool random_, mixed_, verify_, read_beyond_wp_;
  uint32_t min_read_, min_write_;
  Stage stage_ = kFresh;
  uint32_t pending_zone_ = 0;
  int error_ = 0;
  std::string message_;
};

}  // namespace blkio::bench
