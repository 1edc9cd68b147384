/**
 * blkbench_switch_to=DRIVER:PATH and blkbench_switch_every=TIME: a job that alternates between its own
 * target and another backend of the same image while it runs (docs/blkbench.md, docs/switching.md).
 */
import { DRIVERS } from './option-values';
import { OptionError } from './units';

/** The other backend of the job's image. */
export interface SwitchTarget {
  driver: string;
  path: string;
}

/** DRIVER:PATH, DRIVER one of this addon's drivers; "\:" in PATH for a literal colon is not needed (the first colon splits). */
export function parseSwitchTarget(text: string): SwitchTarget {
  const colon = text.indexOf(':');
  const driver = colon < 0 ? '' : text.slice(0, colon).trim();
  const path = colon < 0 ? '' : text.slice(colon + 1).trim();
  if (colon < 0 || driver === '' || path === '') {
    throw new OptionError(`bad value '${text}' for option 'blkbench_switch_to': expected DRIVER:PATH, e.g. virtio-blk-vhost-user:/run/qsd.sock`);
  }
  if (!DRIVERS.includes(driver)) {
    throw new OptionError(`bad value '${text}' for option 'blkbench_switch_to': driver '${driver}' is not one of ${DRIVERS.join(', ')}`);
  }
  return { driver, path };
}

/** The combinations a switching job refuses (checked once the whole job is known). */
export function checkSwitching(spec: {
  switchTo: SwitchTarget | undefined; switchEveryNs: number; numjobs: number; driver: string; hipri: boolean;
}): void {
  if (spec.switchTo === undefined && spec.switchEveryNs === 0) return;
  if (spec.switchTo === undefined) throw new OptionError(`option 'blkbench_switch_every' needs 'blkbench_switch_to'`);
  if (spec.switchEveryNs === 0) throw new OptionError(`option 'blkbench_switch_to' needs 'blkbench_switch_every' (e.g. 200ms)`);
  if (spec.numjobs > 1) {
    throw new OptionError(`option 'blkbench_switch_to' runs one clone: numjobs=${spec.numjobs} would put clones on different backends at once`);
  }
  if (!DRIVERS.includes(spec.driver)) {
    throw new OptionError(`option 'blkbench_switch_to' needs one of this addon's drivers for the job, not '${spec.driver}'`);
  }
  if (spec.hipri) throw new OptionError(`option 'blkbench_switch_to' cannot be used with 'hipri'`);
}
