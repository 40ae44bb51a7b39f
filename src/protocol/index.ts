// The protocol both halves speak: import from here, never spell a header or field elsewhere.
export * from './headers.js';
export * from './paths.js';
export * from './limits.js';
export * from './index-ranges.js';
export * from './digest.js';
export * from './problems.js';
export * from './messages.js';
export * from './metadata.js';
export * from './file-name.js';
export * from './byte-range.js';
export * from './base64url.js';
export * from './etag.js';
