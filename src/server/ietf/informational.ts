// The 104 (Upload Resumption Supported) interim response, which node:http has no API for.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Field values that can go on a raw status line's fields: visible ASCII and spaces, nothing that ends a line. */
const safeValue = /^[\x20-\x7e]*$/;

/**
 * Writes `HTTP/1.1 104 Upload Resumption Supported` with `fields` on the socket, ahead of the final
 * response; returns whether it did. node:http (Node 20) sends only 100, 102 and 103 itself, so the
 * status line goes on the socket raw, and only when that cannot corrupt the exchange:
 * - an HTTP/1.1 request (1xx responses do not exist for HTTP/1.0 clients);
 * - nothing of this response is out or queued (no header sent, nothing written or buffered), and the
 *   socket is this response's own: a pipelined request's response has no socket until the one before
 *   it has finished, so the bytes cannot land inside another response;
 * - no proxy in between (Via or X-Forwarded-For): intermediaries that do not know 104 may take it
 *   for the final response, and the 104 is optional (the Location comes again on the final one);
 * - field values without CR or LF.
 */
export function sendUploadResumptionSupported(req: IncomingMessage, res: ServerResponse, fields: Record<string, string>): boolean {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return false;
  if (req.headers.via !== undefined || req.headers['x-forwarded-for'] !== undefined) return false;
  if (res.headersSent || res.writableEnded || res.destroyed) return false;
  const socket = res.socket;
  if (!socket || socket.destroyed || !socket.writable) return false;
  const internals = res as ServerResponse & { outputData?: unknown[] };
  if ((socket as typeof socket & { _httpMessage?: unknown })._httpMessage !== res) return false;
  if (Array.isArray(internals.outputData) && internals.outputData.length > 0) return false;
  const lines = ['HTTP/1.1 104 Upload Resumption Supported'];
  for (const [name, value] of Object.entries(fields)) {
    if (!/^[a-z0-9-]+$/i.test(name) || !safeValue.test(value)) return false;
    lines.push(`${name}: ${value}`);
  }
  socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return true;
}
