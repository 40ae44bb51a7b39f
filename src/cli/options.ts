// Parsers for command-line values shared by several commands (sizes, numbers).
import { InvalidArgumentError } from 'commander';
import { DefaultLimits } from '../protocol/limits.js';
import { parseSpan } from '../protocol/span.js';

const units: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4 };

/** "8MiB", "512k", "1048576" -> bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? units[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new InvalidArgumentError(`"${text}" is not a size (examples: 8MiB, 512KiB, 1048576).`);
  return Math.round(Number(m[1]) * unit);
}

/**
 * A requested chunk (or range) size: a size of at least 1 byte. The server still has the last word: a
 * size outside its range (GET /capabilities; 256KiB to 128MiB by default) is raised or lowered into it.
 */
export function parseChunkSize(text: string): number {
  const n = parseSize(text);
  if (n < 1) throw new InvalidArgumentError(`a chunk is at least 1 byte (a server raises a smaller size to its minimum, ${binarySize(DefaultLimits.minChunkSize)} by default)`);
  return n;
}

/** Bytes as the size options take them, exactly: 1073741824 -> "1GiB"; 1536 (no whole unit) -> "1536". */
export function binarySize(bytes: number): string {
  for (const [unit, size] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

export function parseInteger(min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    return n;
  };
}

export function parsePositiveNumber(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number.');
  return n;
}

export function parseNonNegativeNumber(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number, 0 or more.');
  return n;
}

/** For repeatable options: each use adds one value. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** "kid:secret" (repeatable; from the environment, comma-separated) -> grant keys. */
export function collectGrantSecrets(value: string, previous: Array<{ kid: string; secret: string }> | undefined): Array<{ kid: string; secret: string }> {
  const keys = value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const colon = part.indexOf(':');
      if (colon < 1) throw new InvalidArgumentError('expected key-id:secret (e.g. k1:$(openssl rand -base64 32)).');
      return { kid: part.slice(0, colon), secret: part.slice(colon + 1) };
    });
  return [...(previous ?? []), ...keys];
}

/** "90", "15m", "12h", "30d", "2w" -> seconds: the same grammar as grant lifetimes (parseSpan). */
export function parseDuration(text: string): number {
  try {
    return parseSpan(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}
