// The draft's header fields, spelled once, and their Structured Field values (RFC 8941) read strictly.
import type { IncomingMessage } from 'node:http';
import { FerryError } from '../../protocol/index.js';

/** Header names of draft-ietf-httpbis-resumable-upload (lower case, as node:http gives them). */
export const IetfFields = {
  interopVersion: 'upload-draft-interop-version',
  complete: 'upload-complete',
  /** Interop version 3 (draft -01): the inverse of Upload-Complete. */
  incomplete: 'upload-incomplete',
  offset: 'upload-offset',
  length: 'upload-length',
  limit: 'upload-limit',
  /** tus-js-client sends its tus metadata in IETF mode too; the draft has no metadata field. */
  tusMetadata: 'upload-metadata',
} as const;

/** The media type of a -04/-05 append body (PATCH). */
export const partialUploadType = 'application/partial-upload';

function single(req: IncomingMessage, name: string): string | undefined {
  const raw = req.headers[name];
  if (raw === undefined) return undefined;
  // node:http joins repeated unknown fields with ", ": an Item field may not be a list.
  const value = (Array.isArray(raw) ? raw.join(', ') : raw).trim();
  // Parameters of the Item (";key=value") are allowed by RFC 8941 and carry nothing here.
  return value.split(';')[0]!.trim();
}

/** An sf-integer that must be >= 0 (offsets and lengths), or undefined when the field is absent. */
export function readCount(req: IncomingMessage, name: string): number | undefined {
  const value = single(req, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) {
    throw new FerryError('malformed-request', `${name} must be a non-negative integer of at most 15 digits.`, { field: name });
  }
  return Number(value);
}

/** An sf-boolean ("?0" / "?1"), or undefined when the field is absent. */
export function readBoolean(req: IncomingMessage, name: string): boolean | undefined {
  const value = single(req, name);
  if (value === undefined) return undefined;
  if (value === '?1') return true;
  if (value === '?0') return false;
  throw new FerryError('malformed-request', `${name} must be ?0 or ?1.`, { field: name });
}

/**
 * Whether the request says its content ends the upload: Upload-Complete, or the older
 * Upload-Incomplete read as its inverse. Undefined when neither is sent; both, disagreeing, is malformed.
 */
export function readCompletion(req: IncomingMessage): boolean | undefined {
  const complete = readBoolean(req, IetfFields.complete);
  const incomplete = readBoolean(req, IetfFields.incomplete);
  if (complete !== undefined && incomplete !== undefined && complete === incomplete) {
    throw new FerryError('malformed-request', 'Upload-Complete and Upload-Incomplete contradict each other.');
  }
  return complete ?? (incomplete === undefined ? undefined : !incomplete);
}

/** The request's Content-Length (node:http has already refused malformed ones), when it has one. */
export function contentLengthOf(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  return header === undefined ? undefined : Number(header);
}

/** The content length known before reading: Content-Length, or 0 for a request with neither it nor a transfer coding. */
export function knownContentLength(req: IncomingMessage): number | undefined {
  return contentLengthOf(req) ?? (req.headers['transfer-encoding'] === undefined ? 0 : undefined);
}

/** Whether the request carries content at all (a Content-Length above zero, or a transfer coding). */
export function hasContent(req: IncomingMessage): boolean {
  const length = contentLengthOf(req);
  return length !== undefined ? length > 0 : req.headers['transfer-encoding'] !== undefined;
}

/** The media type of the request content, lower case, without parameters ('' when none). */
export function mediaTypeOf(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Refuses the fields a request of this kind must not carry (400, as the draft requires). */
export function refuseFields(req: IncomingMessage, names: string[], what: string): void {
  for (const name of names) {
    if (req.headers[name] !== undefined) throw new FerryError('malformed-request', `${what} must not carry ${name}.`, { field: name });
  }
}
