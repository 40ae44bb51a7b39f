// A Transport wrapper that remembers every chunk acknowledgement the client actually received, so a
// test can check afterwards that the server still has each of them.
import type { Transport } from '../../../src/client/engine/io.js';

export interface AckLog {
  /** uploadId -> (chunk index -> digest) of every 2xx chunk acknowledgement received. */
  acks: Map<string, Map<number, string>>;
  transport: Transport;
}

export function recordAcks(base: Transport): AckLog {
  const acks = new Map<string, Map<number, string>>();
  const remember = (ack: { uploadId?: unknown; index?: unknown; digest?: unknown } | null | undefined) => {
    if (!ack || typeof ack.uploadId !== 'string' || typeof ack.index !== 'number' || typeof ack.digest !== 'string') return;
    let upload = acks.get(ack.uploadId);
    if (!upload) acks.set(ack.uploadId, (upload = new Map()));
    upload.set(ack.index, ack.digest);
  };
  const transport: Transport = async (url, init) => {
    const res = await base(url, init);
    const method = init.method ?? 'GET';
    if (res.ok && (method === 'PUT' || method === 'POST')) {
      // Only a response read to its end is an acknowledgement the client saw.
      const body = (await res.clone().json().catch(() => null)) as Record<string, unknown> | null;
      remember(method === 'PUT' ? body : (body?.firstChunk as typeof body));
    }
    return res;
  };
  return { acks, transport };
}

/**
 * The chunks of `uploadId` acknowledged before `readMissing` was called that it reports missing, while
 * the upload takes chunks (`readMissing` answers null otherwise, or when it could not ask).
 *
 * Only those: the client keeps uploading while the status is read, and an acknowledgement that arrives
 * meanwhile may be for a chunk recorded after the server read its gaps. That read is right (the chunk
 * was missing then); such a chunk is checked by the next read.
 */
export async function lostAcks(log: AckLog, uploadId: string, readMissing: () => Promise<ReadonlySet<number> | null>): Promise<number[]> {
  const acked = [...(log.acks.get(uploadId)?.keys() ?? [])];
  if (acked.length === 0) return [];
  const missing = await readMissing();
  return missing ? acked.filter((i) => missing.has(i)) : [];
}
