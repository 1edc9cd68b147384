/**
 * The compare chart, hand-written SVG: IOPS bars, bandwidth bars, and completion-latency percentile
 * curves (x: percentile on a "nines" scale, so 90, 99, 99.9 are evenly spaced; y: latency, log scale).
 * Every target is a series with class "series" and data-target="<label>".
 */
import { CompareRow } from './compare';
import { humanNumber } from './units';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const WIDTH = 1080;
const PANEL_TOP = 84;
const BAR_ROW = 26;
const LAT_HEIGHT = 260;
const LEGEND_ROW = 20;
/** Labels longer than this are cut with "…" in the legend (the table and JSON keep them whole). */
const LABEL_MAX = 44;
const PATH_MAX = 40;

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const n2 = (v: number) => (Math.round(v * 100) / 100).toString();

function cut(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '\u2026';
}

/**
 * Layout, top to bottom, sized for up to 8 targets with long names: the title and the job; IOPS and
 * bandwidth as horizontal bars (one row per target, keyed by number, value and ratio to target 1 at
 * the bar's end, a dashed line at target 1's value); the latency curves; a legend with each key's full
 * label, driver and path.
 */
export function compareSvg(rows: CompareRow[], title: string, subtitle = ''): string {
  const barsHeight = rows.length * BAR_ROW + 30;
  const latTop = PANEL_TOP + barsHeight + 40;
  const legendTop = latTop + LAT_HEIGHT + 60;
  const height = legendTop + rows.length * LEGEND_ROW + 16;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="16">${escapeXml(title)}</text>`,
  );
  if (subtitle) parts.push(`<text x="${WIDTH / 2}" y="44" text-anchor="middle" fill="#555">${escapeXml(subtitle)}</text>`);
  parts.push(barPanel('iops', 'IOPS', rows, (r) => r.iops, (v) => humanNumber(v, 1000), 40));
  parts.push(barPanel('bandwidth', 'Bandwidth', rows, (r) => r.bwBytes, (v) => humanNumber(v, 1024, 'B/s'), 560));
  parts.push(latencyPanel(rows, 110, latTop, 900));
  parts.push(legend(rows, legendTop));
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function ratioText(v: number, base: number, i: number): string {
  if (i === 0) return '';
  return base > 0 ? ` (${(v / base).toFixed(2)}x)` : '';
}

function barPanel(id: string, label: string, rows: CompareRow[], get: (r: CompareRow) => number, fmt: (v: number) => string, x0: number): string {
  const keyW = 28;
  const w = 340; // bar length at the maximum, leaving room for "value (ratio)" after it
  const max = Math.max(1e-9, ...rows.map(get));
  const base = get(rows[0]);
  const out = [`<g id="${id}">`, `<text x="${x0}" y="${PANEL_TOP - 12}" font-weight="bold">${label} (ratio to 1)</text>`];
  const bottom = PANEL_TOP + rows.length * BAR_ROW;
  out.push(`<line x1="${x0 + keyW}" y1="${PANEL_TOP - 4}" x2="${x0 + keyW}" y2="${bottom}" stroke="#333"/>`);
  // Target 1's value: the reference every ratio is to.
  const refX = n2(x0 + keyW + (base / max) * w);
  out.push(`<line x1="${refX}" y1="${PANEL_TOP - 4}" x2="${refX}" y2="${bottom}" stroke="#999" stroke-dasharray="4 3"/>`);
  rows.forEach((r, i) => {
    const v = get(r);
    const len = (v / max) * w;
    const y = PANEL_TOP + i * BAR_ROW;
    out.push(
      `<g class="series" data-target="${escapeXml(r.label)}">`,
      `<text x="${x0 + keyW - 6}" y="${y + 15}" text-anchor="end" font-weight="bold">${i + 1}</text>`,
      `<rect x="${x0 + keyW}" y="${y + 3}" width="${n2(len)}" height="${BAR_ROW - 8}" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${n2(x0 + keyW + len + 6)}" y="${y + 15}">${escapeXml(fmt(v) + ratioText(v, base, i))}</text>`,
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

function latencyPanel(rows: CompareRow[], x0: number, top: number, w: number): string {
  const PANEL_TOP = top;
  const PANEL_HEIGHT = LAT_HEIGHT;
  const all = rows.flatMap((r) => r.percentiles.map(([, ns]) => ns)).filter((v) => v > 0);
  const lo = Math.log10(Math.max(1, Math.min(...all, 1e9)));
  const hi = Math.log10(Math.max(10, ...all));
  const yLo = Math.floor(lo);
  const yHi = Math.max(yLo + 1, Math.ceil(hi));
  const xMax = ninesScale(99.99);
  const px = (p: number) => x0 + (ninesScale(p) / xMax) * w;
  const py = (ns: number) => PANEL_TOP + PANEL_HEIGHT - ((Math.log10(Math.max(ns, 1)) - yLo) / (yHi - yLo)) * PANEL_HEIGHT;
  const out = [`<g id="latency">`, `<text x="${x0 + w / 2}" y="${PANEL_TOP - 12}" text-anchor="middle" font-weight="bold">Completion latency percentiles (p99 ratio to 1 in the legend)</text>`];
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
      lastPointKey(pts, i),
      `</g>`,
    );
  });
  out.push('</g>');
  return out.join('\n');
}

function legend(rows: CompareRow[], top: number): string {
  const p99 = (r: CompareRow) => r.percentiles.find(([p]) => p === 99)?.[1] ?? 0;
  const out = ['<g id="legend">'];
  rows.forEach((r, i) => {
    const y = top + i * LEGEND_ROW;
    const ratios = i === 0 ? 'reference' : `IOPS ${ratioText(r.iops, rows[0].iops, i).trim()}  p99 ${ratioText(p99(r), p99(rows[0]), i).trim()}`;
    out.push(
      `<rect x="40" y="${y - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="60" y="${y}" font-weight="bold">${i + 1}</text>`,
      `<text x="78" y="${y}">${escapeXml(cut(r.label, LABEL_MAX))}</text>`,
      `<text x="420" y="${y}" fill="#555">${escapeXml(cut(`${r.driver}:${r.path}`, PATH_MAX + 24))}</text>`,
      `<text x="${WIDTH - 40}" y="${y}" text-anchor="end" fill="#555">${escapeXml(ratios)}</text>`,
    );
  });
  out.push('</g>');
  return out.join('\n');
}

/** The target's key number at the end of its curve, so curves read without the colors. */
function lastPointKey(points: string, i: number): string {
  const last = points.split(' ').pop();
  if (!last) return '';
  const [x, y] = last.split(',').map(Number);
  return `<text x="${n2(x + 6 + (i % 2) * 12)}" y="${n2(y + 4)}" font-weight="bold" fill="${COLORS[i % COLORS.length]}">${i + 1}</text>`;
}

function formatNs(ns: number): string {
  if (ns >= 1e9) return `${ns / 1e9}s`;
  if (ns >= 1e6) return `${ns / 1e6}ms`;
  if (ns >= 1e3) return `${ns / 1e3}us`;
  return `${ns}ns`;
}
