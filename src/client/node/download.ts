// The Node entry for downloads: download(url, destinationPath, options) with node:crypto hashing and
// the `.part` + sidecar next to the destination. Re-exports the platform-neutral download API.
import { startDownload, type DownloadHandle } from '../download/download.js';
import type { DownloadOptions } from '../download/options.js';
import { probeUrl, type ProbeOptions, type RemoteInfo } from '../download/probe.js';
import { createFileTarget } from './download-target.js';
import { createHasher } from './hasher.js';
import { createNodeTransport } from './http-transport.js';
import { createRangeTransport } from './range-transport.js';
import { createWorkerHasher } from './worker-hasher.js';

export { startDownload, createFileTarget };
export type { DownloadHandle } from '../download/download.js';
export type { DownloadEvents, DownloadResult, Verification } from '../download/context.js';
export type { DownloadOptions } from '../download/options.js';
export type { DownloadMode, ProbeOptions, RemoteInfo } from '../download/probe.js';
export type { DownloadTarget, PartFile } from '../download/io.js';
export type { FileTarget } from './download-target.js';
export { DownloadError, isDownloadError, type DownloadErrorReason } from '../download/errors.js';
export { DefaultDownloadChunkSize } from '../download/options.js';
export { sanitizeFileName, suggestFileName, fileNameFromDisposition } from '../download/name.js';
export { createRangeTransport, type RangeTransportOptions } from './range-transport.js';
export type { RangeTransport, RangeReply, RangeBody } from '../download/io.js';

/** node:http with keep-alive for the other requests (manifest, HEAD, https:, servers without ranges). */
const nodeTransport = createNodeTransport();
/** The bulk of the bytes: range GETs on http: URLs, read into pooled buffers (see range-transport.ts). */
const nodeRanges = createRangeTransport();

/**
 * Downloads `url` to `destination` (a file path), via `<destination>.part` and the sidecar
 * `<destination>.part.ferry`; calling it again after an interruption continues where it stopped.
 */
export function download(url: string | URL, destination: string, options: DownloadOptions = {}): DownloadHandle {
  return startDownload(url, createFileTarget(destination), options, { hasher: createWorkerHasher(), fetch: nodeTransport, ranges: nodeRanges });
}

/** What is at `url` (Ferry manifest or plain HTTP headers): size, ETag, the server's file name. */
export function probe(url: string | URL, options: ProbeOptions = {}): Promise<RemoteInfo> {
  return probeUrl(url, options, { hasher: createHasher(), fetch: nodeTransport });
}
