// Backup, throttling and snapshot + commit through qemu-storage-daemon on
// demand, with writes running, on the host (test/shared/slow-path.ts).
import { describeSlowPath } from '../../shared/slow-path';

describeSlowPath('Slow-path operations with writes running', 120_000);
