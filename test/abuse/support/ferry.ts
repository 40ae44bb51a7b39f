// The few protocol steps the probes need (create, send chunks, finish a small file), over the
// counting client; sizes and chunk bytes are chosen by the probe.
import { createHash, randomBytes } from 'node:crypto';
import { sha256Field } from '../../helpers/digest.js';
import type { Answer, Traffic } from './traffic.js';
import { clientAddress, pool } from './traffic.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const TiB = 1024 * 1024 * MiB;

export function createUpload(http: Traffic, params: Record<string, unknown> | string, headers: Record<string, string> = {}): Promise<Answer> {
  return http.send('POST', '/uploads', {
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof params === 'string' ? params : JSON.stringify(params),
  });
}

export function putChunk(http: Traffic, uploadId: string, index: number, bytes: Buffer, o: { digest?: string; headers?: Record<string, string>; from?: string } = {}): Promise<Answer> {
  return http.send('PUT', `/uploads/${uploadId}/chunks/${index}`, {
    headers: { 'content-digest': o.digest ?? sha256Field(bytes), 'content-length': bytes.length, ...o.headers },
    body: bytes,
    ...(o.from && { from: o.from }),
  });
}

/** A complete 0-byte file (create, then the one empty chunk): the cheapest way to be in GET /files. */
export async function emptyFile(http: Traffic, params: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ create: Answer; chunk: Answer | null }> {
  const create = await createUpload(http, { size: 0, ...params }, headers);
  if (create.status !== 201) return { create, chunk: null };
  return { create, chunk: await putChunk(http, create.json.uploadId, 0, Buffer.alloc(0), { headers }) };
}

/**
 * Creates an upload of `totalChunks` chunks of `chunkSize` random bytes and sends the chunks `which`
 * selects, `parallel` at a time on the keep-alive pool, each sender from its own loopback address (the
 * setup is not the attack: it should not spend one client's rate limit), waiting out any 429's
 * Retry-After. Returns the upload id and the last ack.
 */
export async function chunkedUpload(
  http: Traffic,
  o: { name: string; chunkSize: number; totalChunks: number; which?: (i: number) => boolean; parallel?: number },
): Promise<{ uploadId: string; create: Answer; lastAck: Answer | null; refused: number }> {
  const create = await createUpload(http, { name: o.name, size: o.chunkSize * o.totalChunks, chunkSize: o.chunkSize });
  if (create.status !== 201) return { uploadId: '', create, lastAck: null, refused: 1 };
  const uploadId = String(create.json.uploadId);
  const indexes = Array.from({ length: o.totalChunks }, (_, i) => i).filter(o.which ?? (() => true));
  // One random block reused with a per-chunk prefix: unique chunks without generating megabytes per chunk.
  const block = randomBytes(o.chunkSize);
  let lastAck: Answer | null = null;
  let refused = 0;
  await pool(o.parallel ?? 16, indexes.length, async (k, worker) => {
    const i = indexes[k]!;
    const bytes = Buffer.from(block);
    bytes.writeUInt32BE(i, 0);
    for (let attempt = 0; ; attempt++) {
      const a = await putChunk(http, uploadId, i, bytes, { from: clientAddress(200 + worker) });
      if (a.status === 429 && attempt < 10) {
        await new Promise((r) => setTimeout(r, 1000 * (Number(a.headers['retry-after']) || 1)));
        continue;
      }
      if (a.status === 200 || a.status === 201) lastAck = a;
      else refused++;
      break;
    }
  });
  return { uploadId, create, lastAck, refused };
}

/** The same 32-byte digest spelled differently: without padding, and with the unused low bits of the last character set. */
export function nonCanonicalDigests(bytes: Uint8Array): { unpadded: string; loosePadBits: string; canonical: string } {
  const b64 = createHash('sha256').update(bytes).digest('base64');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  // 32 bytes = 43 characters and one '='; the 43rd carries 4 data bits and 2 that decoders ignore.
  const last = alphabet.indexOf(b64[42]!);
  const loose = b64.slice(0, 42) + alphabet[last | 3] + '=';
  return { canonical: `sha-256=:${b64}:`, unpadded: `sha-256=:${b64.replace(/=+$/, '')}:`, loosePadBits: `sha-256=:${loose}:` };
}
