// The file name and metadata of an IETF upload, from the creation request's representation metadata.
import type { IncomingMessage } from 'node:http';
import { FerryError, metadataProblem, type Metadata } from '../../protocol/index.js';
import { parseUploadMetadata } from '../tus/headers.js';
import { IetfFields, mediaTypeOf, partialUploadType } from './fields.js';

/** Media types that describe the request's content as a transfer, not the file. */
const transferTypes = new Set([partialUploadType, 'application/offset+octet-stream']);

/** The file name a Content-Disposition gives (filename* = RFC 8187 UTF-8 wins over filename), if any. */
export function dispositionFileName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const params = new Map<string, string>();
  // type *( ";" name "=" ( token / quoted-string ) )
  const re = /;\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/g;
  for (const m of header.matchAll(re)) {
    const name = m[1]!.toLowerCase();
    const raw = m[2]!;
    if (!params.has(name)) params.set(name, raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw);
  }
  const extended = params.get('filename*');
  if (extended !== undefined) {
    const m = /^utf-8'[^']*'(.*)$/i.exec(extended);
    if (m) {
      try {
        const name = decodeURIComponent(m[1]!);
        if (name) return name;
      } catch {
        // a malformed filename*: fall back to filename
      }
    }
  }
  const plain = params.get('filename');
  return plain ? plain : undefined;
}

/**
 * Name and metadata for the upload: the name from Content-Disposition, else the tus metadata's
 * 'filename' or 'name', else 'upload'; the metadata from Upload-Metadata, with 'filetype' from the
 * Content-Type when it describes the file (not application/partial-upload) and none was given.
 */
export function uploadDescription(req: IncomingMessage): { name: string; metadata: Metadata } {
  const rawMeta = req.headers[IetfFields.tusMetadata];
  // tus Upload-Metadata, which tus-js-client sends in IETF mode too (the draft has no metadata field).
  const metadata = parseUploadMetadata(Array.isArray(rawMeta) ? rawMeta.join(',') : rawMeta);
  const type = mediaTypeOf(req);
  if (type && !transferTypes.has(type) && metadata.filetype === undefined) metadata.filetype = type;
  const problem = metadataProblem(metadata);
  if (problem) throw new FerryError('invalid-metadata', problem);
  const name = dispositionFileName(req.headers['content-disposition']) || metadata.filename || metadata.name || 'upload';
  return { name, metadata };
}
