// Loaded with `node --require` into the sanitizer run's child mocha. The
// dynamic loader has already put the sanitizer runtime (LD_PRELOAD) into this
// process; the programs the tests start (qemu-storage-daemon, qemu-img, gcc)
// must not get it: QEMU's coroutines hang under ASan. C programs that load
// the instrumented libblkio.so.1 get it back through
// BLKIO_TEST_LIBBLKIO_PRELOAD (test/host/capi/support.ts runC).
process.env.BLKIO_TEST_LIBBLKIO_PRELOAD = process.env.LD_PRELOAD ?? '';
delete process.env.LD_PRELOAD;
