// The Node entry: upload(path | source, options) with node:crypto hashing and a JSON resume store.
import type { ByteSource } from '../upload/io.js';
import type { UploadOptions } from '../upload/options.js';
import { startUpload, type UploadHandle } from '../upload/upload.js';
import { createSource } from './file-source.js';
import { createHasher } from './hasher.js';
import { createNodeTransport } from './http-transport.js';
import { createResumeStore } from './resume-store.js';

export * from '../index.js';
export { createSource, createHasher, createResumeStore };
export type { FileSource } from './file-source.js';
export type { FileResumeStore, FileResumeStoreOptions } from './resume-store.js';

/** node:http with keep-alive: sends chunk bytes without the copies the global fetch makes. */
const nodeTransport = createNodeTransport();

/** Uploads a file (by path; opened and closed here) or any ByteSource. */
export function upload(file: string | ByteSource, options: UploadOptions): UploadHandle {
  const opened = typeof file === 'string' ? createSource(file) : null;
  const handle = startUpload(opened ?? (file as ByteSource), options, {
    hasher: createHasher(),
    resumeStore: createResumeStore(),
    fetch: nodeTransport,
  });
  if (opened) {
    const close = () => opened.then((s) => s.close()).catch(() => {});
    handle.result.then(close, close);
  }
  return handle;
}
