// Names the API takes as strings, spelled out for editors and the compiler.
// Each union also admits any other string ("string & {}" keeps completion
// working): other libblkio libraries bring drivers and properties of their own.

/** A string that is not one of the names listed, for forward compatibility. */
export type OtherName = string & {};

/**
 * libblkio's drivers. `libblkio:<driver>` runs `<driver>` in another
 * libblkio-compatible library, loaded with koffi (see {@link CreateOptions}).
 */
export type DriverName =
  | 'io_uring'
  | 'nvme-io_uring'
  | 'virtio-blk-vhost-user'
  | 'virtio-blk-vhost-vdpa'
  | 'virtio-blk-vfio-pci'
  | `libblkio:${string}`
  | OtherName;

/** Properties of type bool (getBool/setBool). */
export type BoolProperty =
  | 'read-only'
  | 'direct'
  | 'can-add-queues'
  | 'supports-poll-queues'
  | 'may-pin-mem-regions'
  | 'needs-mem-regions'
  | 'needs-mem-region-fd'
  | 'flush-needed'
  | 'can-grow'
  | 'supports-fua-natively'
  | OtherName;

/** Properties of type int (getInt/setInt). */
export type IntProperty =
  | 'fd'
  | 'num-entries'
  | 'queue-size'
  | 'max-queue-size'
  | 'reconnect-timeout-ms'
  | 'max-queues'
  | 'num-queues'
  | 'num-poll-queues'
  | 'request-alignment'
  | 'optimal-io-alignment'
  | 'optimal-io-size'
  | 'buf-alignment'
  | 'optimal-buf-alignment'
  | 'max-segments'
  | 'max-segment-len'
  | 'max-transfer'
  | 'discard-alignment'
  | 'discard-alignment-offset'
  | OtherName;

/** Properties of type uint64 (getUint64/setUint64). */
export type Uint64Property =
  | 'capacity'
  | 'max-mem-regions'
  | 'mem-region-alignment'
  | 'max-write-zeroes-len'
  | 'max-discard-len'
  | 'nr-zones'
  | 'zone-size'
  | 'max-open-zones'
  | 'max-active-zones'
  | 'max-append-bytes'
  | OtherName;

/** Properties of type str (getStr/setStr). */
export type StrProperty = 'driver' | 'path' | 'zoned-model' | OtherName;
