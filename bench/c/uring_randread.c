// Reference for bench/io_uring-overhead: 4 KiB random reads at a fixed queue
// depth through a bare io_uring (raw syscalls, fixed file and buffers), the
// same loop shape the library runs: submit what was refilled, wait for one,
// reap everything, refill. Prints "<requests> <seconds> <user cpu s> <system cpu s>".
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(int user) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  struct timeval t = user ? ru.ru_utime : ru.ru_stime;
  return t.tv_sec + t.tv_usec / 1e6;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s FILE SECONDS QD\n", argv[0]);
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  double seconds = atof(argv[2]);
  unsigned qd = (unsigned)atoi(argv[3]);
  struct stat st;
  fstat(fd, &st);
  uint64_t blocks = (uint64_t)st.st_size / 4096;

  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int ring = (int)syscall(__NR_io_uring_setup, 128, &p);
  if (ring < 0) return perror("io_uring_setup"), 1;
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  size_t size = sq_size > cq_size ? sq_size : cq_size;
  char* sq = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
  char* cq = sq;
  struct io_uring_sqe* sqes = mmap(0, p.sq_entries * sizeof *sqes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                                   ring, IORING_OFF_SQES);
  unsigned* sq_head = (unsigned*)(sq + p.sq_off.head);
  unsigned* sq_tail = (unsigned*)(sq + p.sq_off.tail);
  unsigned sq_mask = *(unsigned*)(sq + p.sq_off.ring_mask);
  unsigned* array = (unsigned*)(sq + p.sq_off.array);
  for (unsigned i = 0; i < p.sq_entries; i++) array[i] = i;
  unsigned* cq_head = (unsigned*)(cq + p.cq_off.head);
  unsigned* cq_tail = (unsigned*)(cq + p.cq_off.tail);
  unsigned cq_mask = *(unsigned*)(cq + p.cq_off.ring_mask);
  struct io_uring_cqe* cqes = (struct io_uring_cqe*)(cq + p.cq_off.cqes);

  char* buf = mmap(0, qd * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct iovec iov = {buf, qd * 4096};
  if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1) < 0) return perror("register buffers"), 1;
  if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_FILES, &fd, 1) < 0) return perror("register files"), 1;

  uint64_t rng = 0x9e3779b97f4a7c15ull;
  unsigned tail = *sq_tail;
  unsigned pending = 0;
  unsigned free_slots[1024];
  for (unsigned i = 0; i < qd; i++) free_slots[i] = i;
  unsigned nfree = qd;
  uint64_t done = 0;
  double start = now(), user0 = cpu(1), sys0 = cpu(0), end = start + seconds;
  for (;;) {
    while (nfree) {
      unsigned slot = free_slots[--nfree];
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      struct io_uring_sqe* sqe = &sqes[tail & sq_mask];
      memset(sqe, 0, sizeof *sqe);
      sqe->opcode = IORING_OP_READ_FIXED;
      sqe->flags = IOSQE_FIXED_FILE;
      sqe->fd = 0;
      sqe->addr = (uint64_t)(buf + slot * 4096);
      sqe->len = 4096;
      sqe->off = (rng % blocks) * 4096;
      sqe->buf_index = 0;
      sqe->user_data = slot;
      tail++;
      pending++;
    }
    __atomic_store_n(sq_tail, tail, __ATOMIC_RELEASE);
    syscall(__NR_io_uring_enter, ring, pending, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    pending = tail - __atomic_load_n(sq_head, __ATOMIC_ACQUIRE);
    unsigned head = *cq_head, ctail = __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE);
    for (; head != ctail; head++) {
      struct io_uring_cqe* c = &cqes[head & cq_mask];
      if (c->res != 4096) return fprintf(stderr, "read failed: %d\n", c->res), 1;
      free_slots[nfree++] = (unsigned)c->user_data;
      done++;
    }
    __atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
    if ((done & 1023) < 32 && now() >= end) break;
  }
  printf("%llu %.6f %.6f %.6f\n", (unsigned long long)done, now() - start, cpu(1) - user0, cpu(0) - sys0);
  return 0;
}
