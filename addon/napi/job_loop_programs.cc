#include "job_loop_programs.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>

#include "errors.h"

extern char** environ;

namespace blkio::napi {

namespace {

[[noreturn]] void bad(Napi::Env env, const std::string& what) { throw_blkio_error(env, -EINVAL, ("job loop: " + what).c_str()); }

std::string string_of(Napi::Env env, Napi::Value v, const char* name, bool optional) {
  if (optional && (v.IsUndefined() || v.IsNull())) return "";
  if (!v.IsString()) bad(env, std::string(name) + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if ((!optional && s.empty()) || s.find('\0') != std::string::npos) bad(env, std::string(name) + " is empty or holds a NUL");
  return s;
}

double integer_of(Napi::Env env, Napi::Value v, const char* name, double min, double max) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= min && d <= max) || d != std::floor(d)) bad(env, std::string(name) + " must be an integer from " + std::to_string(int64_t(min)) + " to " + std::to_string(int64_t(max)));
  return d;
}

}  // namespace

std::unique_ptr<bench::ExecSink> exec_sink_from(Napi::Env env, Napi::Object o, size_t capacity) {
  bench::ExecOptions eo;
  eo.path = string_of(env, o.Get("program"), "program", false);
  Napi::Value av = o.Get("argv");
  if (!av.IsArray()) bad(env, "argv must be an array of strings");
  Napi::Array a = av.As<Napi::Array>();
  if (a.Length() == 0 || a.Length() > 4096) bad(env, "argv must hold 1 to 4096 strings (argv[0] first)");
  for (uint32_t i = 0; i < a.Length(); i++) eo.argv.push_back(string_of(env, a[i], "an element of argv", false));
  eo.stdout_path = string_of(env, o.Get("stdout"), "stdout", true);
  eo.stderr_path = string_of(env, o.Get("stderr"), "stderr", true);
  eo.grace_ns = int64_t(integer_of(env, o.Get("graceNs"), "graceNs", 0, 3600e9));
  // The environment as it is now, on the JS thread, which alone changes it.
  for (char** e = environ; e && *e; e++) eo.env.emplace_back(*e);
  int err = 0;
  std::string why;
  auto sink = bench::ExecSink::create(std::move(eo), capacity, &err, &why);
  if (!sink) throw_blkio_error(env, err, why.c_str());
  return sink;
}

std::shared_ptr<bench::PmemblkPool> pmemblk_pool_from(Napi::Env env, Napi::Object o) {
  std::string path = string_of(env, o.Get("pmemblk"), "pmemblk (the pool's path)", false);
  size_t bsize = size_t(integer_of(env, o.Get("bsize"), "bsize", 0, 1 << 30));
  size_t pool_size = size_t(integer_of(env, o.Get("poolSize"), "poolSize", 0, 9007199254740991.0));
  Napi::Value cv = o.Get("create");
  bool create = cv.IsBoolean() && cv.As<Napi::Boolean>().Value();
  int err = 0;
  std::string why;
  auto pool = bench::PmemblkPool::open(path, bsize, pool_size, create, &err, &why);
  if (!pool) throw_blkio_error(env, err, why.c_str());
  return pool;
}

Napi::Value pmemblk_pool_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) bad(env, "pmemblkPoolInfo needs { pmemblk, bsize, poolSize, create }");
  auto pool = pmemblk_pool_from(env, info[0].As<Napi::Object>());
  Napi::Object r = Napi::Object::New(env);
  r.Set("bsize", double(pool->bsize()));
  r.Set("nblocks", double(pool->nblocks()));
  return r;
}

}  // namespace blkio::napi
