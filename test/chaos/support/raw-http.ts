// HTTP/1.1 over a bare socket, for requests no well-behaved client would send: lying lengths,
// truncated bodies, pipelined duplicates, garbage. Parses whatever comes back, response by response.
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawExchange {
  responses: RawResponse[];
  /** Bytes after the last complete response (a response cut off, or not HTTP at all). */
  trailing: number;
  /** The server closed the connection (as opposed to us, after the expected responses). */
  closedByServer: boolean;
  timedOut: boolean;
}

export interface RawSend {
  /** Written in order; a pause between pieces is not needed for the parser to see them apart. */
  pieces: Buffer[];
  /** Methods of the requests in the pieces, to know which responses have no body (HEAD). */
  methods: string[];
  /** Half-close after writing (a client that gives up mid-body). */
  end: boolean;
  /** Stop waiting after this long: a server that neither answers nor closes is a finding. */
  timeoutMs: number;
}

export function sendRaw(port: number, o: RawSend): Promise<RawExchange> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let buf = Buffer.alloc(0);
    const responses: RawResponse[] = [];
    let finished = false;
    const finish = (closedByServer: boolean, timedOut = false) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      // A response without a length ends with the connection.
      const last = closedByServer ? parseHead(buf) : null;
      if (last) {
        responses.push(last);
        buf = Buffer.alloc(0);
      }
      resolve({ responses, trailing: buf.length, closedByServer, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), o.timeoutMs);
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('end', () => finish(true));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const parsed = parseOne(buf, o.methods[responses.length] ?? 'GET');
        if (!parsed) break;
        responses.push(parsed.response);
        buf = buf.subarray(parsed.used);
      }
      if (responses.length >= o.methods.length && !o.end) finish(false);
    });
    sock.on('connect', () => {
      for (const p of o.pieces) sock.write(p);
      if (o.end) sock.end();
    });
  });
}

function parseHead(buf: Buffer): RawResponse | null {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers, body: buf.subarray(headEnd + 4) };
}

function parseOne(buf: Buffer, method: string): { response: RawResponse; used: number } | null {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const status = Number(m[1]);
  const start = headEnd + 4;
  const noBody = method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
  if (noBody) return { response: { status, headers, body: Buffer.alloc(0) }, used: start };
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (buf.length < start + length) return null;
    return { response: { status, headers, body: buf.subarray(start, start + length) }, used: start + length };
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) return null;
      if (size === 0) {
        const end = buf.indexOf('\r\n\r\n', lineEnd);
        if (end < 0) return null;
        return { response: { status, headers, body: Buffer.concat(parts) }, used: end + 4 };
      }
      if (buf.length < lineEnd + 2 + size + 2) return null;
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  // No length: the body runs to the end of the connection; take what is here once it closes.
  return null;
}
