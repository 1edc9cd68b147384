// blkbench's ioengine=exec (fio's exec engine): the job runs a program
// beside the other jobs instead of doing I/O. The first request starts it;
// each later one waits poll_ns (fio's engine looks at its program every
// 50 ms). The program leads a process group of its own. When the loop is
// done, finish() (on the loop's thread) gives the group SIGTERM, grace_ns
// for the program to exit, then SIGKILL, and reaps the program: no zombie
// is left, nor anything it started. (A program that ends early stays
// unreaped until then, so that its group's id cannot be reused.)
//
// The program is started with clone(CLONE_VM | CLONE_VFORK) on a stack
// allocated beforehand, so the child only makes system calls until execve
// (nothing in a multi-threaded Node process may be malloc'ed after a fork):
// it gets default signal dispositions and an empty signal mask, SIGKILL as
// its parent-death signal (it dies with blkbench, also when blkbench is
// killed), stdout/stderr redirected if asked, and no fd above 2. A program
// that cannot be executed leaves the job running its time without one, as
// fio's does. No data moves: requests are counted, not their bytes.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "synchronous_sink.h"

namespace blkio::bench {

struct ExecOptions {
  std::string path;               // what execve runs (PATH already searched)
  std::vector<std::string> argv;  // argv[0] first
  std::vector<std::string> env;   // NAME=value
  std::string stdout_path, stderr_path;  // empty: the program shares blkbench's
  int64_t grace_ns = 1000000000;
  int64_t poll_ns = 50000000;
};

class ExecSink final : public UniformSink<void*> {
 public:
  // Opens the redirection files (created or truncated, 0644); nullptr with
  // -errno in *err and the reason in *why if one cannot be opened.
  static std::unique_ptr<ExecSink> create(ExecOptions o, size_t capacity, int* err, std::string* why);
  ~ExecSink() override;

  bool moves_data() const override { return false; }
  // Ends the program (SIGTERM, grace, SIGKILL) and reaps it; on the loop's thread once it is done.
  void finish();
  // The errno of a failed execve (0: it ran, or has not been started).
  int exec_error() const { return exec_error_; }

 private:
  ExecSink(ExecOptions o, size_t capacity);
  void take(void* user_data) override { SynchronousSink::accept(user_data); }
  Completion perform(void* const& user_data) override;
  void spawn();
  bool reap(bool block);
  bool ended() const;

  ExecOptions o_;
  std::vector<char*> argv_, envp_;
  std::vector<char> stack_;
  int out_fd_ = -1, err_fd_ = -1;
  pid_t pid_ = -1;
  bool started_ = false;
  int exec_error_ = 0;
};

}  // namespace blkio::bench
