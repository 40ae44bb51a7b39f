// Raw HTTP for the IETF resumable-upload tests: requests that also collect the 1xx interim responses.
import { request, type Agent, type IncomingHttpHeaders } from 'node:http';

export interface DraftReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The parsed JSON (problem) body, else the text. */
  body: any;
  /** Informational responses (e.g. 104 Upload Resumption Supported) before the final one. */
  interim: Array<{ status: number; headers: Record<string, string | string[] | undefined> }>;
}

export interface DraftRequest {
  headers?: Record<string, string | number>;
  /** The content, sent in one write (with Content-Length unless `chunked`). */
  body?: Buffer;
  /** Send without Content-Length (chunked transfer coding). */
  chunked?: boolean;
  /** A (keep-alive) agent whose connection the request may share; else a connection of its own. */
  agent?: Agent;
}

/** One request on its own connection; resolves with the final response and any interim ones. */
export function draftCall(base: string, method: string, path: string, r: DraftRequest = {}): Promise<DraftReply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...r.headers };
    if (r.body && !r.chunked) headers['content-length'] = r.body.length;
    const interim: DraftReply['interim'] = [];
    const req = request(new URL(path, base), { method, headers, agent: r.agent ?? false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        const json = String(res.headers['content-type'] ?? '').includes('json') && text !== '';
        resolve({ status: res.statusCode!, headers: res.headers, body: json ? JSON.parse(text) : text, interim });
      });
    });
    req.on('information', (info) => interim.push({ status: info.statusCode, headers: info.headers }));
    req.on('error', reject);
    if (r.chunked) req.setHeader('transfer-encoding', 'chunked');
    req.end(r.body);
  });
}

/**
 * Sends the head of a request and `sent` (the first bytes of a longer declared body), waits until they
 * are on the wire, then destroys the connection: a transfer cut mid-body.
 */
export function cutCall(base: string, method: string, path: string, headers: Record<string, string | number>, sent: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const req = request(new URL(path, base), { method, headers, agent: false });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.flushHeaders();
    req.write(sent, () => req.destroy());
  });
}
