// Backup, throttling and snapshot + commit through qemu-storage-daemon on
// demand, with writes running, in the guest (test/shared/slow-path.ts).
import { inVm } from '../../support/vdpa-targets';
import { describeSlowPath } from '../../shared/slow-path';

if (inVm) describeSlowPath('Slow-path operations with writes running, in the guest', 600_000);
