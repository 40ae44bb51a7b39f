// Upload metadata: a small flat map of string keys to string values, checked without ever descending into a value.
import { z } from 'zod';
import { DefaultLimits } from './limits.js';

export type Metadata = Record<string, string>;

/** Keys are short labels ("type", "project", "x-team.id"): nothing to escape or hide anywhere they are shown. */
const keyPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

export interface MetadataLimits {
  maxMetadataEntries: number;
  maxMetadataKeyLength: number;
  maxMetadataValueLength: number;
  maxMetadataBytes: number;
}

/**
 * Why `value` is not acceptable metadata, or null when it is. Only the top level is looked at (a
 * value that is not a string is refused as it is), so nesting of any depth costs nothing here.
 */
export function metadataProblem(value: unknown, limits: MetadataLimits = DefaultLimits): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'Metadata must be an object whose values are strings.';
  const keys = Object.keys(value);
  if (keys.length > limits.maxMetadataEntries) return `Metadata has ${keys.length} entries; at most ${limits.maxMetadataEntries} are allowed.`;
  for (const key of keys) {
    if (key.length > limits.maxMetadataKeyLength || !keyPattern.test(key)) {
      return `Metadata key ${JSON.stringify(key.slice(0, limits.maxMetadataKeyLength + 1))} is not 1-${limits.maxMetadataKeyLength} characters of A-Z a-z 0-9 _ . : - starting with a letter or digit.`;
    }
    const v = (value as Record<string, unknown>)[key];
    if (typeof v !== 'string') return `The value of metadata key "${key}" is ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`}; values are strings.`;
    if (v.length > limits.maxMetadataValueLength) return `The value of metadata key "${key}" is longer than ${limits.maxMetadataValueLength} characters.`;
  }
  // Now a flat map of bounded strings: serialising it is cheap and cannot recurse.
  const bytes = new TextEncoder().encode(JSON.stringify(value)).length;
  if (bytes > limits.maxMetadataBytes) return `Metadata is ${bytes} bytes as JSON; at most ${limits.maxMetadataBytes} are allowed.`;
  return null;
}

/** The metadata field of requests and responses. */
export const Metadata = z.record(z.string(), z.string()).superRefine((m, ctx) => {
  const problem = metadataProblem(m);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Metadata as a response shows it, from a record of any age: records stored before metadata was
 * limited to strings may hold any JSON. Strings are kept, numbers and booleans become strings, anything
 * else (objects, arrays, null) is left out without being looked into, so no record can make a listing fail.
 */
export function readMetadata(stored: unknown): Metadata {
  const out: Metadata = {};
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return out;
  for (const [key, v] of Object.entries(stored)) {
    if (key === '__proto__') continue;
    if (typeof v === 'string') out[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[key] = String(v);
  }
  return out;
}
