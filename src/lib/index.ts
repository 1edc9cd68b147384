// blkio for Node: libblkio's API (create, properties, queues, requests,
// completions) over its five drivers, plus a Promise layer (open) for ordinary
// Node code. Device provisioning is `blkio/admin`, the job loop `blkio/bench`.
export { BlkioError, errnoName } from './errors';
export { REQ_FUA, REQ_NO_UNMAP, REQ_NO_FALLBACK } from './constants';
export { Blkio, BlkioHandle, CreateOptions, MemRegion, create, attach } from './blkio';
export { defaultLibraryPath } from './libblkio';
export { builtinDrivers } from './drivers';
export { Queue, Completion, CompletionWatcher, createCompletions } from './queue';
export { Device, OpenOptions, open } from './promise/device';
export type { SwitchReport } from './promise/switching';
export { SlowPath, SlowPathOptions, SlowPathReport, ThrottleLimits } from './promise/slow-path';
export { QmpClient, QmpEvent } from './qmp/client';
export { StorageDaemon, StorageDaemonOptions } from './qmp/storage-daemon';
export { AbortError } from './promise/abort';
export type {
  DeviceStats, Position, ReadParams, ReadResult, ReadvResult, RequestOptions, WriteOptions, WriteParams, WriteResult, WritevResult,
} from './promise/shapes';
export type { ReadStreamOptions, WriteStreamOptions } from './promise/streams';
export * from './zones';
export { DeviceZones, ZonedGeometry, ZoneRequestOptions } from './promise/zoned';
export type { BoolProperty, DriverName, IntProperty, OtherName, StrProperty, Uint64Property } from './names';
