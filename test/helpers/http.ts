// Raw protocol calls for server tests (no client engine): real HTTP over loopback.
import { request } from 'node:http';
import { Headers, MediaTypes, Paths, type CreateUploadRequest } from '../../src/protocol/index.js';
import { sha256Field } from './digest.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/** One HTTP request with a Buffer body; parses JSON and problem bodies. */
export function call(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string | number>; body?: Buffer | string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers: options.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        const type = String(res.headers['content-type'] ?? '');
        let body: any = text;
        if (type.includes('json') && text) body = JSON.parse(text);
        resolve({ status: res.statusCode!, headers: res.headers, body, text });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export function create(base: string, params: CreateUploadRequest): Promise<Reply> {
  return call(base, 'POST', Paths.uploads, {
    headers: { 'content-type': MediaTypes.json },
    body: JSON.stringify(params),
  });
}

export function createWithFirstChunk(base: string, params: CreateUploadRequest, chunk: Buffer, digest = sha256Field(chunk)): Promise<Reply> {
  return call(base, 'POST', Paths.uploads, {
    headers: {
      'content-type': MediaTypes.octets,
      [Headers.uploadParams]: Buffer.from(JSON.stringify(params)).toString('base64url'),
      [Headers.contentDigest]: digest,
      'content-length': chunk.length,
    },
    body: chunk,
  });
}

export function putChunk(base: string, uploadId: string, index: number | string, bytes: Buffer, digest = sha256Field(bytes)): Promise<Reply> {
  return call(base, 'PUT', `/uploads/${uploadId}/chunks/${index}`, {
    headers: { [Headers.contentDigest]: digest, 'content-length': bytes.length },
    body: bytes,
  });
}

export function status(base: string, uploadId: string): Promise<Reply> {
  return call(base, 'GET', Paths.upload(uploadId));
}

export function chunkOf(data: Buffer, chunkSize: number, index: number): Buffer {
  return data.subarray(index * chunkSize, Math.min(data.length, (index + 1) * chunkSize));
}

/** Downloads a file fully into memory (test sizes only). */
export async function download(url: string): Promise<{ status: number; bytes: Buffer; headers: globalThis.Headers }> {
  const res = await fetch(url);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

/** Sends every chunk of `data` with `parallel` requests in flight, in the given order. */
export async function sendChunks(base: string, uploadId: string, data: Buffer, chunkSize: number, order: number[], parallel = 4): Promise<Reply[]> {
  const replies: Reply[] = [];
  let next = 0;
  const worker = async () => {
    while (next < order.length) {
      const i = order[next++]!;
      replies.push(await putChunk(base, uploadId, i, chunkOf(data, chunkSize, i)));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return replies;
}
