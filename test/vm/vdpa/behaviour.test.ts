// The shared libblkio behaviour suite on vhost-vdpa, in the test guest:
// vdpa_sim_blk and a VDUSE device served by qemu-storage-daemon from a raw
// file (whose content the suite checks from outside).
import { describeBehaviour } from '../../shared/behaviour';
import { guestDevice, simTarget, vduseRawTarget } from '../../support/vdpa-targets';

const sim = guestDevice('BLKIO_VDPA_SIM');
const vduseRaw = guestDevice('BLKIO_VDUSE_RAW');
const vduseRawFile = process.env.BLKIO_VDUSE_RAW_FILE;

if (sim) describeBehaviour(simTarget(sim));
if (vduseRaw && vduseRawFile) describeBehaviour(vduseRawTarget(vduseRaw, vduseRawFile));
