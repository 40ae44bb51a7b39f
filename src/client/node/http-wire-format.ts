// The HTTP/1.1 text the fast range path (http-wire.ts) writes and reads: a GET's head, a response
// head, how its body is framed, and the chunked coding. Only what a range GET needs.

/** What went wrong on the wire: the engine retries it like any network failure. */
export class HttpWireError extends Error {
  constructor(
    message: string,
    /** The connection was reused and failed before a byte of the response: a stale keep-alive. */
    readonly stale = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpWireError';
  }
}

const tokenRe = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const badValueRe = /[\r\n\0]/;
const statusLineRe = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

/** The request head: GET, Host, the caller's headers (validated: no header injection). */
export function requestHead(target: URL, headers: Record<string, string>): string {
  let head = `GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\n`;
  const names = Object.keys(headers).map((n) => n.toLowerCase());
  if ((target.username || target.password) && !names.includes('authorization')) {
    // As node:http does with credentials in the URL.
    const user = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    head += `authorization: Basic ${Buffer.from(user).toString('base64')}\r\n`;
  }
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === 'connection' || lower === 'content-length' || lower === 'transfer-encoding') continue;
    if (!tokenRe.test(name)) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
    const v = String(value);
    if (badValueRe.test(v)) throw new TypeError(`Invalid value for header ${name}`);
    head += `${name}: ${v}\r\n`;
  }
  return head + '\r\n';
}

export interface ParsedHead {
  status: number;
  statusText: string;
  headers: Headers;
  /** HTTP/1.1 (keep-alive unless it says close) rather than 1.0. */
  http11: boolean;
}

/** A response head's text, up to (not including) the blank line. */
export function parseHead(text: string): ParsedHead {
  const lines = text.split('\r\n');
  const m = statusLineRe.exec(lines[0]!);
  if (!m) throw new HttpWireError(`Not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 100))}`);
  const headers = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0 || !tokenRe.test(line.slice(0, colon))) throw new HttpWireError(`Malformed response header line: ${JSON.stringify(line.slice(0, 100))}`);
    try {
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    } catch (e) {
      throw new HttpWireError(`Malformed response header ${JSON.stringify(line.slice(0, colon))}`, false, { cause: e });
    }
  }
  return { status: Number(m[2]), statusText: m[3] ?? '', headers, http11: m[1] === '1' };
}

export type Framing = { kind: 'length'; remaining: number } | { kind: 'chunked' } | { kind: 'close' };

/** How the body of a response to a GET is delimited (RFC 9112 §6.3). */
export function framingOf(status: number, headers: Headers): Framing {
  if (status === 204 || status === 304) return { kind: 'length', remaining: 0 };
  const te = headers.get('transfer-encoding');
  if (te !== null) {
    return /(?:^|,)\s*chunked\s*$/i.test(te) ? { kind: 'chunked' } : { kind: 'close' };
  }
  const cl = headers.get('content-length');
  if (cl === null) return { kind: 'close' };
  // Repeated fields arrive joined ("5, 5"); they must agree.
  const values = new Set(cl.split(',').map((v) => v.trim()));
  const [only] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(only!)) throw new HttpWireError(`Invalid Content-Length: ${JSON.stringify(cl.slice(0, 40))}`);
  return { kind: 'length', remaining: Number(only) };
}

/** Decodes a chunked body as it arrives: size line, data, CRLF, ..., the last chunk and trailer lines. */
export class ChunkedDecoder {
  private state: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  private left = 0;
  private line = '';

  /**
   * Decodes buf[at, end): each run of data goes to `data(start, stop)` (false: stop here). Returns
   * the offset just past the body's end once it is complete, else -1 (more is needed, or stopped).
   */
  decode(buf: Buffer, at: number, end: number, data: (start: number, stop: number) => boolean): number {
    while (at < end) {
      if (this.state === 'data') {
        const take = Math.min(end - at, this.left);
        if (!data(at, at + take)) return -1;
        at += take;
        this.left -= take;
        if (this.left === 0) this.state = 'crlf';
        continue;
      }
      // 'size', 'crlf' and 'trailer' read a line.
      const nl = buf.indexOf(10, at);
      const stop = nl < 0 || nl >= end ? end : nl;
      this.line += buf.toString('latin1', at, stop);
      if (this.line.length > 4096) throw new HttpWireError('A chunked-encoding line is too long.');
      at = stop;
      if (stop === end) break;
      at++; // the \n
      const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line;
      this.line = '';
      if (this.state === 'crlf') {
        if (line !== '') throw new HttpWireError('A chunk is longer than its size line says.');
        this.state = 'size';
      } else if (this.state === 'size') {
        const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (!size) throw new HttpWireError(`Malformed chunk size line: ${JSON.stringify(line.slice(0, 40))}`);
        this.left = parseInt(size[1]!, 16);
        this.state = this.left === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        return at;
      }
    }
    return -1;
  }
}
