// The file name and metadata of an IETF upload, from the creation request's representation metadata.
import type { IncomingMessage } from 'node:http';
import { FerryError, metadataProblem, type Metadata } from '../../protocol/index.js';
import { IetfFields, mediaTypeOf, partialUploadType } from './fields.js';

/** Media types that describe the request's content as a transfer, not the file. */
const transferTypes = new Set([partialUploadType, 'application/offset+octet-stream']);

/**
 * tus Upload-Metadata ("key base64,key base64", a key alone for an empty value), which tus-js-client
 * sends in IETF mode too; the draft itself has no metadata field. Malformed entries are refused.
 */
export function decodeTusMetadata(header: string | undefined): Metadata {
  const out: Metadata = {};
  if (header === undefined || header.trim() === '') return out;
  for (const entry of header.split(',')) {
    const [key, value, ...rest] = entry.trim().split(' ');
    if (!key || rest.length > 0 || (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))) {
      throw new FerryError('invalid-metadata', 'Upload-Metadata must be comma-separated "key base64value" pairs.');
    }
    if (Object.hasOwn(out, key)) throw new FerryError('invalid-metadata', `Upload-Metadata names "${key.slice(0, 64)}" twice.`);
    const decoded = Buffer.from(value ?? '', 'base64');
    const text = new TextDecoder('utf-8', { fatal: false }).decode(decoded);
    out[key] = text;
  }
  return out;
}

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
  const metadata = decodeTusMetadata(Array.isArray(rawMeta) ? rawMeta.join(',') : rawMeta);
  const type = mediaTypeOf(req);
  if (type && !transferTypes.has(type) && metadata.filetype === undefined) metadata.filetype = type;
  const problem = metadataProblem(metadata);
  if (problem) throw new FerryError('invalid-metadata', problem);
  const name = dispositionFileName(req.headers['content-disposition']) || metadata.filename || metadata.name || 'upload';
  return { name, metadata };
}
