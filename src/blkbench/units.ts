/**
 * Parsing and printing of fio's units.
 *
 * Sizes follow fio's default kb_base=1024: "k", "kb" and "kib" all mean 1024, so `bs=4k` is 4096 bytes.
 * Times default to seconds, as fio's runtime and ramp_time do.
 */

/** A bad option value. The message names the option and is shown to the user as is. */
export class OptionError extends Error {
  override name = 'OptionError';
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
  p: 1024 ** 5, pb: 1024 ** 5, pib: 1024 ** 5,
};

export function badValue(option: string, value: string, expected: string): OptionError {
  return new OptionError(`bad value '${value}' for option '${option}': expected ${expected}`);
}

const SIZE_EXPECTED = 'a size such as 4096, 4k, 1m or 2g';

/** Parses "4k", "1M", "512", "0x1000" into bytes. */
export function parseSize(option: string, text: string): number {
  const m = /^\s*(0x[0-9a-f]+|\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) throw badValue(option, text, SIZE_EXPECTED);
  const unit = SIZE_UNITS[m[2].toLowerCase()];
  if (unit === undefined) throw badValue(option, text, SIZE_EXPECTED);
  const n = m[1].toLowerCase().startsWith('0x') ? parseInt(m[1], 16) : Number(m[1]);
  const bytes = Math.round(n * unit);
  if (!Number.isSafeInteger(bytes)) throw badValue(option, text, SIZE_EXPECTED);
  return bytes;
}

/** A size that may be given as a percentage of the device ("50%"). */
export type SizeOrPercent = { bytes: number } | { percent: number };

export function parseSizeOrPercent(option: string, text: string): SizeOrPercent {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  if (m) {
    const percent = Number(m[1]);
    if (percent <= 0 || percent > 100) throw badValue(option, text, 'a percentage between 0 and 100');
    return { percent };
  }
  return { bytes: parseSize(option, text) };
}

export function resolveSizeOrPercent(v: SizeOrPercent, whole: number, align: number): number {
  if ('bytes' in v) return v.bytes;
  const bytes = Math.floor((whole * v.percent) / 100);
  return bytes - (bytes % Math.max(1, align));
}

const TIME_UNITS_NS: Record<string, number> = {
  ns: 1, nsec: 1,
  us: 1e3, usec: 1e3,
  ms: 1e6, msec: 1e6,
  s: 1e9, sec: 1e9,
  m: 60e9, min: 60e9,
  h: 3600e9, d: 86400e9,
};

/**
 * Parses "10", "10s", "500ms", "2m" into nanoseconds; a bare number is in `bareUnitNs` (seconds for
 * runtime and ramp_time, microseconds for fio's thinktime).
 */
export function parseTimeNs(option: string, text: string, bareUnitNs = 1e9): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? (m[2] === '' ? bareUnitNs : TIME_UNITS_NS[m[2].toLowerCase()]) : undefined;
  if (!m || unit === undefined) throw badValue(option, text, 'a time such as 10, 10s, 500ms or 2m');
  return Math.round(Number(m[1]) * unit);
}

export function parseIntOption(option: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\s*\d+\s*$/.test(text)) throw badValue(option, text, `an integer from ${min} to ${max}`);
  const n = Number(text);
  if (n < min || n > max) throw badValue(option, text, `an integer from ${min} to ${max}`);
  return n;
}

/** fio's boolean options take 0/1; a bare flag means 1. */
export function parseBool(option: string, text: string | undefined): boolean {
  if (text === undefined) return true;
  switch (text.trim().toLowerCase()) {
    case '1': case 'true': case 'yes': case 'on': return true;
    case '0': case 'false': case 'no': case 'off': return false;
    default: throw badValue(option, text, '0 or 1');
  }
}

export function parseChoice<T extends string>(option: string, text: string, choices: readonly T[]): T {
  const t = text.trim() as T;
  if (!choices.includes(t)) throw badValue(option, text, `one of ${choices.join(', ')}`);
  return t;
}

/**
 * Prints a number the way fio does: at most `digits` significant characters, then a prefix.
 * 445754 → "446k", 53100 → "53.1k", with base 1024 and unit "B": 3653443584 → "3484MiB".
 */
export function humanNumber(value: number, base: 1000 | 1024, unit = '', digits = 4): string {
  const prefixes = base === 1024 ? ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] : ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let v = value;
  let i = 0;
  while (Math.abs(v) >= 10 ** digits && i < prefixes.length - 1) {
    v /= base;
    i++;
  }
  const intDigits = Math.max(1, Math.floor(Math.log10(Math.max(1, Math.abs(v)))) + 1);
  const decimals = Number.isInteger(v) ? 0 : Math.max(0, digits - intDigits - 1); // "64MiB", "39.1MiB"
  const text = v.toFixed(decimals);
  return `${text}${prefixes[i]}${unit}`;
}

/** "00m:03s" / "01h:02m:03s", as in fio's eta. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${pad(h)}h:${pad(m)}m:${pad(s % 60)}s` : `${pad(m)}m:${pad(s % 60)}s`;
}

/** A byte count as fio's options write it: the largest exact unit, "4k", "64k", "1m"; else bytes. */
export function fioSize(bytes: number): string {
  const units = ['', 'k', 'm', 'g', 't', 'p'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && v % 1024 === 0 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v}${units[i]}`;
}
