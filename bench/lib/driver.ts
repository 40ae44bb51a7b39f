// A bare protocol client for the scaling figures: exact control of which chunk goes when, and of
// the timing of single requests. Chunk bytes are generated (a random block stamped with the index).
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';

export interface Reply {
  status: number;
  text: string;
  ms: number;
  /** Bytes of response header lines (name: value). */
  headerBytes: number;
}

/** Status of a fragmented 10,000-chunk upload carries a long ferry-chunks-missing header. */
const maxHeaderSize = 1024 * 1024;

export class Driver {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });
  readonly #base: URL;

  constructor(server: string) {
    this.#base = new URL(server);
  }

  send(method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<Reply> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const options = { method, agent: this.#agent, maxHeaderSize, headers: { ...headers, 'content-length': String(body?.byteLength ?? 0) } };
      const req = request(new URL(path, this.#base), options, (res) => {
        let text = '';
        const headerBytes = res.rawHeaders.reduce((n, h, i) => n + h.length + (i % 2 ? 4 : 0), 0);
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - started, headerBytes }));
      });
      req.once('error', reject);
      req.end(body);
    });
  }

  async create(size: number, chunkSize: number): Promise<{ uploadId: string; totalChunks: number; chunkSize: number }> {
    const body = Buffer.from(JSON.stringify({ name: 'scaling.bin', size, chunkSize }));
    const r = await this.send('POST', '/uploads', body, { 'content-type': 'application/json' });
    if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
    return JSON.parse(r.text);
  }

  async put(uploadId: string, index: number, bytes: Uint8Array): Promise<Reply & { ack: { complete: boolean } }> {
    const digest = `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`;
    const r = await this.send('PUT', `/uploads/${uploadId}/chunks/${index}`, bytes, { 'content-type': 'application/octet-stream', 'content-digest': digest });
    if (r.status !== 201 && r.status !== 200) throw new Error(`PUT chunk ${index}: ${r.status} ${r.text.slice(0, 200)}`);
    return { ...r, ack: JSON.parse(r.text) };
  }

  async status(uploadId: string): Promise<Reply> {
    const r = await this.send('GET', `/uploads/${uploadId}`);
    if (r.status !== 200) throw new Error(`status: ${r.status} ${r.text.slice(0, 200)}`);
    return r;
  }

  /** PUTs `indexes` with `concurrency` requests in flight; each worker reuses one buffer. */
  async putMany(uploadId: string, indexes: number[], length: (index: number) => number, chunkSize: number, concurrency: number): Promise<void> {
    const block = randomBytes(chunkSize);
    let next = 0;
    const worker = async () => {
      const buf = Buffer.from(block);
      while (next < indexes.length) {
        const index = indexes[next++]!;
        const n = length(index);
        if (n >= 8) buf.writeBigUInt64LE(BigInt(index), 0);
        await this.put(uploadId, index, buf.subarray(0, n));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  close(): void {
    this.#agent.destroy();
  }
}
