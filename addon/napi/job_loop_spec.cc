#include "job_loop_spec.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"

namespace blkio::napi {

namespace {

constexpr double kMaxSafe = 9007199254740991.0;
constexpr double kMaxBlock = double(1 << 30);
const char* const kDirs[3] = {"read", "write", "trim"};

[[noreturn]] void bad(Napi::Env env, const std::string& what) {
  throw_blkio_error(env, -EINVAL, ("job loop spec: " + what).c_str());
}

double integer(Napi::Env env, Napi::Value v, const std::string& name, double min, double max, double dflt) {
  if (v.IsUndefined()) return dflt;
  if (!v.IsNumber()) bad(env, name + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < min || d > max)
    bad(env, name + " must be an integer from " + std::to_string(int64_t(min)) + " to " + std::to_string(int64_t(max)) +
                 ", got " + v.ToString().Utf8Value());
  return d;
}

double field(Napi::Env env, Napi::Object o, const char* name, double min, double max, double dflt) {
  return integer(env, o.Get(name), name, min, max, dflt);
}

double real(Napi::Env env, Napi::Value v, const std::string& name, double min, double max) {
  if (!v.IsNumber()) bad(env, name + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max) bad(env, name + " must be from " + std::to_string(min) + " to " + std::to_string(max));
  return d;
}

bool flag(Napi::Object o, const char* name) { return o.Get(name).ToBoolean(); }

std::string choice(Napi::Env env, Napi::Object o, const char* name, std::initializer_list<const char*> allowed, const char* dflt) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return dflt;
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  for (const char* a : allowed)
    if (s == a) return s;
  std::string list;
  for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
  bad(env, std::string(name) + " must be one of " + list + ", got '" + v.ToString().Utf8Value() + "'");
}

Napi::Object object_or_empty(Napi::Env env, Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined() || v.IsNull()) return Napi::Object::New(env);
  if (!v.IsObject()) bad(env, std::string(name) + " must be an object");
  return v.As<Napi::Object>();
}

// Per-direction numbers: { read, write, trim }.
void per_direction(Napi::Env env, Napi::Object o, const char* name, uint64_t out[3]) {
  Napi::Object p = object_or_empty(env, o, name);
  for (int d = 0; d < 3; d++) out[d] = uint64_t(integer(env, p.Get(kDirs[d]), std::string(name) + "." + kDirs[d], 0, kMaxSafe, 0));
}

// blockSize: a number or { read, write, trim }; bssplit: { dir: { sizes, weights } } overrides it.
void block_sizes(Napi::Env env, Napi::Object o, bench::JobLoopSpec& spec) {
  Napi::Value bs = o.Get("blockSize");
  for (int d = 0; d < 3; d++) {
    uint32_t size = 4096;
    if (bs.IsNumber()) size = uint32_t(integer(env, bs, "blockSize", 1, kMaxBlock, 4096));
    else if (bs.IsObject()) size = uint32_t(integer(env, bs.As<Napi::Object>().Get(kDirs[d]), std::string("blockSize.") + kDirs[d], 1, kMaxBlock, 4096));
    else if (!bs.IsUndefined()) bad(env, "blockSize must be a number or { read, write, trim }");
    double weight = 100;
    spec.bs[d].set(&size, &weight, 1);
  }
  Napi::Object split = object_or_empty(env, o, "bssplit");
  for (int d = 0; d < 3; d++) {
    Napi::Value v = split.Get(kDirs[d]);
    if (v.IsUndefined()) continue;
    std::string name = std::string("bssplit.") + kDirs[d];
    if (!v.IsObject()) bad(env, name + " must be { sizes, weights }");
    Napi::Value sv = v.As<Napi::Object>().Get("sizes"), wv = v.As<Napi::Object>().Get("weights");
    if (!sv.IsArray() || !wv.IsArray()) bad(env, name + " must be { sizes: number[], weights: number[] }");
    Napi::Array sa = sv.As<Napi::Array>(), wa = wv.As<Napi::Array>();
    uint32_t n = sa.Length();
    if (n < 1 || n > uint32_t(bench::kMaxBlockSizes) || wa.Length() != n)
      bad(env, name + " needs 1 to " + std::to_string(bench::kMaxBlockSizes) + " sizes and as many weights");
    uint32_t sizes[bench::kMaxBlockSizes];
    double weights[bench::kMaxBlockSizes];
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) {
      sizes[i] = uint32_t(integer(env, sa.Get(i), name + ".sizes[" + std::to_string(i) + "]", 1, kMaxBlock, 0));
      weights[i] = real(env, wa.Get(i), name + ".weights[" + std::to_string(i) + "]", 0, 100);
      sum += weights[i];
    }
    if (sum <= 0 || sum > 100.0001) bad(env, name + ": weights must add up to more than 0 and at most 100");
    spec.bs[d].set(sizes, weights, int(n));
  }
}

void distribution(Napi::Env env, Napi::Object o, bench::JobLoopSpec& spec) {
  Napi::Value v = o.Get("randomDistribution");
  if (v.IsUndefined()) return;
  if (!v.IsObject()) bad(env, "randomDistribution must be { kind, param, zones? }");
  Napi::Object d = v.As<Napi::Object>();
  std::string kind = choice(env, d, "kind", {"random", "zipf", "pareto", "normal", "zoned"}, "random");
  bench::DistributionSpec& ds = spec.distribution;
  ds.kind = kind == "zipf" ? ds.Zipf : kind == "pareto" ? ds.Pareto : kind == "normal" ? ds.Normal : kind == "zoned" ? ds.Zoned : ds.Random;
  Napi::Value param = d.Get("param");
  ds.param = param.IsUndefined() ? 0 : real(env, param, "randomDistribution.param", 0, 1e9);
  if (ds.kind == ds.Zipf && (ds.param <= 0 || ds.param == 1)) bad(env, "zipf needs a theta above 0 other than 1");
  if (ds.kind == ds.Pareto && ds.param <= 0) bad(env, "pareto needs a power above 0");
  if (ds.kind != ds.Zoned) return;
  Napi::Value zv = d.Get("zones");
  if (!zv.IsArray()) bad(env, "randomDistribution.zones must be [access%, size%][]");
  Napi::Array zones = zv.As<Napi::Array>();
  if (zones.Length() < 1 || zones.Length() > uint32_t(bench::kMaxZones)) bad(env, "zoned needs 1 to 64 zones");
  ds.zones = int(zones.Length());
  for (uint32_t i = 0; i < zones.Length(); i++) {
    Napi::Value z = zones.Get(i);
    if (!z.IsArray() || z.As<Napi::Array>().Length() != 2) bad(env, "randomDistribution.zones must be [access%, size%][]");
    ds.zone_access[i] = real(env, z.As<Napi::Array>().Get(0u), "zone access", 0, 100);
    ds.zone_size[i] = real(env, z.As<Napi::Array>().Get(1u), "zone size", 0, 100);
  }
}

void directions(Napi::Env env, Napi::Object o, bench::JobLoopSpec& spec) {
  std::string rw = choice(env, o, "rw", {"read", "write", "trim", "randread", "randwrite", "randtrim", "readwrite", "rw", "randrw"}, "read");
  spec.random = rw.rfind("rand", 0) == 0;
  std::string base = spec.random ? rw.substr(4) : rw;
  spec.mixed = base == "rw" || base == "readwrite";
  spec.read_percent = spec.mixed ? int(field(env, o, "rwmixread", 0, 100, 50)) : base == "read" ? 100 : 0;
  spec.single_dir = base == "write" ? bench::kWrite : base == "trim" ? bench::kTrim : bench::kRead;
}

uint8_t continue_on_error(Napi::Env env, Napi::Object o) {
  std::string c = choice(env, o, "continueOnError", {"none", "read", "write", "io", "verify", "all"}, "none");
  if (c == "read") return 1u << bench::kRead;
  if (c == "write") return 1u << bench::kWrite;
  if (c == "io" || c == "all") return 7;
  return 0;
}

void write_data(Napi::Env env, Napi::Object o, bench::WriteDataSpec& w) {
  Napi::Object d = object_or_empty(env, o, "writeData");
  w.zero = flag(d, "zero");
  w.refill = flag(d, "refill");
  w.compress_percentage = int(field(env, d, "compressPercentage", 0, 100, 0));
  w.compress_chunk = uint32_t(field(env, d, "compressChunk", 1, kMaxBlock, 512));
  w.dedupe_percentage = int(field(env, d, "dedupePercentage", 0, 100, 0));
}

bool used(const bench::JobLoopSpec& s, int d) { return s.mixed ? d != bench::kTrim : d == s.single_dir; }

// zbd: fio's zonemode=zbd, with the job's zones as blkbench read them from the device.
void zoned(Napi::Env env, Napi::Object o, bench::JobLoopSpec& spec) {
  Napi::Value v = o.Get("zbd");
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsObject()) bad(env, "zbd must be an object");
  Napi::Object z = v.As<Napi::Object>();
  bench::ZbdSpec& zs = spec.zbd;
  zs.enabled = true;
  zs.zone_size = uint64_t(field(env, z, "zoneSize", 1, kMaxSafe, 0));
  if (zs.zone_size == 0) bad(env, "zbd.zoneSize is required");
  Napi::Value zv = z.Get("zones");
  if (!zv.IsArray()) bad(env, "zbd.zones must be [capacity, written, kind][]");
  Napi::Array zones = zv.As<Napi::Array>();
  uint32_t n = zones.Length();
  if (n < 1 || n > (1u << 24)) bad(env, "zbd.zones must hold 1 to 2^24 zones");
  zs.zones.resize(n);
  for (uint32_t i = 0; i < n; i++) {
    std::string name = "zbd.zones[" + std::to_string(i) + "]";
    Napi::Value e = zones.Get(i);
    if (!e.IsArray() || e.As<Napi::Array>().Length() != 3) bad(env, name + " must be [capacity, written, kind]");
    Napi::Array a = e.As<Napi::Array>();
    bench::ZoneInit& zi = zs.zones[i];
    zi.capacity = uint64_t(integer(env, a.Get(0u), name + " capacity", 1, double(zs.zone_size), 0));
    zi.written = uint64_t(integer(env, a.Get(1u), name + " written", 0, double(zi.capacity), 0));
    zi.kind = uint8_t(integer(env, a.Get(2u), name + " kind", 0, 3, 0));
  }
  zs.max_open = uint32_t(field(env, z, "maxOpenZones", 0, 4096, 0));
  zs.job_max_open = uint32_t(field(env, z, "jobMaxOpenZones", 0, zs.max_open, 0));
  if (zs.job_max_open > 0 && zs.max_open == 0) bad(env, "zbd.jobMaxOpenZones needs zbd.maxOpenZones");
  Napi::Value t = z.Get("resetThreshold");
  if (!t.IsUndefined()) zs.reset_threshold = real(env, t, "zbd.resetThreshold", 0, 1);
  Napi::Value f = z.Get("resetFrequency");
  if (!f.IsUndefined()) zs.reset_frequency = real(env, f, "zbd.resetFrequency", 0, 1);
  zs.read_beyond_wp = flag(z, "readBeyondWp");
  zs.emulated = flag(z, "emulated");
}

}  // namespace

uint32_t max_block_size(const bench::JobLoopSpec& spec) {
  uint32_t m = 1;
  for (int d = 0; d < 3; d++) m = std::max(m, spec.bs[d].max());
  return m;
}

// verify, verifyInterval, verifyPattern (bytes), doVerify.
void verify_format(Napi::Env env, Napi::Object s, bench::JobLoopSpec& spec) {
  std::string verify = choice(env, s, "verify", {"none", "crc32c", "md5", "meta", "pattern"}, "none");
  spec.verify = verify == "crc32c" ? bench::VerifyKind::Crc32c
                : verify == "md5"  ? bench::VerifyKind::Md5
                : verify == "meta" ? bench::VerifyKind::Meta
                : verify == "pattern" ? bench::VerifyKind::Pattern
                                      : bench::VerifyKind::None;
  spec.verify_interval = uint32_t(field(env, s, "verifyInterval", 0, kMaxBlock, 0));
  Napi::Value p = s.Get("verifyPattern");
  if (!p.IsUndefined() && !p.IsNull()) {
    if (!p.IsArray()) bad(env, "verifyPattern must be an array of byte values");
    Napi::Array a = p.As<Napi::Array>();
    if (a.Length() == 0 || a.Length() > bench::kMaxVerifyPattern)
      bad(env, "verifyPattern must hold 1 to " + std::to_string(bench::kMaxVerifyPattern) + " bytes");
    for (uint32_t i = 0; i < a.Length(); i++) spec.verify_pattern.push_back(uint8_t(integer(env, a[i], "verifyPattern[" + std::to_string(i) + "]", 0, 255, 0)));
  }
  Napi::Value dv = s.Get("doVerify");
  spec.do_verify = dv.IsUndefined() ? true : dv.ToBoolean().Value();
  if (spec.verify == bench::VerifyKind::Pattern && spec.verify_pattern.empty()) bad(env, "verify 'pattern' needs verifyPattern");
}

// A header every verifyInterval bytes: the interval must fit a header and cut every block size evenly.
void check_verify_interval(Napi::Env env, const bench::JobLoopSpec& spec) {
  uint32_t interval = spec.verify_interval;
  if (interval == 0) return;
  if (spec.verify != bench::VerifyKind::Pattern && interval < bench::kVerifyHeaderLen)
    bad(env, "verifyInterval must be at least 40 bytes, the verify header's size");
  for (int d = 0; d < 3; d++) {
    if (!used(spec, d)) continue;
    for (int i = 0; i < spec.bs[d].count; i++) {
      uint32_t size = spec.bs[d].size[i];
      if (size > interval && size % interval != 0)
        bad(env, "verifyInterval " + std::to_string(interval) + " does not divide the block size " + std::to_string(size));
    }
  }
}

bench::JobLoopSpec parse_job_loop_spec(Napi::Env env, Napi::Object s) {
  bench::JobLoopSpec spec;
  directions(env, s, spec);
  block_sizes(env, s, spec);
  spec.random_map = !flag(s, "norandommap");
  spec.blockalign = uint32_t(field(env, s, "blockalign", 0, kMaxBlock, 0));
  spec.seq_add = int64_t(field(env, s, "seqAdd", -kMaxSafe, kMaxSafe, 0));
  distribution(env, s, spec);
  spec.iodepth = int(field(env, s, "iodepth", 1, 65536, 1));
  spec.batch_submit = int(field(env, s, "iodepthBatchSubmit", 0, 65536, 1));
  spec.complete_min = int(field(env, s, "iodepthBatchCompleteMin", 0, 65536, 1));
  spec.complete_max = int(field(env, s, "iodepthBatchCompleteMax", 0, 65536, spec.complete_min));
  spec.region_start = uint64_t(field(env, s, "regionStart", 0, kMaxSafe, 0));
  spec.region_len = uint64_t(field(env, s, "regionLength", 1, kMaxSafe, 1));
  spec.io_limit = uint64_t(field(env, s, "ioLimit", 0, kMaxSafe, double(spec.region_len)));
  spec.loops = uint64_t(field(env, s, "loops", 1, kMaxSafe, 1));
  spec.number_ios = uint64_t(field(env, s, "numberIos", 0, kMaxSafe, 0));
  spec.time_based = flag(s, "timeBased");
  spec.runtime_ns = int64_t(field(env, s, "runtimeNs", 0, kMaxSafe, 0));
  spec.ramp_ns = int64_t(field(env, s, "rampTimeNs", 0, kMaxSafe, 0));
  spec.startdelay_ns = int64_t(field(env, s, "startdelayNs", 0, kMaxSafe, 0));
  std::string wait = choice(env, s, "waitMode", {"block", "loop", "eventfd"}, "block");
  spec.wait_mode = wait == "loop" ? bench::WaitMode::Loop : wait == "eventfd" ? bench::WaitMode::Eventfd : bench::WaitMode::Block;
  verify_format(env, s, spec);
  write_data(env, s, spec.write_data);
  per_direction(env, s, "rate", spec.pace.rate);
  per_direction(env, s, "rateIops", spec.pace.rate_iops);
  per_direction(env, s, "rateMin", spec.rate_min);
  spec.pace.thinktime_ns = int64_t(field(env, s, "thinktimeNs", 0, kMaxSafe, 0));
  spec.pace.thinktime_spin_ns = int64_t(field(env, s, "thinktimeSpinNs", 0, kMaxSafe, 0));
  spec.pace.thinktime_blocks = uint64_t(field(env, s, "thinktimeBlocks", 1, kMaxSafe, 1));
  spec.continue_on_error = continue_on_error(env, s);
  spec.vectored = flag(s, "vectored");
  spec.write_zeroes_on_trim = flag(s, "writeZeroesOnTrim");
  spec.stamp_writes = flag(s, "stampWrites");
  spec.trace_limit = size_t(field(env, s, "traceLimit", 0, 1 << 24, 0));
  spec.log_samples = flag(s, "logSamples");
  spec.measure_slat = !flag(s, "disableSlat");
  spec.measure_clat = !flag(s, "disableClat");
  spec.measure_lat = !flag(s, "disableLat");
  zoned(env, s, spec);
  spec.switch_every_ns = int64_t(field(env, s, "switchEveryNs", 0, kMaxSafe, 0));
  spec.job_index = uint32_t(field(env, s, "jobIndex", 0, 4294967295.0, 0));
  Napi::Value seed = s.Get("seed");
  if (seed.IsBigInt()) {
    bool lossless;
    spec.seed = seed.As<Napi::BigInt>().Uint64Value(&lossless);
  } else if (!seed.IsUndefined()) {
    spec.seed = uint64_t(field(env, s, "seed", 0, kMaxSafe, 0));
  }

  if (spec.time_based && spec.runtime_ns == 0) bad(env, "timeBased needs runtimeNs > 0");
  if (spec.zbd.enabled) {
    if (spec.region_len % spec.zbd.zone_size != 0 || spec.region_len / spec.zbd.zone_size != spec.zbd.zones.size())
      bad(env, "with zbd, regionLength must be its zones (" + std::to_string(spec.zbd.zones.size()) + " of " +
                   std::to_string(spec.zbd.zone_size) + " bytes)");
    if (used(spec, bench::kTrim)) bad(env, "zbd does not take trims");
    if (spec.seq_add != 0) bad(env, "zbd does not take seqAdd");
    if (spec.verify != bench::VerifyKind::None && spec.zbd.reset_frequency > 0)
      bad(env, "zbd.resetFrequency would reset zones whose data verify checks");
  }
  uint32_t largest = 0;
  for (int d = 0; d < 3; d++) {
    if (!used(spec, d)) continue;
    largest = std::max(largest, spec.bs[d].max());
    if (spec.verify != bench::VerifyKind::None && spec.bs[d].min() < bench::kVerifyHeaderLen)
      bad(env, "verify needs blocks of at least 40 bytes, the verify header's size");
  }
  if (spec.verify != bench::VerifyKind::None) check_verify_interval(env, spec);
  if (spec.region_len < largest)
    bad(env, "regionLength " + std::to_string(spec.region_len) + " is smaller than the block size " + std::to_string(largest));
  if (spec.verify != bench::VerifyKind::None && spec.bs[bench::kRead].min() < bench::kVerifyHeaderLen)
    bad(env, "verify needs read blocks of at least 40 bytes, the verify header's size");
  return spec;
}

}  // namespace blkio::napi
