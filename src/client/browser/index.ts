// The browser entry: upload(blob | source, options) with WebCrypto hashing and localStorage resume.
import type { ByteSource } from '../upload/io.js';
import type { UploadOptions } from '../upload/options.js';
import { startUpload, type UploadHandle } from '../upload/upload.js';
import { blobBodyFetch } from './blob-body-fetch.js';
import { createSource } from './blob-source.js';
import { createHasher } from './hasher.js';
import { createResumeStore } from './resume-store.js';

export * from '../index.js';
export { createSource, createHasher, createResumeStore };
export type { BrowserResumeStoreOptions, KeyValueStorage } from './resume-store.js';

/** Uploads a Blob/File (resumable when it is a File) or any ByteSource. */
export function upload(file: Blob | ByteSource, options: UploadOptions): UploadHandle {
  const source = isBlob(file) ? createSource(file) : file;
  return startUpload(source, options, {
    fetch: blobBodyFetch,
    hasher: createHasher(),
    resumeStore: createResumeStore(),
  });
}

function isBlob(x: unknown): x is Blob {
  return typeof Blob !== 'undefined' && x instanceof Blob;
}
