// The Node entry for downloads: download(url, destinationPath, options) with node:crypto hashing and
// the `.part` + sidecar next to the destination. Re-exports the platform-neutral download API.
import { startDownload, type DownloadHandle } from '../download.js';
import type { DownloadOptions } from '../download-options.js';
import { probeUrl, type RemoteInfo } from '../download-probe.js';
import { createHasher } from './hasher.js';
import { createFileTarget } from './download-target.js';
import { createNodeTransport } from './http-transport.js';

export { startDownload, createFileTarget };
export type { DownloadHandle } from '../download.js';
export type { DownloadEvents, DownloadResult, Verification } from '../download-context.js';
export type { DownloadOptions } from '../download-options.js';
export type { DownloadMode, RemoteInfo } from '../download-probe.js';
export type { DownloadTarget, PartFile } from '../download-io.js';
export type { FileTarget } from './download-target.js';
export { DownloadError, isDownloadError, type DownloadErrorReason } from '../download-errors.js';
export { DefaultDownloadChunkSize } from '../download-options.js';
export { sanitizeFileName, suggestFileName, fileNameFromDisposition } from '../download-name.js';

/** node:http with keep-alive for the range GETs (as uploads use): fewer copies and less GC than fetch. */
const nodeTransport = createNodeTransport();

/**
 * Downloads `url` to `destination` (a file path), via `<destination>.part` and the sidecar
 * `<destination>.part.ferry`; calling it again after an interruption continues where it stopped.
 */
export function download(url: string | URL, destination: string, options: DownloadOptions = {}): DownloadHandle {
  return startDownload(url, createFileTarget(destination), options, { hasher: createHasher(), fetch: nodeTransport });
}

/** What is at `url` (Ferry manifest or plain HTTP headers): size, ETag, the server's file name. */
export function probe(url: string | URL, options: DownloadOptions = {}): Promise<RemoteInfo> {
  return probeUrl(url, options, { hasher: createHasher(), fetch: nodeTransport });
}
