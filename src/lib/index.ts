// blkio for Node: libblkio's API over io_uring, vhost-user and vhost-vdpa,
// plus a Promise layer (open) for ordinary Node code.
export { BlkioError, errnoName } from './errors';
export { REQ_FUA, REQ_NO_UNMAP, REQ_NO_FALLBACK } from './constants';
export { Blkio, BlkioHandle, CreateOptions, MemRegion, create, attach } from './blkio';
export { defaultLibraryPath } from './libblkio';
export { Queue, Completion, CompletionWatcher, createCompletions } from './queue';
export { Device, OpenOptions, open } from './promise/device';
export type { SwitchReport } from './promise/switching';
export { SlowPath, SlowPathOptions, SlowPathReport, ThrottleLimits } from './promise/slow-path';
export { QmpClient, QmpEvent } from './qmp/client';
export { StorageDaemon, StorageDaemonOptions } from './qmp/storage-daemon';
export type { BoolProperty, DriverName, IntProperty, OtherName, StrProperty, Uint64Property } from './names';
export {
  JobLoop, JobLoopSpec, JobLoopRw, JobLoopResult, JobLoopDirection, JobLoopLatency, JobLoopSamples, JobLoopCpu, JOB_LOOP_PROGRESS_FIELDS,
  startJobLoop, runJobLoop,
} from './job-loop';
export * as vdpa from './vdpa';
export { bindPciDriver, getPciDriver, pciDevicePath, vfioGroupPath } from './pci';
