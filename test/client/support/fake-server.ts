// An in-memory Ferry server as a fetch function, with fault injection, for engine tests that need
// exact control (lost responses, digest mismatches, outages). The real server is tested end to end.
import { createHash, randomUUID } from 'node:crypto';
import {
  chunkCount,
  chunkLength,
  FerryError,
  formatIndexRanges,
  Headers,
  MediaTypes,
  missingIndexes,
  type Capabilities,
  type ChunkAck,
  type CreateUploadRequest,
  type UploadState,
  type UploadStatus,
} from '../../../src/protocol/index.js';

export type Fault =
  /** Throw like fetch does when the connection fails; the chunk is not stored. */
  | 'network-error'
  /** Store the chunk, then lose the response. */
  | 'lost-response'
  /** Answer 422 digest-mismatch. */
  | 'digest-mismatch'
  | 'unavailable'
  | 'internal-error'
  | 'in-progress'
  /** Keep the first `cutAfter` bytes of the body (staged, as the real server does), then break the connection. */
  | { cutAfter: number };

interface Upload {
  id: string;
  req: CreateUploadRequest;
  chunkSize: number;
  totalChunks: number;
  state: UploadState;
  chunks: Map<number, { digest: string; bytes: Uint8Array }>;
  /** The first bytes of chunks cut part-way, by index. */
  staged: Map<number, Uint8Array>;
  fileId: string | null;
}

export class FakeServer {
  readonly base = 'http://fake.test';
  readonly uploads = new Map<string, Upload>();
  readonly log: string[] = [];
  /** PUT count per `${uploadId}:${index}`. */
  readonly puts = new Map<string, number>();
  inFlight = 0;
  maxInFlight = 0;
  /** Set to make every request fail as if the server were down. */
  down = false;
  latencyMs = 0;
  /** Decides a fault for a chunk PUT (index, attempt number from 1); undefined = behave. */
  fault: (index: number, attempt: number) => Fault | undefined = () => undefined;
  /** Awaited before a chunk PUT is handled (to order it against other requests). */
  beforePut: (index: number, attempt: number) => Promise<void> = async () => {};
  /** Awaited after a status is taken and before it is answered (the answer is as of the request). */
  beforeStatusAnswer: () => Promise<void> = async () => {};
  /** Chunk PUTs as `${index}@${Ferry-Chunk-Offset or 0}`, in order. */
  readonly putOffsets: string[] = [];
  caps: Capabilities = {
    protocol: 'ferry',
    version: 1,
    minChunkSize: 1024,
    defaultChunkSize: 64 * 1024,
    maxChunkSize: 16 * 1024 * 1024,
    maxChunks: 10_000,
    maxFileSize: 1024 ** 4,
    checksums: ['sha-256'],
    defaultChecksum: 'sha-256',
    uploadTtlSeconds: 86_400,
    creationWithFirstChunk: true,
    fsync: false,
  };

  readonly fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const method = init.method ?? 'GET';
    const path = new URL(url).pathname;
    this.log.push(`${method} ${path}`);
    if (this.down) throw new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.latencyMs) await abortableDelay(this.latencyMs, init.signal ?? undefined);
      return await this.route(method, path, init);
    } catch (e) {
      if (e instanceof FerryError) return problem(e);
      throw e;
    } finally {
      this.inFlight--;
    }
  };

  fileBytes(uploadId: string): Uint8Array {
    const u = this.uploads.get(uploadId)!;
    const parts = [...u.chunks.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c.bytes);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) out.set(p, (at += p.length) - p.length);
    return out;
  }

  private async route(method: string, path: string, init: RequestInit): Promise<Response> {
    const headers = new globalThis.Headers(init.headers);
    const body = init.body ? new Uint8Array(init.body as Uint8Array) : new Uint8Array(0);
    if (method === 'GET' && path === '/capabilities') return json(200, this.caps);
    if (method === 'POST' && path === '/uploads') {
      if (headers.get('content-type') === MediaTypes.json) {
        const req = JSON.parse(new TextDecoder().decode(body)) as CreateUploadRequest;
        const u = this.create(req, req.chunkSize ?? this.caps.defaultChunkSize);
        return json(201, { ...this.status(u), firstChunk: null });
      }
      const params = headers.get(Headers.uploadParams)!;
      const req = JSON.parse(Buffer.from(params, 'base64url').toString('utf8')) as CreateUploadRequest;
      const u = this.create(req, req.chunkSize!);
      const { status, ack } = this.store(u, 0, body, headers.get(Headers.contentDigest)!, true);
      return json(status, { ...this.status(u), firstChunk: ack });
    }
    const m = /^\/uploads\/([^/]+)(?:\/chunks\/(\d+))?$/.exec(path);
    const u = m ? this.uploads.get(m[1]!) : undefined;
    if (!m || !u) throw new FerryError('upload-not-found');
    if (m[2] === undefined && method === 'GET') {
      const status = this.status(u);
      await this.beforeStatusAnswer();
      return json(200, status);
    }
    if (m[2] === undefined && method === 'DELETE') {
      u.state = 'aborted';
      return new Response(null, { status: 204 });
    }
    if (m[2] !== undefined && method === 'PUT') {
      const index = Number(m[2]);
      const key = `${u.id}:${index}`;
      const attempt = (this.puts.get(key) ?? 0) + 1;
      this.puts.set(key, attempt);
      await this.beforePut(index, attempt);
      const offset = Number(headers.get(Headers.chunkOffset) ?? 0);
      this.putOffsets.push(`${index}@${offset}`);
      const kept = u.staged.get(index) ?? new Uint8Array(0);
      if (offset > kept.length) throw new FerryError('chunk-offset-mismatch', undefined, { staged: kept.length });
      const fault = this.fault(index, attempt);
      if (typeof fault === 'object') {
        const arrived = body.subarray(0, fault.cutAfter);
        u.staged.set(index, offset > 0 ? concat(kept.subarray(0, offset), arrived) : arrived);
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
      }
      // A continuation: the kept bytes, then the body from where they end.
      const whole = offset > 0 ? concat(kept, body.subarray(kept.length - offset)) : body;
      u.staged.delete(index);
      if (fault === 'network-error') throw new TypeError('fetch failed');
      if (fault === 'digest-mismatch') throw new FerryError('digest-mismatch');
      if (fault === 'unavailable') throw new FerryError('service-unavailable');
      if (fault === 'internal-error') throw new FerryError('internal-error');
      if (fault === 'in-progress') throw new FerryError('chunk-in-progress', undefined, { retryAfter: '0' });
      const { status, ack } = this.store(u, index, whole, headers.get(Headers.contentDigest)!, false);
      if (fault === 'lost-response') throw new TypeError('fetch failed', { cause: new Error('ECONNRESET') });
      return json(status, ack);
    }
    throw new FerryError('method-not-allowed');
  }

  private create(req: CreateUploadRequest, chunkSize: number): Upload {
    const u: Upload = { id: randomUUID(), req, chunkSize, totalChunks: chunkCount(req.size, chunkSize), state: 'uploading', chunks: new Map(), staged: new Map(), fileId: null };
    this.uploads.set(u.id, u);
    return u;
  }

  private store(u: Upload, index: number, bytes: Uint8Array, digest: string, creating: boolean): { status: number; ack: ChunkAck } {
    if (u.state === 'aborted') throw new FerryError('upload-aborted');
    if (u.state === 'complete') throw new FerryError('upload-completed');
    if (bytes.length !== chunkLength(u.req.size, u.chunkSize, index)) throw new FerryError('chunk-length-mismatch');
    const actual = `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`;
    if (actual !== digest) {
      if (creating) this.uploads.delete(u.id);
      throw new FerryError('digest-mismatch');
    }
    const existing = u.chunks.get(index);
    if (existing && existing.digest !== digest) throw new FerryError('chunk-conflict');
    if (!existing) u.chunks.set(index, { digest, bytes });
    let complete = false;
    if (!existing && u.chunks.size === u.totalChunks) {
      u.state = 'complete';
      u.fileId = `f-${u.id}`;
      complete = true;
    }
    const ack: ChunkAck = {
      uploadId: u.id,
      index,
      size: bytes.length,
      digest,
      duplicate: !!existing,
      chunksReceived: u.chunks.size,
      totalChunks: u.totalChunks,
      state: u.state,
      complete,
      fileId: complete ? u.fileId : null,
      fileUrl: complete ? `/files/${u.fileId}` : null,
    };
    return { status: existing ? 200 : 201, ack };
  }

  private status(u: Upload): UploadStatus {
    return {
      uploadId: u.id,
      uploadUrl: `/uploads/${u.id}`,
      state: u.state,
      name: u.req.name,
      size: u.req.size,
      chunkSize: u.chunkSize,
      totalChunks: u.totalChunks,
      checksum: 'sha-256',
      fileDigest: u.req.fileDigest ?? null,
      metadata: u.req.metadata ?? {},
      chunksReceived: u.chunks.size,
      bytesReceived: [...u.chunks.values()].reduce((n, c) => n + c.bytes.length, 0),
      missing: u.state === 'complete' ? '' : formatIndexRanges(missingIndexes(u.totalChunks, u.chunks.keys())),
      staged: [...u.staged].filter(([, b]) => b.length > 0).map(([index, b]) => ({ index, bytes: b.length })),
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      fileId: u.fileId,
      fileUrl: u.fileId ? `/files/${u.fileId}` : null,
    };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': MediaTypes.json } });
}

function problem(e: FerryError): Response {
  const headers: Record<string, string> = { 'content-type': MediaTypes.problem };
  if (typeof e.extensions.retryAfter === 'string') headers['retry-after'] = e.extensions.retryAfter;
  return new Response(JSON.stringify(e.toProblem()), { status: e.status, headers });
}

function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });
}
