// Every kind of failure Ferry reports, as RFC 9457 problem types: one table maps code -> status -> title.

export const ProblemTypeBase = 'urn:ferry:problem:';

export const Problems = {
  'malformed-request': { status: 400, title: 'The request is malformed' },
  'unsupported-version': { status: 400, title: 'Unsupported protocol version' },
  'invalid-file-name': { status: 400, title: 'The file name is not acceptable' },
  'blank-file-name': { status: 400, title: 'The file name is blank' },
  'invalid-chunk-size': { status: 400, title: 'Chunk size outside the server limits' },
  'invalid-chunk-index': { status: 400, title: 'No such chunk index in this upload' },
  'chunk-length-mismatch': { status: 400, title: 'The body length is not the chunk length' },
  'chunk-too-long': { status: 413, title: 'The body is longer than the chunk' },
  'invalid-chunk-offset': { status: 400, title: 'Ferry-Chunk-Offset is not a byte offset inside the chunk' },
  'missing-digest': { status: 400, title: 'Digest header missing' },
  'malformed-digest': { status: 400, title: 'Digest header malformed' },
  'unsupported-algorithm': { status: 400, title: 'Checksum algorithm not supported' },
  'file-too-large': { status: 413, title: 'The file is larger than the server accepts' },
  'body-too-large': { status: 413, title: 'The request body is larger than the server accepts' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'unauthenticated': { status: 401, title: 'A credential is needed' },
  'invalid-credential': { status: 401, title: 'The credential is not valid' },
  'credential-expired': { status: 401, title: 'The credential has expired' },
  'forbidden': { status: 403, title: 'The credential does not allow this' },
  'grant-budget-exceeded': { status: 403, title: "The grant's upload allowance is used up" },
  'upload-refused': { status: 403, title: 'The application refused this upload' },
  'not-found': { status: 404, title: 'No such resource' },
  'upload-not-found': { status: 404, title: 'No such upload' },
  'file-not-found': { status: 404, title: 'No such file' },
  'key-not-found': { status: 404, title: 'No such API key' },
  'method-not-allowed': { status: 405, title: 'Method not allowed on this resource' },
  'range-not-satisfiable': { status: 416, title: 'The range is outside the file' },
  'request-timeout': { status: 408, title: 'The request body did not arrive in time' },
  'chunk-conflict': { status: 409, title: 'This chunk is already stored with a different digest' },
  'chunk-in-progress': { status: 409, title: 'Another request is writing this chunk' },
  'chunk-offset-mismatch': { status: 409, title: 'The server keeps a different part of this chunk' },
  'upload-completed': { status: 409, title: 'The upload is already complete' },
  'upload-aborted': { status: 410, title: 'The upload was aborted' },
  'upload-expired': { status: 410, title: 'The upload expired' },
  'upload-failed': { status: 410, title: 'The upload failed verification and was discarded' },
  'digest-mismatch': { status: 422, title: 'The chunk does not match its digest' },
  'file-digest-mismatch': { status: 422, title: 'The assembled file does not match the declared digest' },
  'insufficient-storage': { status: 507, title: 'The server is out of storage space' },
  'too-many-downloads': { status: 429, title: 'Too many downloads at once' },
  'too-many-uploads': { status: 429, title: 'Too many uploads in progress for this identity' },
  'quota-exceeded': { status: 429, title: "The identity's uploads in progress reserve too many bytes" },
  'rate-limited': { status: 429, title: 'Too many requests' },
  'invalid-metadata': { status: 400, title: 'The metadata is not a small map of strings' },
  // Stream uploads (tus 1.0 and the IETF resumable-upload draft, src/server/tus and src/server/ietf).
  'upload-offset-mismatch': { status: 409, title: 'The upload offset is not where the upload stands' },
  'upload-locked': { status: 423, title: 'Another request is writing this upload' },
  'checksum-mismatch': { status: 460, title: 'The request body does not match its Upload-Checksum' },
  'unsupported-tus-version': { status: 412, title: 'Unsupported Tus-Resumable version' },
  'invalid-upload-length': { status: 400, title: 'The upload length is missing, malformed or inconsistent' },
  'concatenation-incomplete': { status: 400, title: 'A partial upload named in the concatenation is not finished' },
  'stream-upload': { status: 409, title: 'This upload is written as a byte stream (tus or IETF), not by chunks' },
  'internal-error': { status: 500, title: 'Internal server error' },
  'service-unavailable': { status: 503, title: 'The server is shutting down or overloaded' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof Problems;

export function isProblemCode(code: string): code is ProblemCode {
  return Object.prototype.hasOwnProperty.call(Problems, code);
}

export function problemType(code: ProblemCode): string {
  return ProblemTypeBase + code;
}

/** The RFC 9457 body Ferry sends; extension members carry machine-readable details. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

/** The one error class for protocol failures, on both sides of the wire. */
export class FerryError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly extensions: Record<string, unknown>;

  constructor(code: ProblemCode, detail?: string, extensions: Record<string, unknown> = {}, status?: number) {
    super(detail ?? Problems[code].title);
    this.name = 'FerryError';
    this.code = code;
    this.status = status ?? Problems[code].status;
    this.extensions = extensions;
  }

  toProblem(instance?: string): ProblemDetails {
    return {
      ...this.extensions,
      type: problemType(this.code),
      title: Problems[this.code].title,
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
    };
  }

  /** Rebuilds the error from a problem body (client side); unknown types become internal-error. */
  static fromProblem(body: Partial<ProblemDetails>, status: number): FerryError {
    const type = typeof body.type === 'string' ? body.type : '';
    const code = type.startsWith(ProblemTypeBase) ? type.slice(ProblemTypeBase.length) : '';
    const { type: _t, title: _ti, status: _s, detail, instance: _i, ...ext } = body;
    if (isProblemCode(code)) return new FerryError(code, typeof detail === 'string' ? detail : undefined, ext, status);
    return new FerryError('internal-error', typeof detail === 'string' ? detail : `HTTP ${status}`, ext, status);
  }
}

export function isFerryError(e: unknown): e is FerryError {
  return e instanceof FerryError;
}
