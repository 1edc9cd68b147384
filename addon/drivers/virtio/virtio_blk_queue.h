// One virtio-blk queue: libblkio requests as descriptor chains on a split
// virtqueue (header, [discard/write-zeroes segment], data, status), kicks
// through the kick eventfd, waits on the call eventfd (the completion fd).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "../../core/driver.h"
#include "../../core/fifo.h"
#include "address_map.h"
#include "virtio_spec.h"
#include "virtio_transport.h"
#include "virtqueue.h"

namespace blkio::virtio {

// What the device supports, as negotiated at connect.
struct BlkQueueParams {
  bool flush = false;
  bool discard = false;
  bool write_zeroes = false;
  uint32_t max_segment_len = 0;       // 0: only the descriptor's 32-bit length limits
  uint64_t max_discard_bytes = 0;      // per chain, a multiple of the block size
  uint64_t max_write_zeroes_bytes = 0;
};

// A device's queues share this. When one of them meets a used ring entry no
// correct device writes (an id out of range or not in flight, a length past
// the chain's writable bytes, an index running past the requests in flight),
// the device counts as failed, like a vanished backend: every outstanding
// and later request fails with EIO, and blocked waiters wake up.
class DeviceFault {
 public:
  bool failed() const { return why_.load(std::memory_order_acquire) != nullptr; }
  const char* message() const { return why_.load(std::memory_order_acquire); }
  // Call fds to signal when the device fails (set before the queues run).
  void set_wake_fds(std::vector<int> fds) { wake_fds_ = std::move(fds); }
  // why: a static message for the failed requests. The first call wins.
  void raise(const char* why);

 private:
  std::atomic<const char*> why_{nullptr};
  std::vector<int> wake_fds_;
};

// Per-request device-visible memory, one per descriptor head, after the rings.
struct RequestSlot {
  blk::OutHeader header;
  blk::DiscardWriteZeroes segment;
  uint8_t status;
  uint8_t pad[15];
};
static_assert(sizeof(RequestSlot) == 48, "keep slots small and 16-byte aligned");

class VirtioBlkQueue;

// The live queues by virtqueue index, for the transport's reconnect thread
// (a queue may be removed at any time, so the table has a lock).
class QueueTable {
 public:
  void resize(size_t n) { queues_.assign(n, nullptr); }
  void add(unsigned vq, VirtioBlkQueue* q);
  void remove(unsigned vq, VirtioBlkQueue* q);
  // The base the new device starts virtqueue vq at, after the queue there
  // (if any) re-offered its unfinished requests; `idle` when there is none.
  uint16_t resume(unsigned vq, uint16_t idle);

 private:
  std::mutex mu_;
  std::vector<VirtioBlkQueue*> queues_;
};

struct BlkQueueSetup {
  BlkQueueParams params;
  VirtioTransport* transport = nullptr;
  DeviceFault* fault = nullptr;
  const AddressMap* addresses = nullptr;
  uint8_t* mem = nullptr;   // the queue's block of the ring memory
  uint64_t mem_device = 0;  // the same, as the device addresses it
  VirtqueueLayout layout;
  unsigned size = 0;
  bool event_idx = false;
  int kick_fd = -1;
  volatile uint16_t* doorbell = nullptr;  // where the transport has one: kicks are a store of index
  uint16_t index = 0;                     // the virtqueue's index
  int call_fd = -1;
  bool poll = false;
  // The transport reconnects to a restarted backend: requests may be
  // re-offered from another thread (resume), and overlapping writes are
  // kept off the ring together so a re-offered one never lands late.
  bool reconnect = false;
  QueueTable* table = nullptr;
  unsigned vq_index = 0;
};

class VirtioBlkQueue : public QueueDriver {
 public:
  explicit VirtioBlkQueue(const BlkQueueSetup& setup);
  ~VirtioBlkQueue() override;

  int enqueue(Request* req, const char** error_msg) override;
  int submit(unsigned wait_for, const Deadline& deadline) override;
  int reap(Finished* out, int max) override;
  int completion_fd() const override { return poll_ ? -1 : call_fd_; }
  void set_completion_fd_enabled(bool enabled) override;
  void quiesce(unsigned in_flight) override;

  // Called from the transport's thread after a reconnect, before the new
  // device's ring is set up: puts the requests the old device left
  // unfinished on the avail ring again (in submission order) and returns
  // the avail index the new device must start at.
  uint16_t resume();

 private:
  enum class Shape { Data, Ranged, Flush };  // what follows the header

  // Fills a chain taken with alloc_chain, descriptor by descriptor.
  struct ChainWriter {
    SplitVirtqueue* vq;
    uint16_t next;
    unsigned left;
    void add(uint64_t addr, uint32_t len, bool device_writable) {
      vq->set(next, addr, len, device_writable, --left == 0);
      next = vq->next(next);
    }
  };

  // Descriptors the request's data takes (buffers longer than a segment may be split).
  unsigned data_descriptors(const Request& req) const;
  unsigned segments(size_t len) const;
  // Bytes of a discard/write-zeroes request the next chain covers.
  uint64_t range_chunk(const Request& req) const;
  bool translate_buffers(const Request& req, uint64_t* buf_device) const;
  void write_chain(const Request& req, Shape shape, uint16_t head, unsigned count, uint64_t buf_device);
  void add_data(ChainWriter* chain, uint64_t addr, size_t len, bool device_writable) const;
  int finish(Request* req, uint8_t status, const char** msg);
  void complete_at_once(Request* req);
  int fail_in_flight(Finished* out, int max);
  // A write overlapping a write on the ring waits (kFull) with reconnect_.
  bool overlaps_write_in_flight(const Request& req) const;
  void forget_head(uint16_t head);
  std::unique_lock<std::mutex> ring_lock() {
    return reconnect_ ? std::unique_lock<std::mutex>(ring_mu_) : std::unique_lock<std::mutex>();
  }
  // The device is unusable: disconnected, or found broken by any queue.
  bool gone() const { return fault_->failed() || transport_->disconnected(); }
  const char* gone_message() const { return fault_->failed() ? fault_->message() : transport_->disconnect_message(); }
  // Marks the device failed and asks the transport to stop it.
  void device_broken(const char* why);
  // Checks a used entry against what we put on the ring; null when it is sane.
  const char* insane_used(uint16_t head, uint32_t len) const;
  int wait(unsigned want, const Deadline& deadline);
  int spin(unsigned want, const Deadline& deadline);
  void restore_interrupts();
  void kick();
  void signal_self();
  void drain_call_fd();

  BlkQueueParams params_;
  VirtioTransport* transport_;
  DeviceFault* fault_;
  const AddressMap* addresses_;
  SplitVirtqueue vq_;
  RequestSlot* slots_;
  uint64_t slots_device_;
  int kick_fd_;
  volatile uint16_t* doorbell_;
  uint16_t index_;
  int call_fd_;
  bool poll_;
  bool reconnect_;
  QueueTable* table_;
  unsigned vq_index_;
  // Held by this queue's thread around ring updates and by resume(); only
  // taken when reconnect_ is set.
  std::mutex ring_mu_;
  bool fd_enabled_ = false;
  std::vector<Request*> in_flight_by_head_;
  std::vector<uint64_t> writable_by_head_;  // bytes the device may write into the chain
  std::vector<uint64_t> seq_by_head_;       // submission order, for resume()
  uint64_t next_seq_ = 0;
  std::vector<uint16_t> writes_in_flight_;  // heads of writes/discards (reconnect_ only)
  unsigned in_flight_ = 0;
  Fifo<Finished> done_now_;  // finished without the device (flush with no F_FLUSH)
};

}  // namespace blkio::virtio
