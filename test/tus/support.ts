// Helpers for the tus tests: big random files written to disk a piece at a time (never held whole),
// their digests, raw tus requests over loopback, the native view of an upload, and `ferry download`.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { request } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { expect } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { MiB } from '../helpers/server.js';

export const TUS = '1.0.0';

export interface RandomFile {
  path: string;
  size: number;
  sha256: string;
}

/** Writes `size` random bytes to `dir/name` in 1 MiB pieces, hashing as it goes. */
export async function writeRandomFile(dir: string, name: string, size: number): Promise<RandomFile> {
  const path = join(dir, name);
  const out = createWriteStream(path);
  const hash = createHash('sha256');
  for (let left = size; left > 0; ) {
    const piece = randomBytes(Math.min(MiB, left));
    hash.update(piece);
    left -= piece.length;
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  return { path, size, sha256: hash.digest('hex') };
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/** GET `url` and hash the body as it streams; the status and length too. */
export async function sha256OfUrl(url: string, headers: Record<string, string> = {}): Promise<{ status: number; size: number; sha256: string }> {
  const res = await fetch(url, { headers });
  const hash = createHash('sha256');
  let size = 0;
  if (res.body) {
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(piece);
      size += piece.length;
    }
  }
  return { status: res.status, size, sha256: hash.digest('hex') };
}

/** The upload id a tus upload URL names: its last path segment. */
export function uploadIdOf(uploadUrl: string): string {
  const id = new URL(uploadUrl).pathname.split('/').filter(Boolean).at(-1);
  if (!id) throw new Error(`no upload id in ${uploadUrl}`);
  return id;
}

export interface TusReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

/** One raw HTTP request (no agent: a fresh connection each time) with an optional body. */
export function tusCall(
  url: string,
  method: string,
  headers: Record<string, string | number> = {},
  body?: Buffer | string,
): Promise<TusReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let parsed: any = text;
        if (String(res.headers['content-type'] ?? '').includes('json') && text) {
          try {
            parsed = JSON.parse(text);
          } catch {
            // left as text: the test that looks at it says what it expected
          }
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Native status of an upload: GET /uploads/{id}. */
export async function nativeStatus(server: string, uploadId: string, headers: Record<string, string> = {}): Promise<any> {
  const r = await tusCall(`${server}/uploads/${uploadId}`, 'GET', headers);
  expect(r.status, `GET /uploads/${uploadId}: ${r.text}`).toBe(200);
  return r.body;
}

/**
 * The file a finished tus upload made: the native status says completed with a fileId and fileUrl,
 * its size is `expected.size`, and `GET /files/{id}` serves exactly the expected bytes.
 */
export async function expectServedFile(
  server: string,
  uploadId: string,
  expected: { size: number; sha256: string },
  headers: Record<string, string> = {},
): Promise<{ fileId: string; fileUrl: string; status: any }> {
  const status = await nativeStatus(server, uploadId, headers);
  expect(status, JSON.stringify(status)).toMatchObject({ state: 'complete', size: expected.size });
  expect(typeof status.fileId, JSON.stringify(status)).toBe('string');
  expect(typeof status.fileUrl, JSON.stringify(status)).toBe('string');
  const served = await sha256OfUrl(status.fileUrl, headers);
  expect(served.status).toBe(200);
  expect(served.size).toBe(expected.size);
  expect(served.sha256).toBe(expected.sha256);
  return { fileId: status.fileId, fileUrl: status.fileUrl, status };
}

/**
 * `ferry download <fileUrl>` (the built CLI) into `dest`: exits 0, its result line says every chunk was
 * verified against the server's manifest, and the bytes written are the expected ones.
 */
export async function expectFerryDownload(fileUrl: string, dest: string, expected: { size: number; sha256: string }, token?: string): Promise<void> {
  const args = ['download', fileUrl, '-o', dest, '--json', ...(token ? ['--token', token] : [])];
  const run = await runCli(args, { FERRY_TOKEN: '' });
  expect(run.code, `ferry download exited ${run.code}: ${run.stderr}\n${run.stdout}`).toBe(0);
  const done = jsonEvents(run.stdout.split('\n'), 'done');
  expect(done, run.stdout).toHaveLength(1);
  expect(done[0]).toMatchObject({ size: expected.size, verified: 'chunks' });
  expect(await sha256OfFile(dest)).toBe(expected.sha256);
}

/** Decodes a tus Upload-Metadata header into a map (a key without a value maps to ''). */
export function parseTusMetadata(header: string | string[] | undefined): Record<string, string> {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const trimmed = pair.trim();
    if (!trimmed) continue;
    const [key, value] = trimmed.split(/\s+/, 2);
    out[key!] = value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8');
  }
  return out;
}

/** Encodes a map as tus Upload-Metadata (base64 values; '' values as a bare key). */
export function tusMetadata(map: Record<string, string>): string {
  return Object.entries(map)
    .map(([k, v]) => (v === '' ? k : `${k} ${Buffer.from(v, 'utf8').toString('base64')}`))
    .join(',');
}
