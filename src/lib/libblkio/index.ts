// The libblkio driver: any libblkio-compatible shared library (upstream's
// libblkio.so.1, or this project's own build of its C ABI) loaded with koffi
// and driven through its C API. It implements the addon's internal
// NativeBlkio and NativeQueue interfaces, so Blkio and Queue (argument
// checks, request batches, completions) are the same classes as on the N-API
// path; only the layer below them differs. koffi is loaded on first use.
import { constants } from 'node:os';
import { BlkioError } from '../errors';
import { NativeBlkio } from '../native/addon';
import { LibraryBlkio } from './instance';
import { defaultLibraryPath, loadLibrary } from './library';

export { defaultLibraryPath };

const { EINVAL } = constants.errno;

/**
 * A NativeBlkio for driver in the libblkio-compatible library at path
 * (default: defaultLibraryPath()).
 */
export function createFromLibrary(driver: string, path: string = defaultLibraryPath()): NativeBlkio {
  if (typeof path !== 'string' || path === '')
    throw new BlkioError('library must be a path or a library name such as libblkio.so.1', EINVAL);
  return new LibraryBlkio(loadLibrary(path), driver);
}
