// blkio/bench: the native job loop that blkbench runs jobs on. A benchmark
// engine rather than block I/O API, so it has an entry of its own.
export {
  JobLoop, JobLoopSpec, JobLoopZones, JobLoopRw, JobLoopPerDirection, JobLoopBlockSizeSplit, JobLoopTraceEntry, JobLoopResult, JobLoopDirection, JobLoopLatency, JobLoopSamples, JobLoopCpu, JobLoopOptions, JobLoopSwitches, JobLoopNetTarget, JOB_LOOP_PROGRESS_FIELDS,
  startJobLoop, startNullJobLoop, startMemDeviceJobLoop, startFileEngineJobLoop, startCpuJobLoop, startFileOpJobLoop, startNetJobLoop, runJobLoop,
} from './job-loop';
export { JobLoopProgram, JobLoopPmemblkPool, startExecJobLoop, startPmemblkJobLoop, pmemblkPoolInfo } from './job-loop';
