// vhost-user reconnect, through the Promise layer at QD32 on qemu-storage-daemon
// (raw file, page-cached):
// 1. what having reconnect on costs: 4 KiB random writes over 64 MiB with
//    `reconnect: { timeoutMs }` and without, alternating rounds, IOPS ratio;
// 2. the pause a kill -9 and an immediate restart cause: from the kill to the
//    first completion after it, and from the restarted daemon listening to
//    that completion (the driver's share: reconnect, handshake, re-offer).
//
//   node dist-test/bench/reconnect.js [seconds=2] [rounds=3] [kills=10]
import { open } from '../src/lib';
import { Qsd } from '../test/support/qsd';
import { SIZE, sleep, startWriters, writeIops } from './promise-writers';
import { median } from './support';

const seconds = Number(process.argv[2] ?? 2);
const rounds = Number(process.argv[3] ?? 3);
const kills = Number(process.argv[4] ?? 10);

async function pauses(qsd: Qsd): Promise<{ total: number[]; driver: number[] }> {
  const dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket, reconnect: { timeoutMs: 10000 } });
  const w = startWriters(dev);
  const total: number[] = [];
  const driver: number[] = [];
  for (let i = 0; i < kills; i++) {
    await sleep(300);
    const killedAt = performance.now();
    await qsd.kill('SIGKILL');
    await qsd.restart();
    const listeningAt = performance.now();
    while (w.lastCompletion() <= listeningAt) await sleep(1);
    total.push(w.lastCompletion() - killedAt);
    driver.push(w.lastCompletion() - listeningAt);
  }
  await w.stop();
  await dev.close();
  return { total, driver };
}

async function main(): Promise<void> {
  const qsd = await Qsd.start({ size: SIZE, random: false });
  try {
    console.log(`vhost-user reconnect: 4 KiB random writes, QD32, Promise layer, ${seconds}s x ${rounds} alternating rounds`);
    const on: number[] = [];
    const off: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [true, false] : [false, true];
      for (const reconnect of order) (reconnect ? on : off).push(await writeIops({ driver: 'virtio-blk-vhost-user', path: qsd.socket, ...(reconnect ? { reconnect: { timeoutMs: 10000 } } : {}) }, seconds));
      console.log(`  round ${r + 1}: reconnect on ${(on[r] / 1000).toFixed(1)}k IOPS, off ${(off[r] / 1000).toFixed(1)}k IOPS, ratio ${(on[r] / off[r]).toFixed(2)}`);
    }
    console.log(`medians: on ${(median(on) / 1000).toFixed(1)}k IOPS, off ${(median(off) / 1000).toFixed(1)}k IOPS, ratio on/off ${(median(on) / median(off)).toFixed(2)}`);
    const p = await pauses(qsd);
    const fmt = (xs: number[]): string => `median ${median(xs).toFixed(0)} ms, worst ${Math.max(...xs).toFixed(0)} ms`;
    console.log(`kill -9 + restart, ${kills} times with writes in flight:`);
    console.log(`  kill → first completion after it: ${fmt(p.total)} (includes the daemon's exit and start-up)`);
    console.log(`  restarted daemon listening → first completion: ${fmt(p.driver)} (reconnect, handshake, re-offer)`);
  } finally {
    await qsd.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
