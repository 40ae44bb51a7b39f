// Every header name Ferry's client and server exchange, spelled once.

export const PROTOCOL_VERSION = 1;

export const Headers = {
  /** Protocol major version; sent by both sides, checked by the server when present. */
  version: 'ferry-version',
  /** RFC 9530 digest of the message content (per chunk). */
  contentDigest: 'content-digest',
  /** RFC 9530 digest of the whole representation (the assembled file). */
  reprDigest: 'repr-digest',
  /** base64url(JSON) creation parameters on a creation-with-first-chunk request. */
  uploadParams: 'ferry-upload-params',
  /** Upload state on status / chunk responses (uploading, complete, aborted, expired, failed). */
  uploadState: 'ferry-upload-state',
  /** Number of chunks received, on status responses. */
  chunksReceived: 'ferry-chunks-received',
  /** Missing chunk index ranges ("0-3,7"), on status responses. */
  chunksMissing: 'ferry-chunks-missing',
  /**
   * On a chunk PUT: the bytes of the chunk the server already keeps from a cut request (the status's
   * `staged`); the body is the rest of the chunk. Absent: 0, the body is the whole chunk.
   */
  chunkOffset: 'ferry-chunk-offset',
  /** Upload expiry (RFC 9110 HTTP-date) on status responses. */
  uploadExpires: 'ferry-upload-expires',
} as const;

export const MediaTypes = {
  json: 'application/json',
  problem: 'application/problem+json',
  octets: 'application/octet-stream',
} as const;
