#include "pmemblk_pool.h"

#include <dlfcn.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

namespace blkio::bench {

namespace {

constexpr const char* kLibrary = "libpmemblk.so.1";

// libpmemblk's entry points (libpmemblk.h; PMEMblkpool is opaque).
struct Lib {
  void* (*create)(const char*, size_t, size_t, unsigned);
  void* (*open)(const char*, size_t);
  void (*close)(void*);
  size_t (*bsize)(void*);
  size_t (*nblock)(void*);
  int (*read)(void*, void*, long long);
  int (*write)(void*, const void*, long long);
  const char* (*errormsg)();
};

// Loaded once; never unloaded (pools may be open until the process exits).
const Lib* library(std::string* why) {
  static std::once_flag once;
  static Lib lib;
  static bool loaded = false;
  static std::string error;
  std::call_once(once, [] {
    void* h = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      error = std::string("ioengine=pmemblk needs ") + kLibrary + " (Debian: apt-get install libpmemblk1): " + (e ? e : "dlopen failed");
      return;
    }
    bool ok = true;
    auto sym = [&](const char* name) {
      void* p = dlsym(h, name);
      if (!p) ok = false;
      return p;
    };
    lib.create = reinterpret_cast<decltype(lib.create)>(sym("pmemblk_create"));
    lib.open = reinterpret_cast<decltype(lib.open)>(sym("pmemblk_open"));
    lib.close = reinterpret_cast<decltype(lib.close)>(sym("pmemblk_close"));
    lib.bsize = reinterpret_cast<decltype(lib.bsize)>(sym("pmemblk_bsize"));
    lib.nblock = reinterpret_cast<decltype(lib.nblock)>(sym("pmemblk_nblock"));
    lib.read = reinterpret_cast<decltype(lib.read)>(sym("pmemblk_read"));
    lib.write = reinterpret_cast<decltype(lib.write)>(sym("pmemblk_write"));
    lib.errormsg = reinterpret_cast<decltype(lib.errormsg)>(sym("pmemblk_errormsg"));
    if (!ok) error = std::string(kLibrary) + " lacks one of pmemblk_create, _open, _close, _bsize, _nblock, _read, _write, _errormsg";
    loaded = ok;
  });
  if (!loaded) *why = error;
  return loaded ? &lib : nullptr;
}

}  // namespace

struct PmemblkPool::Shared {
  const Lib* lib;
  void* pool;
  std::string path;
  size_t bsize, nblocks;
  int refs;
};

namespace {

std::mutex registry_mutex;
// Open pools by path; guarded by registry_mutex.
std::map<std::string, std::shared_ptr<PmemblkPool::Shared>>& registry() {
  static auto* m = new std::map<std::string, std::shared_ptr<PmemblkPool::Shared>>();
  return *m;
}

}  // namespace

std::shared_ptr<PmemblkPool> PmemblkPool::open(const std::string& path, size_t bsize, size_t pool_size, bool create, int* err, std::string* why) {
  const Lib* lib = library(why);
  if (!lib) {
    *err = -ENOENT;
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry().find(path);
  if (it != registry().end()) {
    if (bsize != 0 && bsize != it->second->bsize) {
      *err = -EINVAL;
      *why = "pmemblk pool '" + path + "' has " + std::to_string(it->second->bsize) + "-byte blocks, not " + std::to_string(bsize);
      return nullptr;
    }
    it->second->refs++;
    return std::shared_ptr<PmemblkPool>(new PmemblkPool(it->second));
  }
  void* pool = lib->open(path.c_str(), bsize);
  int e = errno;
  if (!pool && e == ENOENT && create && bsize > 0 && pool_size > 0) {
    pool = lib->create(path.c_str(), bsize, pool_size, 0644);
    e = errno;
  }
  if (!pool) {
    const char* msg = lib->errormsg();
    *err = -(e ? e : EIO);
    bool creating = create && bsize > 0 && pool_size > 0;
    *why = "cannot " + std::string(creating ? "open or create" : "open") + " pmemblk pool '" + path + "': " + (msg && *msg ? msg : strerror(e));
    if (e == ENOENT && !creating) *why += " (name it path,bsize,fsize_mib to create it)";
    return nullptr;
  }
  auto s = std::make_shared<Shared>(Shared{lib, pool, path, lib->bsize(pool), lib->nblock(pool), 1});
  registry()[path] = s;
  return std::shared_ptr<PmemblkPool>(new PmemblkPool(s));
}

PmemblkPool::PmemblkPool(std::shared_ptr<Shared> s) : s_(std::move(s)), bsize_(s_->bsize), nblocks_(s_->nblocks) {}

PmemblkPool::~PmemblkPool() {
  std::lock_guard<std::mutex> lock(registry_mutex);
  if (--s_->refs > 0) return;
  s_->lib->close(s_->pool);
  registry().erase(s_->path);
}

int PmemblkPool::read(void* buf, long long block) const {
  return s_->lib->read(s_->pool, buf, block) == 0 ? 0 : -(errno ? errno : EIO);
}

int PmemblkPool::write(const void* buf, long long block) const {
  return s_->lib->write(s_->pool, buf, block) == 0 ? 0 : -(errno ? errno : EIO);
}

}  // namespace blkio::bench
