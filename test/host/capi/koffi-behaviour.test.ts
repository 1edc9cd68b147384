// The shared behavioural suite through the libblkio driver: koffi loads this
// project's libblkio.so.1, so the C ABI is checked as an outside consumer
// sees it, under the same Blkio and Queue interfaces as the addon.
import { describeBehaviour } from '../../shared/behaviour';
import { directFile, regularFile } from '../../support/files';
import { qsdTarget } from '../vhost-user/target';
import { throughLibrary, withProjectLibrary } from './support';

describe('libblkio driver (koffi) on this project\'s libblkio.so.1', () => {
  withProjectLibrary(() => {
    describeBehaviour(throughLibrary(regularFile));
    describeBehaviour(throughLibrary(directFile));
    describeBehaviour(throughLibrary(qsdTarget('raw')));
  });
});
