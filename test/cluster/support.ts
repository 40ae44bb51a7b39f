// What the cluster tests share: a chunk PUT held open mid-body (to line requests up on several nodes),
// a node's Prometheus counters, and seeded chunk bodies with their digests.
import { request, type ClientRequest } from 'node:http';
import { Headers } from '../../src/protocol/index.js';
import { seededBytes } from '../chaos/support/source.js';
import { sha256Field } from '../helpers/digest.js';

export interface HeldReply {
  status: number;
  body: Record<string, unknown>;
}

export interface HeldPut {
  /** Sends the rest of the body; resolves with the answer. */
  finish(): Promise<HeldReply>;
  /** The answer, whenever it comes (also before finish(), e.g. a refusal that does not read the body). */
  reply: Promise<HeldReply>;
  req: ClientRequest;
}

/**
 * PUT of chunk `index` to `base` (one node's own URL) on its own connection, sending the headers and the
 * first `sendFirst` bytes of `body` now and the rest when finish() is called.
 */
export function heldPut(base: string, uploadId: string, index: number, body: Buffer, sendFirst: number): HeldPut {
  const req = request(new URL(`/uploads/${uploadId}/chunks/${index}`, base), {
    method: 'PUT',
    agent: false,
    headers: { [Headers.contentDigest]: sha256Field(body), 'content-length': body.length, 'content-type': 'application/octet-stream' },
  });
  const reply = new Promise<HeldReply>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.once('error', reject);
      res.once('end', () => {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          parsed = { text };
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
  });
  reply.catch(() => {}); // observed through finish() or reply; never an unhandled rejection meanwhile
  req.write(body.subarray(0, sendFirst));
  return {
    req,
    reply,
    finish() {
      req.end(body.subarray(sendFirst));
      return reply;
    },
  };
}

/** The value of counter `name` (summed over its labels) on a node's /metrics; 0 when absent. */
export async function counter(nodeUrl: string, name: string): Promise<number> {
  const res = await fetch(new URL('/metrics', nodeUrl));
  if (res.status !== 200) throw new Error(`GET /metrics on ${nodeUrl}: ${res.status}`);
  let total = 0;
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && m[1] === name) total += Number(m[2]);
  }
  return total;
}

/** `size` seeded bytes and their Content-Digest. */
export function body(size: number, seed: number): { bytes: Buffer; digest: string } {
  const bytes = seededBytes(size, seed);
  return { bytes, digest: sha256Field(bytes) };
}
