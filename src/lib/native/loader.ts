// Finds and loads the compiled addon: an explicit BLKIO_ADDON_PATH, a local
// source build, then the prebuilt binary shipped in the package.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The package's root: the nearest directory above this file with our package.json. */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'blkio') return dir;
    if (path.dirname(dir) === dir) throw new Error(`blkio: no package.json of 'blkio' above ${from}`);
  }
}

/** Where the addon may be, in the order they are tried. */
export function addonCandidates(root: string = packageRoot()): string[] {
  // A local build wins: it exists only where the prebuilt one did not load
  // at install time, or in a source checkout.
  const candidates = [
    path.join(root, 'build', 'Release', 'blkio.node'),
    path.join(root, 'build', 'Debug', 'blkio.node'),
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'blkio.node'),
  ];
  const explicit = process.env.BLKIO_ADDON_PATH;
  return explicit ? [explicit] : candidates;
}

/** Loads the addon, or throws one error that says what to do about it. */
export function loadAddon<T>(): T {
  const candidates = addonCandidates();
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) {
    throw new Error(
      `blkio: the native addon is missing (looked for ${candidates.join(', ')}). ` +
        'It is built when the package is installed; if install scripts were skipped (--ignore-scripts), ' +
        'run `npm rebuild blkio` (needs python3, make and g++).',
    );
  }
  return require(found) as T;
}
