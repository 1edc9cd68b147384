// `npm run bench`: every host benchmark in turn, each printing its own
// ratios against a reference measured in the same run. vdpa-vs-io_uring
// needs a vhost-vdpa device and runs inside the VM test instead.
// Run: node dist-test/bench/run-all.js [--quick]
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const quick = process.argv.includes('--quick');
const benches: { file: string; args: string[]; node?: string[] }[] = [
  { file: 'io_uring-overhead.js', args: quick ? ['1', '1'] : [], node: ['--expose-gc'] },
  { file: 'koffi-vs-napi.js', args: quick ? ['1', '1'] : [] },
  { file: 'vhost-user-vs-io_uring.js', args: quick ? ['1', '1'] : [], node: ['--expose-gc'] },
  { file: 'vs-fio.js', args: quick ? ['--rounds=1', '--runtime=1'] : ['--rounds=5', '--runtime=3', '--loops=native,js'] },
  { file: 'promise-vs-fs.js', args: quick ? ['1', '1'] : [] },
  { file: 'reconnect.js', args: quick ? ['1', '1', '3'] : ['3', '6', '20'] },
  { file: 'fast-vs-slow-path.js', args: quick ? ['1', '1', '4'] : ['3', '5', '30'] },
  { file: 'stream-copy-vs-fs.js', args: quick ? ['1', '1048576', '256'] : [] },
  { file: 'blkbench-switching.js', args: quick ? ['1', '1'] : [] },
];

let failed = 0;
for (const bench of benches) {
  console.log(`\n=== ${bench.file.replace(/\.js$/, '')}`);
  const r = spawnSync(process.execPath, [...(bench.node ?? []), path.join(__dirname, bench.file), ...bench.args], {
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    failed++;
    console.log(`=== ${bench.file} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
