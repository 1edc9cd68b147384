/** Persist this write's data before it completes (libblkio BLKIO_REQ_FUA). */
export const REQ_FUA = 1 << 0;
/** writeZeroes must not deallocate the range (BLKIO_REQ_NO_UNMAP). */
export const REQ_NO_UNMAP = 1 << 1;
/** writeZeroes must not fall back to writing zero buffers (BLKIO_REQ_NO_FALLBACK). */
export const REQ_NO_FALLBACK = 1 << 2;
