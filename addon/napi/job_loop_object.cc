// startJobLoop(nativeQueue, spec, progress, onDone, switchTargets) -> handle; stopJobLoop(handle).
//
// The loop claims the core queue (JS doIo on it gets EBUSY meanwhile), gets
// its request buffers in a region of its own (allocated and mapped here, so
// no JS code can free them under the device), and runs on a std::thread.
// When it ends, onDone(result) is called on the JS thread, which joins the
// thread and frees the region. A destroyed Blkio makes the loop return
// within a wait slice (Queue::shutdown waits for the claim); an exiting
// environment stops and joins it in a cleanup hook. Switch targets (other
// queues over the same image) are claimed too and get the region mapped.
#include "job_loop_object.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>

#include "../bench/job_loop.h"
#include "../bench/syscall_sink.h"
#include "../bench/cpu_sink.h"
#include "../bench/file_op_sink.h"
#include "../bench/net_sink.h"
#include "../bench/null_sink.h"
#include "../bench/pmemblk_sink.h"
#include "addon_data.h"
#include "errors.h"
#include "job_loop_programs.h"
#include "job_loop_spec.h"
#include "queue_object.h"

namespace blkio::napi {

namespace {

constexpr uint64_t kMaxJobMemory = uint64_t(1) << 30;

// Marks the handles startJobLoop returns, so that stopJobLoop never takes
// another External (the addon makes others) for one of ours.
constexpr napi_type_tag kJobLoopTag = {0x6a6f626c6f6f7021ull, 0x626c6b696f2d6e74ull};

struct JobLoopRun {
  napi_env env = nullptr;
  std::shared_ptr<Blkio> owner;
  std::shared_ptr<Queue> queue;
  MemRegion region{};
  bool region_mapped = false;
  // Switch targets: their queues and owners, and the owners (other than
  // owner) the region was mapped into.
  std::vector<std::shared_ptr<Queue>> target_queues;
  std::vector<std::shared_ptr<Blkio>> target_owners;
  std::vector<std::shared_ptr<Blkio>> mapped_into;
  std::unique_ptr<bench::JobLoop> loop;
  // A memory device's loop: its buffers, plain memory (no Blkio maps them).
  std::unique_ptr<uint8_t, decltype(&free)> heap_buffers{nullptr, &free};
  std::thread thread;
  Napi::ThreadSafeFunction on_done;
  Napi::Reference<Napi::Value> progress_ref;  // keeps the shared counters alive
  std::shared_ptr<JobLoopRun>* hook_holder = nullptr;
  bool finished = false;
  // On the loop's thread once the loop is done (an exec sink ends its program there).
  std::function<void()> after_run;
};

using RunHolder = std::shared_ptr<JobLoopRun>;

uint64_t round_up(uint64_t n, uint64_t align) { return align > 1 ? (n + align - 1) / align * align : n; }

[[noreturn]] void bad_spec(Napi::Env env, const std::string& what) { throw_blkio_error(env, -EINVAL, what.c_str()); }

// The plain-memory buffers of a loop whose sink is not a queue: a page-aligned
// slot of the largest block per request in flight. Checked before the sink
// is made (a net sink binds its port, a pmemblk sink opens its pool).
uint64_t slot_stride_in_heap(const bench::JobLoopSpec& spec) { return round_up(max_block_size(spec), 4096); }

uint64_t heap_buffer_bytes(Napi::Env env, const bench::JobLoopSpec& spec) {
  uint64_t mem_len = slot_stride_in_heap(spec) * uint64_t(spec.iodepth);
  if (mem_len > kMaxJobMemory)
    bad_spec(env, "job loop: iodepth x block size needs " + std::to_string(mem_len) + " bytes of buffers, more than 1 GiB");
  return mem_len;
}

void give_heap_buffers(Napi::Env env, JobLoopRun& run, bench::JobLoopSpec& spec, uint64_t mem_len) {
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, size_t(mem_len)) != 0) throw_blkio_error(env, -ENOMEM, "job loop: no memory for the buffers");
  run.heap_buffers.reset(static_cast<uint8_t*>(mem));
  std::memset(mem, 0, size_t(mem_len));
  spec.buffers = run.heap_buffers.get();
  spec.slot_stride = size_t(slot_stride_in_heap(spec));
}

// Frees the loop's region unless requests may still point into it (they do
// after a failed do_io or a shutdown: the Blkio frees it when destroyed).
void release_region(JobLoopRun& run) {
  if (!run.region_mapped) return;
  bool alive = run.queue->alive();
  for (auto& q : run.target_queues) alive = alive || q->alive();
  if (run.loop && run.loop->result().left_in_flight > 0 && alive) return;
  for (auto& b : run.mapped_into) b->unmap_mem_region(run.region);
  run.mapped_into.clear();
  run.owner->unmap_mem_region(run.region);
  run.owner->free_mem_region(run.region);  // ENODEV once destroyed: it is freed already
  run.region_mapped = false;
}

void cleanup_hook(void* arg) {
  auto* holder = static_cast<RunHolder*>(arg);
  JobLoopRun& run = **holder;
  run.hook_holder = nullptr;
  // Do not wait for a device that may never answer: the Blkio's own shutdown quiesces what is left.
  if (run.loop) run.loop->request_abandon();
  if (run.thread.joinable()) run.thread.join();
  run.progress_ref.Reset();
  delete holder;
}

Napi::Object stats_object(Napi::Env env, const bench::LatencyStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("n", double(s.n));
  o.Set("mean", s.mean());
  o.Set("m2", s.m2());
  o.Set("min", s.n ? double(s.min) : 0);
  o.Set("max", double(s.max));
  auto hist = Napi::Float64Array::New(env, bench::kPlatBuckets);
  for (int i = 0; i < bench::kPlatBuckets; i++) hist[size_t(i)] = double(s.hist[i]);
  o.Set("hist", hist);
  return o;
}

Napi::Object sample_object(Napi::Env env, const bench::SampleStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("n", double(s.n));
  o.Set("mean", s.mean);
  o.Set("m2", s.m2);
  o.Set("min", s.min);
  o.Set("max", s.max);
  return o;
}

Napi::Array counts_array(Napi::Env env, const uint64_t* counts) {
  Napi::Array a = Napi::Array::New(env, 7);
  for (uint32_t i = 0; i < 7; i++) a[i] = double(counts[i]);
  return a;
}

Napi::Object cpu_object(Napi::Env env, const bench::CpuUsage& c) {
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("usrNs", double(c.usr_ns));
  cpu.Set("sysNs", double(c.sys_ns));
  cpu.Set("ctx", double(c.ctx));
  cpu.Set("majf", double(c.majf));
  cpu.Set("minf", double(c.minf));
  return cpu;
}

Napi::Object result_object(Napi::Env env, const bench::JobLoopResult& r) {
  Napi::Object o = Napi::Object::New(env);
  const char* names[3] = {"read", "write", "trim"};
  for (int d = 0; d < 3; d++) {
    const bench::DirectionResult& dr = r.dir[d];
    Napi::Object dir = Napi::Object::New(env);
    dir.Set("ios", double(dr.ios));
    dir.Set("bytes", double(dr.bytes));
    dir.Set("slat", stats_object(env, dr.slat));
    dir.Set("clat", stats_object(env, dr.clat));
    dir.Set("lat", stats_object(env, dr.lat));
    dir.Set("bw", sample_object(env, dr.bw_kib));
    dir.Set("iops", sample_object(env, dr.iops));
    o.Set(names[d], dir);
  }
  Napi::Object depth = Napi::Object::New(env);
  depth.Set("level", counts_array(env, r.depth_level));
  depth.Set("submit", counts_array(env, r.depth_submit));
  depth.Set("complete", counts_array(env, r.depth_complete));
  o.Set("depth", depth);
  o.Set("cpu", cpu_object(env, r.cpu));
  o.Set("processCpu", cpu_object(env, r.process_cpu));
  o.Set("runtimeNs", double(r.runtime_ns));
  o.Set("elapsedNs", double(r.elapsed_ns));
  o.Set("error", r.error);
  o.Set("errorMessage", r.error ? Napi::Value(Napi::String::New(env, r.error_message)) : env.Null());
  o.Set("stopped", r.stopped);
  o.Set("verifiedBlocks", double(r.verified_blocks));
  o.Set("ignoredErrors", double(r.ignored_errors));
  o.Set("zoneResets", double(r.zone_resets));
  o.Set("droppedReads", double(r.dropped_reads));
  if (!r.trace.empty()) {
    // Test mode: the requests in the order issued, as [offset, length, direction, phase] rows.
    Napi::Array trace = Napi::Array::New(env, r.trace.size());
    for (size_t i = 0; i < r.trace.size(); i++) {
      const bench::TraceEntry& t = r.trace[i];
      Napi::Array row = Napi::Array::New(env, 4);
      row[0u] = double(t.offset);
      row[1u] = double(t.len);
      row[2u] = double(t.dir);
      row[3u] = double(t.phase);
      trace[uint32_t(i)] = row;
    }
    o.Set("trace", trace);
  }
  if (!r.log.empty()) {
    // Rows of [ms after the measured start, direction, slat ns, clat ns, length, offset].
    auto log = Napi::Float64Array::New(env, r.log.size() * 6);
    for (size_t i = 0; i < r.log.size(); i++) {
      const bench::LogSample& l = r.log[i];
      double* row = log.Data() + i * 6;
      row[0] = double(l.t_ns) / 1e6;
      row[1] = l.dir;
      row[2] = double(l.slat_ns);
      row[3] = double(l.clat_ns);
      row[4] = l.len;
      row[5] = double(l.offset);
    }
    o.Set("log", log);
  }
  o.Set("leftInFlight", double(r.left_in_flight));
  if (!r.segments.empty()) {
    // Switching: [at ns, pause ns, from, to] per switch; [path, start ns, end ns, ios, bytes, lat sum ns] per stretch.
    auto switches = Napi::Float64Array::New(env, r.switches.size() * 4);
    for (size_t i = 0; i < r.switches.size(); i++) {
      const bench::SwitchRecord& w = r.switches[i];
      double* row = switches.Data() + i * 4;
      row[0] = double(w.at_ns);
      row[1] = double(w.pause_ns);
      row[2] = w.from;
      row[3] = w.to;
    }
    auto segments = Napi::Float64Array::New(env, r.segments.size() * 6);
    for (size_t i = 0; i < r.segments.size(); i++) {
      const bench::PathSegment& g = r.segments[i];
      double* row = segments.Data() + i * 6;
      row[0] = g.path;
      row[1] = double(g.start_ns);
      row[2] = double(g.end_ns);
      row[3] = double(g.ios);
      row[4] = double(g.bytes);
      row[5] = double(g.lat_sum_ns);
    }
    o.Set("switches", switches);
    o.Set("segments", segments);
  }
  return o;
}

// On the JS thread once the loop's thread is done with the queue.
void on_loop_done(Napi::Env env, Napi::Function callback, RunHolder* holder) {
  RunHolder keep = *holder;
  delete holder;
  JobLoopRun& run = *keep;
  if (run.thread.joinable()) run.thread.join();
  if (run.hook_holder) {
    napi_remove_env_cleanup_hook(run.env, cleanup_hook, run.hook_holder);
    delete run.hook_holder;
    run.hook_holder = nullptr;
  }
  run.progress_ref.Reset();
  release_region(run);
  run.finished = true;
  if (env && callback) callback.Call({result_object(env, run.loop->result())});
}

struct SwitchTarget {
  std::shared_ptr<Queue> queue;
  std::shared_ptr<Blkio> owner;
};

// Other queues of this addon over an image of the same size, started.
std::vector<SwitchTarget> switch_targets(Napi::Env env, Napi::Value v, const Blkio& owner) {
  std::vector<SwitchTarget> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) bad_spec(env, "job loop: switch targets must be an array of queues");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > 8) bad_spec(env, "job loop: at most 8 switch targets");
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a[i];
    if (!e.IsObject() || !e.As<Napi::Object>().InstanceOf(addon_data(env).queue_class.Value()))
      throw_blkio_error(env, -ENOTSUP, "job loop: a switch target must be a queue of this addon's drivers");
    QueueObject* qo = QueueObject::Unwrap(e.As<Napi::Object>());
    SwitchTarget t{qo->core_queue(), qo->core_owner()};
    if (!t.queue || !t.owner || !t.queue->alive()) throw_blkio_error(env, -ENODEV, "job loop: a switch target queue has been removed or its Blkio destroyed");
    if (t.owner->info().capacity != owner.info().capacity)
      bad_spec(env, "job loop: a switch target's capacity (" + std::to_string(t.owner->info().capacity) + " bytes) differs from the queue's (" +
                        std::to_string(owner.info().capacity) + " bytes)");
    out.push_back(std::move(t));
  }
  return out;
}

// The live counters the loop's thread writes: a Float64Array over a SharedArrayBuffer, or none.
double* progress_of(Napi::Env env, Napi::Value progress_value) {
  if (progress_value.IsUndefined() || progress_value.IsNull()) return nullptr;
  if (!progress_value.IsTypedArray() || progress_value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    bad_spec(env, "job loop: progress must be a Float64Array");
  auto arr = progress_value.As<Napi::Float64Array>();
  // The loop's thread writes into it for the whole run: an ArrayBuffer could
  // be detached (transferred) under it, a SharedArrayBuffer cannot.
  bool detachable = false;
  napi_is_arraybuffer(env, arr.ArrayBuffer(), &detachable);
  if (detachable) bad_spec(env, "job loop: progress must be a Float64Array over a SharedArrayBuffer");
  if (arr.ElementLength() < size_t(bench::kProgressFields)) bad_spec(env, "job loop: progress must hold at least 8 numbers");
  return arr.Data();
}

// Runs the loop on its thread; when it ends, onDone gets the result on the JS thread.
Napi::Value launch(Napi::Env env, RunHolder run, Napi::Value progress_value, Napi::Function on_done) {
  if (progress_value.IsTypedArray()) run->progress_ref = Napi::Persistent(progress_value);
  run->on_done = Napi::ThreadSafeFunction::New(env, on_done, "blkio job loop", 0, 1);
  run->hook_holder = new RunHolder(run);
  napi_add_env_cleanup_hook(env, cleanup_hook, run->hook_holder);
  JobLoopRun* raw = run.get();
  run->thread = std::thread([raw, tsfn = run->on_done, keep = new RunHolder(run)]() mutable {
    raw->loop->run();
    if (raw->after_run) raw->after_run();
    if (raw->queue) raw->queue->release_claim();
    for (auto& q : raw->target_queues) q->release_claim();
    if (tsfn.BlockingCall(keep, on_loop_done) != napi_ok) delete keep;  // the environment is going away
    tsfn.Release();
  });
  auto* external_holder = new RunHolder(run);
  auto handle = Napi::External<RunHolder>::New(env, external_holder, [](Napi::Env, RunHolder* h) { delete h; });
  napi_type_tag_object(env, handle, &kJobLoopTag);
  return handle;
}

// A sink that is not a libblkio queue has no completion fd, no zones and no
// other queue to switch to.
void refuse_what_needs_a_queue(Napi::Env env, const bench::JobLoopSpec& spec, Napi::Value switch_targets, const std::string& what) {
  if (spec.wait_mode == bench::WaitMode::Eventfd) bad_spec(env, what + ": waitMode 'eventfd' needs a completion fd, and it has none");
  if (spec.zbd.enabled) bad_spec(env, what + ": zbd needs a zoned device");
  if (!switch_targets.IsUndefined() && !switch_targets.IsNull()) bad_spec(env, what + ": it has no switch targets");
}

// filecreate/filestat/filedelete: the files, their size and the operation.
std::unique_ptr<bench::RequestSink> file_op_sink(Napi::Env env, Napi::Object o, const bench::JobLoopSpec& spec) {
  Napi::Value opv = o.Get("fileOp");
  std::string op = opv.IsString() ? opv.As<Napi::String>().Utf8Value() : "";
  bench::FileOp fop;
  if (op == "create") fop = bench::FileOp::Create;
  else if (op == "stat") fop = bench::FileOp::Stat;
  else if (op == "lstat") fop = bench::FileOp::Lstat;
  else if (op == "statx") fop = bench::FileOp::Statx;
  else if (op == "unlink") fop = bench::FileOp::Unlink;
  else bad_spec(env, "job loop: fileOp must be create, stat, lstat, statx or unlink");
  Napi::Value fv = o.Get("files");
  if (!fv.IsArray()) bad_spec(env, "job loop: files must be an array of paths");
  Napi::Array files = fv.As<Napi::Array>();
  if (files.Length() == 0 || files.Length() > (1u << 20)) bad_spec(env, "job loop: files must hold 1 to 1048576 paths");
  std::vector<std::string> paths;
  paths.reserve(files.Length());
  for (uint32_t i = 0; i < files.Length(); i++) {
    Napi::Value p = files[i];
    if (!p.IsString()) bad_spec(env, "job loop: files must be an array of paths");
    paths.push_back(p.As<Napi::String>().Utf8Value());
    if (paths.back().empty() || paths.back().find('\0') != std::string::npos) bad_spec(env, "job loop: a path in files is empty or holds a NUL");
  }
  Napi::Value sv = o.Get("fileSize");
  double size = sv.IsNumber() ? sv.As<Napi::Number>().DoubleValue() : 0;
  if (!(size >= 1 && size <= 9007199254740991.0) || size != std::floor(size)) bad_spec(env, "job loop: fileSize must be a positive integer");
  if (double(spec.region_start) + double(spec.region_len) > size * double(paths.size()))
    bad_spec(env, "job loop: the region reaches past the last file (files x fileSize)");
  return std::make_unique<bench::FileOpSink>(fop, std::move(paths), uint64_t(size), size_t(spec.iodepth) + 1);
}

// ioengine=exec: { program, argv, stdout?, stderr?, graceNs } as the sixth
// argument, a program run beside the job (no buffers, no data); ioengine=pmemblk:
// { pmemblk: path, bsize, poolSize, create }, reads and writes of a libpmemblk
// pool into buffers of plain memory (verify applies).
// Starts a loop whose requests go to a sink of blkbench's own (not a queue):
// with heap_bytes of plain-memory buffers, or none (a sink that moves no data).
Napi::Value launch_sink_loop(Napi::Env env, const Napi::CallbackInfo& info, std::shared_ptr<JobLoopRun> run,
                             std::unique_ptr<bench::RequestSink> sink, bench::JobLoopSpec& spec, double* progress, uint64_t heap_bytes) {
  run->env = env;
  if (heap_bytes > 0) {
    give_heap_buffers(env, *run, spec, heap_bytes);
  } else {
    spec.buffers = nullptr;
    spec.slot_stride = 0;
  }
  spec.region_slot = -1;
  run->loop = std::make_unique<bench::JobLoop>(std::move(sink), spec, progress);
  return launch(env, run, info[2], info[3].As<Napi::Function>());
}

Napi::Value start_program_job_loop(Napi::Env env, const Napi::CallbackInfo& info) {
  Napi::Object o = info[5].As<Napi::Object>();
  bool exec = o.Has("program");
  const std::string what = exec ? "job loop on ioengine=exec" : "job loop on ioengine=pmemblk";
  bench::JobLoopSpec spec = parse_job_loop_spec(env, info[1].As<Napi::Object>());
  if (exec && spec.verify != bench::VerifyKind::None) bad_spec(env, what + ": verify needs data, and it moves none");
  if (exec && spec.stamp_writes) bad_spec(env, what + ": stampWrites needs data, and it moves none");
  refuse_what_needs_a_queue(env, spec, info[4], what);
  double* progress = progress_of(env, info[2]);
  auto run = std::make_shared<JobLoopRun>();
  if (exec) {
    std::unique_ptr<bench::ExecSink> e = exec_sink_from(env, o, size_t(spec.iodepth) + 1);
    bench::ExecSink* raw = e.get();  // owned by the loop, which outlives its thread
    run->after_run = [raw] { raw->finish(); };
    return launch_sink_loop(env, info, run, std::move(e), spec, progress, 0);
  }
  uint64_t mem_len = heap_buffer_bytes(env, spec);
  auto p = std::make_unique<bench::PmemblkSink>(pmemblk_pool_from(env, o), size_t(spec.iodepth) + 1);
  bench::PmemblkSink* raw = p.get();  // owned by the loop, which outlives its thread
  run->after_run = [raw] { raw->close(); };
  return launch_sink_loop(env, info, run, std::move(p), spec, progress, mem_len);
}

// blkbench's ioengine=null: the loop's requests go to a null sink, which
// completes them without a target and without touching data, so the loop
// has no buffers, and what needs data or a device is refused.
Napi::Value start_null_job_loop(Napi::Env env, const Napi::CallbackInfo& info) {
  if (info[5].IsObject() && (info[5].As<Napi::Object>().Has("program") || info[5].As<Napi::Object>().Has("pmemblk")))
    return start_program_job_loop(env, info);
  bench::JobLoopSpec spec = parse_job_loop_spec(env, info[1].As<Napi::Object>());
  // ioengine=cpuio: { cpuMode: 'noop' | 'qsort', cycleNs } as the sixth argument;
  // filecreate/filestat/filedelete: { fileOp, files: string[], fileSize }.
  std::unique_ptr<bench::RequestSink> sink;
  if (info[5].IsObject() && info[5].As<Napi::Object>().Has("fileOp")) {
    sink = file_op_sink(env, info[5].As<Napi::Object>(), spec);
  } else if (info[5].IsObject()) {
    Napi::Object c = info[5].As<Napi::Object>();
    Napi::Value m = c.Get("cpuMode");
    std::string mode = m.IsString() ? m.As<Napi::String>().Utf8Value() : "";
    if (mode != "noop" && mode != "qsort") bad_spec(env, "job loop: cpuMode must be 'noop' or 'qsort'");
    Napi::Value cy = c.Get("cycleNs");
    double cycle = cy.IsNumber() ? cy.As<Napi::Number>().DoubleValue() : -1;
    if (!(cycle >= 1000 && cycle <= 60e9) || cycle != std::floor(cycle)) bad_spec(env, "job loop: cycleNs must be an integer from 1000 (1 us) to 60e9 (60 s)");
    sink = std::make_unique<bench::CpuSink>(mode == "qsort" ? bench::CpuMode::Qsort : bench::CpuMode::Noop, int64_t(cycle), size_t(spec.iodepth) + 1);
  } else {
    sink = std::make_unique<bench::NullSink>(size_t(spec.iodepth) + 1);
  }
  if (spec.verify != bench::VerifyKind::None) bad_spec(env, "job loop without a queue (null sink): verify needs data, and it keeps none");
  if (spec.stamp_writes) bad_spec(env, "job loop without a queue (null sink): stampWrites needs data, and it keeps none");
  refuse_what_needs_a_queue(env, spec, info[4], "job loop without a queue (null sink)");
  double* progress = progress_of(env, info[2]);
  return launch_sink_loop(env, info, std::make_shared<JobLoopRun>(), std::move(sink), spec, progress, 0);
}

// blkbench's synchronous targets: a sink that does one system call per
// request itself (pread/pwrite on a memory character device such as
// /dev/null, fallocate or ftruncate on a file), into buffers of plain memory.
Napi::Value start_syscall_job_loop(Napi::Env env, const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Value k = info[5];
  std::string kind_name = k.IsString() ? k.As<Napi::String>().Utf8Value() : "readwrite";
  bench::SyscallKind kind = kind_name == "fallocate" ? bench::SyscallKind::Fallocate
                            : kind_name == "ftruncate" ? bench::SyscallKind::Ftruncate
                            : kind_name == "readwrite" ? bench::SyscallKind::ReadWrite
                                                       : (bad_spec(env, "job loop: the target kind must be readwrite, fallocate or ftruncate"), bench::SyscallKind::ReadWrite);
  bench::JobLoopSpec spec = parse_job_loop_spec(env, info[1].As<Napi::Object>());
  if (kind != bench::SyscallKind::ReadWrite && spec.verify != bench::VerifyKind::None)
    bad_spec(env, "job loop on " + kind_name + ": verify needs data, and " + kind_name + " moves none");
  refuse_what_needs_a_queue(env, spec, info[4], "job loop on a system-call target");
  double* progress = progress_of(env, info[2]);
  uint64_t mem_len = heap_buffer_bytes(env, spec);
  bool writes = spec.mixed || spec.single_dir != bench::kRead;
  std::string why;
  int fd = bench::open_syscall_target(path.c_str(), kind, writes, &why);
  if (fd < 0) throw_blkio_error(env, fd, why.c_str());
  auto sink = std::make_unique<bench::SyscallSink>(fd, kind, size_t(spec.iodepth) + 1);
  return launch_sink_loop(env, info, std::make_shared<JobLoopRun>(), std::move(sink), spec, progress, mem_len);
}

std::string string_field(Napi::Env env, Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined() || v.IsNull()) return "";
  if (!v.IsString()) bad_spec(env, std::string("job loop: ") + name + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) bad_spec(env, std::string("job loop: ") + name + " holds a NUL");
  return s;
}

double number_field(Napi::Env env, Napi::Object o, const char* name, double min, double max, double dflt) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return dflt;
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= min && d <= max) || d != std::floor(d))
    bad_spec(env, std::string("job loop: ") + name + " must be an integer from " + std::to_string(int64_t(min)) + " to " + std::to_string(int64_t(max)));
  return d;
}

bool bool_field(Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

// blkbench's ioengine=net: { protocol, host, port, listen, pingpong, nodelay, ttl, interface, windowSize, mss }
// as the sixth argument. The loop's buffers are plain memory; the listening side binds here.
Napi::Value start_net_job_loop(Napi::Env env, const Napi::CallbackInfo& info) {
  Napi::Object n = info[5].As<Napi::Object>();
  bench::JobLoopSpec spec = parse_job_loop_spec(env, info[1].As<Napi::Object>());
  bench::NetOptions o;
  std::string proto = string_field(env, n, "protocol");
  if (proto == "tcp") o.proto = bench::NetProto::Tcp;
  else if (proto == "tcpv6") o.proto = bench::NetProto::Tcp6;
  else if (proto == "udp") o.proto = bench::NetProto::Udp;
  else if (proto == "udpv6") o.proto = bench::NetProto::Udp6;
  else if (proto == "unix") o.proto = bench::NetProto::Unix;
  else bad_spec(env, "job loop: protocol must be tcp, tcpv6, udp, udpv6 or unix");
  o.host = string_field(env, n, "host");
  o.port = uint16_t(number_field(env, n, "port", 0, 65535, 0));
  o.listen = bool_field(n, "listen");
  o.pingpong = bool_field(n, "pingpong");
  o.nodelay = bool_field(n, "nodelay");
  o.ttl = int(number_field(env, n, "ttl", 0, 255, 1));
  o.interface_addr = string_field(env, n, "interface");
  o.window_size = uint32_t(number_field(env, n, "windowSize", 0, 2147483647, 0));
  o.mss = uint32_t(number_field(env, n, "mss", 0, 2147483647, 0));
  o.writes = spec.mixed || spec.single_dir == bench::kWrite;
  bool unix_socket = o.proto == bench::NetProto::Unix;
  bool tcp = o.proto == bench::NetProto::Tcp || o.proto == bench::NetProto::Tcp6;
  if (unix_socket ? o.port != 0 : o.port == 0) bad_spec(env, unix_socket ? "job loop: a UNIX socket takes no port" : "job loop: tcp and udp need a port");
  if (!o.listen && o.host.empty()) bad_spec(env, "job loop: the connecting side needs a host (a UNIX socket: its path)");
  if (unix_socket && o.host.empty()) bad_spec(env, "job loop: a UNIX socket needs its path as host");
  if (o.listen && tcp && !o.host.empty()) bad_spec(env, "job loop: a TCP listener takes no host");
  if (!tcp && spec.mixed) bad_spec(env, "job loop: over udp and unix a job either reads or writes, not both");
  if (!tcp && o.listen == o.writes) bad_spec(env, "job loop: over udp and unix the reader is the listening side and the writer the connecting one");
  if (spec.random) bad_spec(env, "job loop: network I/O is sequential (no random offsets)");
  if (!spec.mixed && spec.single_dir == bench::kTrim) bad_spec(env, "job loop: network I/O takes reads and writes, not trims");
  if (spec.verify != bench::VerifyKind::None) bad_spec(env, "job loop on a socket: verify is not supported");
  refuse_what_needs_a_queue(env, spec, info[4], "job loop on a socket");
  double* progress = progress_of(env, info[2]);
  uint64_t mem_len = heap_buffer_bytes(env, spec);
  int err = 0;
  std::string why;
  std::unique_ptr<bench::NetSink> sink = bench::NetSink::create(o, size_t(spec.iodepth) + 1, &err, &why);
  if (!sink) throw_blkio_error(env, err, why.c_str());
  return launch_sink_loop(env, info, std::make_shared<JobLoopRun>(), std::move(sink), spec, progress, mem_len);
}

// startJobLoop(nativeQueue | null | path, spec, progress: Float64Array | undefined, onDone, switchTargets?: Queue[], pathKind?: readwrite | fallocate | ftruncate)
Napi::Value start_job_loop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsObject()) bad_spec(env, "job loop spec must be an object");
  if (!info[3].IsFunction()) bad_spec(env, "job loop: onDone must be a function");
  if (info[0].IsNull() && info[5].IsObject() && info[5].As<Napi::Object>().Has("protocol")) return start_net_job_loop(env, info);
  if (info[0].IsNull()) return start_null_job_loop(env, info);
  if (info[0].IsString()) return start_syscall_job_loop(env, info);
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(addon_data(env).queue_class.Value()))
    throw_blkio_error(env, -ENOTSUP, "the job loop runs on queues of this addon's drivers only");
  QueueObject* qo = QueueObject::Unwrap(info[0].As<Napi::Object>());
  std::shared_ptr<Queue> queue = qo->core_queue();
  std::shared_ptr<Blkio> owner = qo->core_owner();
  if (!queue || !owner || !queue->alive()) throw_blkio_error(env, -ENODEV, "queue has been removed or its Blkio destroyed");
  bench::JobLoopSpec spec = parse_job_loop_spec(env, info[1].As<Napi::Object>());
  std::vector<SwitchTarget> targets = switch_targets(env, info[4], *owner);
  if (!targets.empty() && spec.switch_every_ns <= 0) bad_spec(env, "job loop: switch targets need switchEveryNs > 0");

  double* progress = progress_of(env, info[2]);
  // The buffers suit every queue the loop may use.
  uint64_t buf_align = uint64_t(std::max(1, owner->info().buf_alignment));
  uint64_t region_align = std::max<uint64_t>(4096, owner->info().mem_region_alignment);
  for (const SwitchTarget& t : targets) {
    buf_align = std::max<uint64_t>(buf_align, uint64_t(std::max(1, t.owner->info().buf_alignment)));
    region_align = std::max<uint64_t>(region_align, t.owner->info().mem_region_alignment);
  }
  uint64_t stride = round_up(max_block_size(spec), buf_align);
  uint64_t mem_len = round_up(stride * uint64_t(spec.iodepth), region_align);
  if (mem_len > kMaxJobMemory)
    bad_spec(env, "job loop: iodepth x block size needs " + std::to_string(mem_len) + " bytes of buffers, more than 1 GiB");

  auto run = std::make_shared<JobLoopRun>();
  run->env = env;
  run->owner = owner;
  run->queue = queue;
  if (!queue->claim()) throw_blkio_error(env, -EBUSY, "queue is already driven by a job loop, or shut down");
  struct Unclaim {
    Queue* q;
    ~Unclaim() { if (q) q->release_claim(); }
  } unclaim{queue.get()};
  if (queue->outstanding() != 0)
    throw_blkio_error(env, -EBUSY, "queue has requests outstanding; reap them before starting a job loop");
  struct UnclaimTargets {
    std::vector<std::shared_ptr<Queue>>* qs;
    ~UnclaimTargets() {
      if (qs)
        for (auto& q : *qs) q->release_claim();
    }
  } unclaim_targets{&run->target_queues};
  for (SwitchTarget& t : targets) {
    if (!t.queue->claim()) throw_blkio_error(env, -EBUSY, "job loop: a switch target queue is the job's own, given twice, or driven by another job loop");
    run->target_queues.push_back(t.queue);
    run->target_owners.push_back(t.owner);
    if (t.queue->outstanding() != 0)
      throw_blkio_error(env, -EBUSY, "job loop: a switch target queue has requests outstanding; reap them first");
  }
  int r = owner->alloc_mem_region(&run->region, size_t(mem_len));
  if (r < 0) throw_blkio_error(env, r);
  r = owner->map_mem_region(run->region);
  if (r < 0) {
    owner->free_mem_region(run->region);
    throw_blkio_error(env, r);
  }
  run->region_mapped = true;
  struct FreeRegionOnThrow {
    JobLoopRun* run;
    ~FreeRegionOnThrow() { if (run) release_region(*run); }
  } free_region{run.get()};
  spec.buffers = static_cast<uint8_t*>(run->region.addr);
  spec.slot_stride = size_t(stride);
  spec.region_slot = owner->mapped_region_slot(run->region.addr, run->region.len);
  run->loop = std::make_unique<bench::JobLoop>(*queue, spec, progress);
  for (size_t i = 0; i < run->target_queues.size(); i++) {
    const std::shared_ptr<Blkio>& b = run->target_owners[i];
    // Once per device: another queue of the job's own device, or of a device already mapped, has the region.
    bool mapped = b == owner;
    for (auto& m : run->mapped_into) mapped = mapped || m == b;
    if (!mapped) {
      r = b->map_mem_region(run->region);
      if (r < 0) throw_blkio_error(env, r);
      run->mapped_into.push_back(b);
    }
    run->loop->add_switch_target(*run->target_queues[i], b->mapped_region_slot(run->region.addr, run->region.len));
  }
  unclaim.q = nullptr;  // the thread releases the claims, the done callback the region
  unclaim_targets.qs = nullptr;
  free_region.run = nullptr;
  return launch(env, run, info[2], info[3].As<Napi::Function>());
}

Napi::Value stop_job_loop(const Napi::CallbackInfo& info) {
  bool ours = false;
  if (info[0].IsExternal()) napi_check_object_type_tag(info.Env(), info[0], &kJobLoopTag, &ours);
  if (!ours) throw_blkio_error(info.Env(), -EINVAL, "stopJobLoop needs a job loop handle");
  JobLoopRun& run = **info[0].As<Napi::External<RunHolder>>().Data();
  if (run.loop && !run.finished) run.loop->request_stop();
  return info.Env().Undefined();
}

}  // namespace

void register_job_loop(Napi::Env env, Napi::Object exports) {
  exports.Set("startJobLoop", Napi::Function::New(env, start_job_loop, "startJobLoop"));
  exports.Set("stopJobLoop", Napi::Function::New(env, stop_job_loop, "stopJobLoop"));
  exports.Set("pmemblkPoolInfo", Napi::Function::New(env, pmemblk_pool_info, "pmemblkPoolInfo"));
}

}  // namespace blkio::napi
