// The protocol's HTTP calls: one method per request, problem+json turned back into FerryError,
// transport failures into NetworkError, every response validated, every request timed out.
import type { z } from 'zod';
import {
  bytesToBase64url,
  Capabilities,
  ChunkAck,
  CreateUploadResponse,
  FerryError,
  Headers,
  MediaTypes,
  Paths,
  PROTOCOL_VERSION,
  UploadStatus,
  type CreateUploadRequest,
} from '../../protocol/index.js';
import { NetworkError } from '../engine/errors.js';
import { problemFrom } from '../engine/http-problem.js';
import { networkError, type ServerContact } from '../engine/network-failure.js';
import type { Clock, Transport } from '../engine/io.js';
import { UploadError } from './errors.js';

// A standard HTTP field (not the protocol's own, so not in its Headers table).
const ContentType = 'content-type';

export interface ApiOptions {
  /** The server's base URL; protocol paths are appended to it (a path prefix is kept). */
  server: string;
  fetch: Transport;
  clock: Clock;
  /** The whole-request timeout for a request whose body is `bodyBytes` long. */
  timeoutMs(bodyBytes: number): number;
  /** Sent with every request (e.g. authorization). */
  headers?: Record<string, string>;
  /** Marked answered by the first HTTP response (for the retry policy; see network-failure.ts). */
  contact?: ServerContact;
}

/** A chunk's bytes and their digest text ("sha-256=:B64:"). */
export interface ChunkBody {
  bytes: Uint8Array;
  digest: string;
}

/** 30 s plus the time to send the body at 64 KiB/s: a dead connection is noticed, a slow one is not killed. */
export function defaultRequestTimeoutMs(bodyBytes: number): number {
  return 30_000 + Math.ceil((bodyBytes / (64 * 1024)) * 1000);
}

export class FerryApi {
  readonly serverUrl: string;

  constructor(private readonly o: ApiOptions) {
    this.serverUrl = new URL(o.server).href.replace(/\/+$/, '');
  }

  /** An absolute URL for a protocol path. */
  url(path: string): string {
    return this.serverUrl + path;
  }

  /** A URL from a response, resolved against the server when relative. */
  resolve(url: string): string {
    return new URL(url, this.serverUrl + '/').href;
  }

  /** A malformed answer here means a wrong URL, not a damaged response: 'invalid', not retried. */
  capabilities(signal: AbortSignal): Promise<Capabilities> {
    return this.request('GET', this.url(Paths.capabilities), {}, Capabilities, signal).catch((e: unknown) => {
      if (!(e instanceof UploadError && e.reason === 'protocol')) throw e;
      throw new UploadError('invalid', `${this.serverUrl} does not look like a Ferry server: ${e.message}`, { cause: e });
    });
  }

  async create(req: CreateUploadRequest, signal: AbortSignal): Promise<CreateUploadResponse> {
    const body = new TextEncoder().encode(JSON.stringify(req));
    const res = await this.request('POST', this.url(Paths.uploads), { [ContentType]: MediaTypes.json }, CreateUploadResponse, signal, body);
    return this.resolveUrls(res);
  }

  /** Creation-with-first-chunk: atomic, the server creates nothing unless chunk 0 is stored. */
  async createWithFirstChunk(req: CreateUploadRequest, chunk: ChunkBody, signal: AbortSignal): Promise<CreateUploadResponse> {
    const headers = {
      [ContentType]: MediaTypes.octets,
      [Headers.uploadParams]: bytesToBase64url(new TextEncoder().encode(JSON.stringify(req))),
      [Headers.contentDigest]: chunk.digest,
    };
    const res = await this.request('POST', this.url(Paths.uploads), headers, CreateUploadResponse, signal, chunk.bytes);
    return this.resolveUrls(res);
  }

  /** Sends the chunk's bytes from `offset` on: the server keeps the first `offset` from a cut request. */
  async putChunk(uploadUrl: string, uploadId: string, index: number, chunk: ChunkBody, signal: AbortSignal, offset = 0): Promise<ChunkAck> {
    // The chunk URL is the upload's own URL plus the protocol's chunk suffix.
    const url = uploadUrl + Paths.chunk(uploadId, index).slice(Paths.upload(uploadId).length);
    const headers: Record<string, string> = { [ContentType]: MediaTypes.octets, [Headers.contentDigest]: chunk.digest };
    if (offset > 0) headers[Headers.chunkOffset] = String(offset);
    const body = offset > 0 ? chunk.bytes.subarray(offset) : chunk.bytes;
    const ack = await this.request('PUT', url, headers, ChunkAck, signal, body);
    if (ack.uploadId !== uploadId || ack.index !== index || ack.digest !== chunk.digest) {
      throw new UploadError('protocol', `PUT ${url}: the acknowledgement is for another chunk or digest.`);
    }
    return { ...ack, fileUrl: ack.fileUrl === null ? null : this.resolve(ack.fileUrl) };
  }

  async status(uploadUrl: string, signal: AbortSignal): Promise<UploadStatus> {
    return this.resolveUrls(await this.request('GET', uploadUrl, {}, UploadStatus, signal));
  }

  async abort(uploadUrl: string, signal: AbortSignal): Promise<void> {
    await this.request('DELETE', uploadUrl, {}, null, signal);
  }

  private resolveUrls<T extends UploadStatus>(status: T): T {
    return {
      ...status,
      uploadUrl: this.resolve(status.uploadUrl),
      fileUrl: status.fileUrl === null ? null : this.resolve(status.fileUrl),
    };
  }

  private async request<S extends z.ZodType>(
    method: string,
    url: string,
    headers: Record<string, string>,
    schema: S | null,
    signal: AbortSignal,
    body?: Uint8Array,
  ): Promise<z.infer<S>> {
    if (signal.aborted) throw signal.reason;
    const ctl = new AbortController();
    const stopTimer = new AbortController();
    let timedOut = false;
    const timeoutMs = this.o.timeoutMs(body?.byteLength ?? 0);
    this.o.clock.sleep(timeoutMs, stopTimer.signal).then(
      () => {
        timedOut = true;
        ctl.abort(new NetworkError(`${method} ${url} timed out after ${timeoutMs} ms`, { timeout: true }));
      },
      () => {},
    );
    const onAbort = () => ctl.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const fail = (e: unknown): unknown => {
      if (signal.aborted) return signal.reason;
      if (timedOut) return ctl.signal.reason;
      return networkError(`${method} ${url}`, url, e);
    };
    try {
      let res: Response;
      let text: string;
      try {
        res = await this.o.fetch(url, {
          method,
          headers: { ...this.o.headers, [Headers.version]: String(PROTOCOL_VERSION), ...headers },
          // A view over an ArrayBuffer in practice (file reads, Blob slices, user arrays).
          body: body as Uint8Array<ArrayBuffer> | undefined,
          signal: ctl.signal,
        });
        if (this.o.contact) this.o.contact.answered = true;
        text = await res.text();
      } catch (e) {
        throw fail(e);
      }
      if (!res.ok) throw problemFrom(res, text);
      if (schema === null) return undefined as z.infer<S>;
      return parseBody(schema, text, `${method} ${url}`);
    } finally {
      stopTimer.abort();
      signal.removeEventListener('abort', onAbort);
    }
  }
}

function parseBody<S extends z.ZodType>(schema: S, text: string, what: string): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UploadError('protocol', `${what}: the response is not JSON: ${text.slice(0, 120)}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new UploadError('protocol', `${what}: unexpected response: ${parsed.error.message.slice(0, 300)}`);
  }
  return parsed.data;
}
