/**
 * The compare chart, hand-written SVG: IOPS bars, bandwidth bars, and completion-latency percentile
 * curves (x: percentile on a "nines" scale, so 90, 99, 99.9 are evenly spaced; y: latency, log scale).
 * Every target is a series with class "series" and data-target="<label>".
 */
import { CompareRow } from './compare';
import { humanNumber } from './units';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const WIDTH = 1080;
const HEIGHT = 420;
const PANEL_TOP = 60;
const PANEL_HEIGHT = 280;

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const n2 = (v: number) => (Math.round(v * 100) / 100).toString();

export function compareSvg(rows: CompareRow[], title: string): string {
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="16">${escapeXml(title)}</text>`,
  );
  parts.push(barPanel('iops', 'IOPS', rows, (r) => r.iops, (v) => humanNumber(v, 1000), 40));
  parts.push(barPanel('bandwidth', 'Bandwidth', rows, (r) => r.bwBytes, (v) => humanNumber(v, 1024, 'B/s'), 330));
  parts.push(latencyPanel(rows, 620));
  parts.push(legend(rows));
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function barPanel(id: string, label: string, rows: CompareRow[], get: (r: CompareRow) => number, fmt: (v: number) => string, x0: number): string {
  const w = 250;
  const max = Math.max(1e-9, ...rows.map(get));
  const slot = w / Math.max(1, rows.length);
  const barW = Math.min(60, slot * 0.7);
  const out = [`<g id="${id}">`, `<text x="${x0 + w / 2}" y="${PANEL_TOP - 12}" text-anchor="middle" font-weight="bold">${label}</text>`];
  out.push(`<line x1="${x0}" y1="${PANEL_TOP + PANEL_HEIGHT}" x2="${x0 + w}" y2="${PANEL_TOP + PANEL_HEIGHT}" stroke="#333"/>`);
  rows.forEach((r, i) => {
    const v = get(r);
    const h = (v / max) * (PANEL_HEIGHT - 20);
    const x = x0 + i * slot + (slot - barW) / 2;
    const y = PANEL_TOP + PANEL_HEIGHT - h;
    out.push(
      `<g class="series" data-target="${escapeXml(r.label)}">`,
      `<rect x="${n2(x)}" y="${n2(y)}" width="${n2(barW)}" height="${n2(h)}" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${n2(x + barW / 2)}" y="${n2(y - 4)}" text-anchor="middle">${escapeXml(fmt(v))}</text>`,
      `<text x="${n2(x + barW / 2)}" y="${PANEL_TOP + PANEL_HEIGHT + 16}" text-anchor="middle">${escapeXml(r.label)}</text>`,
      `</g>`,
    );
  });
  out.push('</g>');
  return out.join('\n');
}

/** x position of a percentile on the nines scale: −log10(1 − p/100), 0 at p=0, 4 at 99.99. */
export function ninesScale(p: number): number {
  return -Math.log10(1 - Math.min(p, 99.999) / 100);
}

function latencyPanel(rows: CompareRow[], x0: number): string {
  const w = 400;
  const all = rows.flatMap((r) => r.percentiles.map(([, ns]) => ns)).filter((v) => v > 0);
  const lo = Math.log10(Math.max(1, Math.min(...all, 1e9)));
  const hi = Math.log10(Math.max(10, ...all));
  const yLo = Math.floor(lo);
  const yHi = Math.max(yLo + 1, Math.ceil(hi));
  const xMax = ninesScale(99.99);
  const px = (p: number) => x0 + (ninesScale(p) / xMax) * w;
  const py = (ns: number) => PANEL_TOP + PANEL_HEIGHT - ((Math.log10(Math.max(ns, 1)) - yLo) / (yHi - yLo)) * PANEL_HEIGHT;
  const out = [`<g id="latency">`, `<text x="${x0 + w / 2}" y="${PANEL_TOP - 12}" text-anchor="middle" font-weight="bold">Completion latency percentiles</text>`];
  out.push(`<rect x="${x0}" y="${PANEL_TOP}" width="${w}" height="${PANEL_HEIGHT}" fill="none" stroke="#333"/>`);
  for (let e = yLo; e <= yHi; e++) {
    const y = n2(py(10 ** e));
    out.push(`<line x1="${x0}" y1="${y}" x2="${x0 + w}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 - 4}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatNs(10 ** e))}</text>`);
  }
  for (const p of [50, 90, 99, 99.9, 99.99]) {
    const x = n2(px(p));
    out.push(`<line x1="${x}" y1="${PANEL_TOP}" x2="${x}" y2="${PANEL_TOP + PANEL_HEIGHT}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${PANEL_TOP + PANEL_HEIGHT + 16}" text-anchor="middle">p${p}</text>`);
  }
  out.push(`<text x="${x0 + w / 2}" y="${PANEL_TOP + PANEL_HEIGHT + 34}" text-anchor="middle">percentile (submission to completion)</text>`);
  rows.forEach((r, i) => {
    const pts = r.percentiles.filter(([, ns]) => ns > 0).map(([p, ns]) => `${n2(px(p))},${n2(py(ns))}`).join(' ');
    out.push(
      `<g class="series" data-target="${escapeXml(r.label)}">`,
      `<polyline points="${pts}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`,
      `</g>`,
    );
  });
  out.push('</g>');
  return out.join('\n');
}

function legend(rows: CompareRow[]): string {
  const out = ['<g id="legend">'];
  rows.forEach((r, i) => {
    const x = 40 + i * 200;
    const y = HEIGHT - 22;
    out.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${x + 18}" y="${y}">${escapeXml(`${r.label} (${r.driver})`)}</text>`,
    );
  });
  out.push('</g>');
  return out.join('\n');
}

function formatNs(ns: number): string {
  if (ns >= 1e9) return `${ns / 1e9}s`;
  if (ns >= 1e6) return `${ns / 1e6}ms`;
  if (ns >= 1e3) return `${ns / 1e3}us`;
  return `${ns}ns`;
}
