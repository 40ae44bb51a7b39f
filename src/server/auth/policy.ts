// Who may do what: owners (or admins) touch their uploads and files; grants only what their scope says.
// What a caller may not know exists is "not found", never "forbidden".
import { matchesAny, type UploadAllowance } from '../../grants/index.js';
import { FerryError } from '../../protocol/index.js';
import type { FileRecord, UploadRecord } from '../../stores/types.js';
import type { Principal } from './principal.js';

const isOwner = (p: Principal, thing: { owner: string }) => thing.owner === p.identity;

/** An upload the caller may continue, inspect and abort; anyone else gets upload-not-found. */
export function requireUpload(p: Principal, upload: UploadRecord): void {
  if (p.role === 'admin') return;
  const mayUpload = p.via !== 'grant' || p.grant?.scope.upload !== undefined;
  if (!isOwner(p, upload) || !mayUpload) throw new FerryError('upload-not-found', `No upload ${upload.id}.`);
}

/** A file the caller may download (bytes, manifest); anyone else gets file-not-found. */
export function requireFileRead(p: Principal, file: FileRecord): void {
  if (p.role === 'admin') return;
  if (p.via === 'grant') {
    const scope = p.grant!.scope;
    if (scope.read?.includes(file.id)) return;
    if (scope.files !== undefined && isOwner(p, file)) return;
  } else if (isOwner(p, file)) return;
  throw new FerryError('file-not-found', `No file ${file.id}.`);
}

/** Whether `p` may delete the file or share it for long: an admin, or its owner with a key or a files: 'write' grant. */
export function mayChangeFile(p: Principal, file: FileRecord): boolean {
  if (p.role === 'admin') return true;
  return isOwner(p, file) && (p.via === 'key' || p.grant?.scope.files === 'write');
}

/** Deleting a file: file-not-found when `p` may not read it, forbidden when it may read but not change it. */
export function requireFileWrite(p: Principal, file: FileRecord): void {
  requireFileRead(p, file);
  if (!mayChangeFile(p, file)) throw new FerryError('forbidden', `This credential may read file ${file.id} but not change it.`);
}

/** Listing files: an API key, or a grant with a files scope. */
export function requireList(p: Principal): void {
  if (p.via === 'grant' && p.grant!.scope.files === undefined) throw new FerryError('forbidden', 'This grant does not allow listing files.');
}

export function requireAdmin(p: Principal): void {
  if (p.role !== 'admin') throw new FerryError('forbidden', 'Only an admin may do this.');
}

/**
 * Creating an upload: any key; a grant only with an upload scope whose names and types admit this
 * one. Returns the grant's allowance (its byte budget is taken separately), or null when unlimited.
 */
export function requireCreate(p: Principal, name: string, metadata: Record<string, unknown>): UploadAllowance | null {
  if (p.via !== 'grant') return null;
  const allowance = p.grant!.scope.upload;
  if (!allowance) throw new FerryError('forbidden', 'This grant does not allow uploads.');
  if (allowance.names && !matchesAny(name, allowance.names)) {
    throw new FerryError('forbidden', `This grant allows uploads named ${allowance.names.join(', ')} only.`, { allowedNames: allowance.names });
  }
  if (allowance.types) {
    const type = typeof metadata.type === 'string' ? metadata.type : '';
    if (!matchesAny(type, allowance.types)) {
      throw new FerryError('forbidden', `This grant allows uploads of type ${allowance.types.join(', ')} only (metadata.type: "${type}").`, {
        allowedTypes: allowance.types,
      });
    }
  }
  return allowance;
}
