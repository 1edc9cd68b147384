// fio keeps its table of jobs in System V shared memory, which the guest
// kernel is built without (CONFIG_SYSVIPC is off). Preloaded into fio, this
// serves its shmget/shmat/shmdt/shmctl from anonymous shared mappings, which
// its job processes inherit as they would the segment.
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

#define SEGMENTS 64

static struct {
  void *addr;
  size_t size;
} segments[SEGMENTS];

static int valid(int id) { return id >= 1 && id <= SEGMENTS && segments[id - 1].addr != NULL; }

int shmget(key_t key, size_t size, int flags) {
  (void)key;
  (void)flags;
  for (int i = 0; i < SEGMENTS; i++) {
    if (segments[i].addr != NULL) continue;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      errno = ENOMEM;
      return -1;
    }
    segments[i].addr = p;
    segments[i].size = size;
    return i + 1;
  }
  errno = ENOSPC;
  return -1;
}

void *shmat(int id, const void *addr, int flags) {
  (void)addr;
  (void)flags;
  if (!valid(id)) {
    errno = EINVAL;
    return (void *)-1;
  }
  return segments[id - 1].addr;
}

int shmdt(const void *addr) {
  (void)addr;
  return 0;  // the mapping goes with the process
}

int shmctl(int id, int cmd, struct shmid_ds *buf) {
  if (!valid(id)) {
    errno = EINVAL;
    return -1;
  }
  if (cmd == IPC_STAT && buf != NULL) {
    memset(buf, 0, sizeof *buf);
    buf->shm_segsz = segments[id - 1].size;
  }
  return 0;  // IPC_RMID: the mapping goes with the last process using it
}
