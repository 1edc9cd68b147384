/** Shared helpers for blkbench tests: running the CLI, synthetic results, report and XML checks. */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { parseCommandLine } from '../../src/blkbench/args';
import { LatencyHistogram } from '../../src/blkbench/histogram';
import { JobResult, emptyDirection } from '../../src/blkbench/results';
import { RunningStats } from '../../src/blkbench/stats';
import { BLKBENCH_CLI } from './paths';

/** A job result with the given read latencies, as if measured over runtimeMs. */
export function syntheticResult(name: string, readLatenciesNs: number[], runtimeMs: number, argv: string[] = []): JobResult {
  const spec = parseCommandLine(['--name=' + name, '--filename=/dev/null', '--rw=randread', '--bs=4k', '--iodepth=8', ...argv]).jobs[0];
  const read = emptyDirection();
  const h = new LatencyHistogram(read.hist);
  const s = new RunningStats();
  for (const ns of readLatenciesNs) {
    h.add(ns);
    s.add(ns);
  }
  read.ios = readLatenciesNs.length;
  read.bytes = read.ios * 4096;
  read.lat = s.snapshot();
  const bw = new RunningStats();
  const iops = new RunningStats();
  const perSec = read.ios / (runtimeMs / 1000);
  for (const f of [0.9, 1, 1.1]) {
    iops.add(perSec * f);
    bw.add((perSec * f * 4096) / 1024);
  }
  read.bw = bw.snapshot();
  read.iops = iops.snapshot();
  return {
    name,
    jobs: 1,
    groupid: 0,
    spec,
    runtimeNs: runtimeMs * 1e6,
    elapsedNs: runtimeMs * 1e6,
    dirs: { read, write: emptyDirection(), trim: emptyDirection() },
    cpu: { usrNs: runtimeMs * 1e6 * 0.25, sysNs: runtimeMs * 1e6 * 0.5, ctx: 10, majf: 0, minf: 40 },
    depth: { level: [0, 0, 0, 10, 0, 0, 0], submit: [0, 10, 0, 0, 0, 0, 0], complete: [0, 10, 0, 0, 0, 0, 0] },
    error: 0,
    errorMessage: null,
    verifiedBlocks: 0,
  };
}

/**
 * Checks that text is well-formed XML as far as an SVG needs: balanced, properly nested tags, quoted
 * attributes, no stray "<" or unescaped "&" in text. Returns the element names in document order.
 */
export function assertWellFormedXml(xml: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  let sawRoot = false;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text), `unescaped & in text: ${text.slice(0, 60)}`);
    if (stack.length === 0) assert.ok(text.trim() === '', `text outside the root element: ${text.slice(0, 60)}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    assert.ok(m, `malformed tag at ${lt}: ${xml.slice(lt, lt + 80)}`);
    const [whole, closing, name, , selfClosing] = m;
    if (closing) {
      assert.equal(stack.pop(), name, `mismatched </${name}> at ${lt}`);
    } else {
      if (stack.length === 0) {
        assert.ok(!sawRoot, 'more than one root element');
        sawRoot = true;
      }
      names.push(name);
      if (!selfClosing) stack.push(name);
    }
    i = lt + whole.length;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.ok(sawRoot, 'no root element');
  return names;
}

/**
 * Checks a `blkbench compare --output-format=json --plot=...` run: the targets in order, each without
 * error and with I/O done, and the chart well formed with the three series of each target.
 */
export function assertCompareReport(stdout: string, labels: string[], plotFile: string): void {
  const doc = JSON.parse(stdout) as { targets: Array<{ label: string; iops: number; error: string | null }> };
  assert.deepEqual(doc.targets.map((t) => t.label), labels);
  for (const t of doc.targets) {
    assert.equal(t.error, null, t.label);
    assert.ok(t.iops > 0, `${t.label} did no I/O`);
  }
  const svg = fs.readFileSync(plotFile, 'utf8');
  assertWellFormedXml(svg);
  for (const label of labels) assert.equal(svg.split(`data-target="${label}"`).length - 1, 3, label);
}

/** What a blkbench run printed and how it exited. */
export interface BlkbenchRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the blkbench CLI of this checkout to its end (killed after timeoutMs, default 60 s). */
export function blkbench(args: string[], options: { timeoutMs?: number; cwd?: string } = {}): BlkbenchRun {
  const r = spawnSync(process.execPath, [BLKBENCH_CLI, ...args], { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, cwd: options.cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
