#include "exec_sink.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

namespace blkio::bench {

namespace {

constexpr size_t kChildStack = 64 * 1024;

// What the child reads (and the one thing it writes: exec_errno), in the
// parent's memory, which the child shares until it execs or exits.
struct ChildArgs {
  const char* path;
  char* const* argv;
  char* const* envp;
  int out_fd, err_fd;
  pid_t parent;
  int exec_errno;
};

// Only system calls from here to execve: the child runs on the parent's memory.
int child_main(void* p) {
  auto* a = static_cast<ChildArgs*>(p);
  // Node's handlers (and its ignored SIGPIPE) are not the program's. The
  // child's handler table is its own (no CLONE_SIGHAND); every signal is
  // blocked until this is done, so none of the parent's handlers runs here.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, nullptr);  // SIGKILL, SIGSTOP, glibc's own: EINVAL, fine
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != a->parent) _exit(127);  // blkbench is gone already
  // A process group of its own: the signals at the end reach what it started, too.
  if (setpgid(0, 0) != 0) _exit(127);
  if (a->out_fd >= 0 && a->out_fd != 1 && dup2(a->out_fd, 1) < 0) _exit(127);
  if (a->err_fd >= 0 && a->err_fd != 2 && dup2(a->err_fd, 2) < 0) _exit(127);
  // Node opens its stdio close-on-exec: the program shares them (or gets its files there).
  for (int fd = 0; fd <= 2; fd++) fcntl(fd, F_SETFD, 0);
  if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
    struct rlimit rl;
    int limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? int(rl.rlim_cur) : 65536;
    for (int fd = 3; fd < limit; fd++) close(fd);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(a->path, a->argv, a->envp);
  a->exec_errno = errno;
  _exit(127);
}

int open_output(const std::string& path, int* err, std::string* why) {
  if (path.empty()) return -1;
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *err = -errno;
    *why = "cannot open '" + path + "' for the program's output: " + strerror(errno);
  }
  return fd;
}

}  // namespace

std::unique_ptr<ExecSink> ExecSink::create(ExecOptions o, size_t capacity, int* err, std::string* why) {
  std::unique_ptr<ExecSink> s(new ExecSink(std::move(o), capacity));
  s->out_fd_ = open_output(s->o_.stdout_path, err, why);
  if (!s->o_.stdout_path.empty() && s->out_fd_ < 0) return nullptr;
  s->err_fd_ = open_output(s->o_.stderr_path, err, why);
  if (!s->o_.stderr_path.empty() && s->err_fd_ < 0) return nullptr;
  return s;
}

ExecSink::ExecSink(ExecOptions o, size_t capacity) : UniformSink(capacity), o_(std::move(o)), stack_(kChildStack) {
  for (auto& a : o_.argv) argv_.push_back(a.data());
  argv_.push_back(nullptr);
  for (auto& e : o_.env) envp_.push_back(e.data());
  envp_.push_back(nullptr);
}

ExecSink::~ExecSink() {
  // finish() ran on the loop's thread; this is for a loop that never ran.
  if (pid_ > 0) {
    kill(-pid_, SIGKILL);
    reap(true);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void ExecSink::spawn() {
  ChildArgs a{o_.path.c_str(), argv_.data(), envp_.data(), out_fd_, err_fd_, getpid(), 0};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  // The stack grows down: the child starts at the 16-byte-aligned top.
  auto top = reinterpret_cast<uintptr_t>(stack_.data() + stack_.size()) & ~uintptr_t(15);
  pid_t pid = clone(child_main, reinterpret_cast<void*>(top), CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    exec_error_ = clone_errno;
    return;
  }
  pid_ = pid;
  if (a.exec_errno != 0) {
    // It could not be executed and has exited (CLONE_VFORK returns once it
    // has): reap it. The job still runs its time, as fio's does.
    exec_error_ = a.exec_errno;
    reap(true);
  }
}

// Reaps the program once it has ended (block: waits for that). True once reaped.
bool ExecSink::reap(bool block) {
  if (pid_ <= 0) return true;
  int status;
  pid_t r;
  do r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  pid_ = -1;  // reaped (or, ECHILD, someone else did: nothing is left to end)
  return true;
}

// Whether the program has ended, leaving it unreaped: while it is not
// reaped, its pid (and so its process group's id) cannot be reused.
bool ExecSink::ended() const {
  if (pid_ <= 0) return true;
  siginfo_t info{};
  int r;
  do r = waitid(P_PID, id_t(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
  while (r < 0 && errno == EINTR);
  return r < 0 || info.si_pid == pid_;
}

Completion ExecSink::perform(void* const& user_data) {
  if (!started_) {
    started_ = true;
    spawn();
  } else {
    timespec t{time_t(o_.poll_ns / 1000000000), long(o_.poll_ns % 1000000000)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
  }
  Completion c{};
  c.user_data = user_data;
  return c;
}

void ExecSink::finish() {
  // The program has its own copies of the output files.
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
  out_fd_ = err_fd_ = -1;
  if (pid_ <= 0) return;
  // The whole group: the program and what it started. The program, unreaped
  // until the end, keeps the group's id from being reused.
  kill(-pid_, SIGTERM);
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    if (ended()) break;
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t waited = int64_t(now.tv_sec - start.tv_sec) * 1000000000 + (now.tv_nsec - start.tv_nsec);
    if (waited >= o_.grace_ns) break;
    int64_t step = std::min<int64_t>(10000000, o_.grace_ns - waited);
    timespec t{0, long(step)};
    nanosleep(&t, nullptr);
  }
  kill(-pid_, SIGKILL);  // also what the program left behind when it exited
  reap(true);
}

}  // namespace blkio::bench
