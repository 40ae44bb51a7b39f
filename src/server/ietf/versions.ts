// The interop versions of draft-ietf-httpbis-resumable-upload this server speaks, and how they differ.
import type { IncomingMessage } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import { IetfFields } from './fields.js';

/**
 * One interop version's wire details. Versions: 3 = draft -01, 4 = -02, 5 = -03, 6 = -04 and -05
 * (tus-js-client's protocol 'ietf-draft-03' sends 5, 'ietf-draft-05' sends 6).
 */
export interface Dialect {
  version: number;
  /** Version 3 says Upload-Incomplete (inverted) where later ones say Upload-Complete. */
  completionField: typeof IetfFields.complete | typeof IetfFields.incomplete;
  /** -04/-05: an append (PATCH) must be application/partial-upload, else 415. */
  partialUploadType: boolean;
  /** -04/-05: Upload-Limit on creation and offset responses (and OPTIONS); Upload-Length on HEAD. */
  limits: boolean;
}

const dialects: Record<string, Dialect> = {
  '3': { version: 3, completionField: IetfFields.incomplete, partialUploadType: false, limits: false },
  '4': { version: 4, completionField: IetfFields.complete, partialUploadType: false, limits: false },
  '5': { version: 5, completionField: IetfFields.complete, partialUploadType: false, limits: false },
  '6': { version: 6, completionField: IetfFields.complete, partialUploadType: true, limits: true },
};

export const supportedInteropVersions = Object.values(dialects).map((d) => d.version);

/** The request's interop version; 400 when it names one this server does not speak. */
export function dialectOf(req: IncomingMessage): Dialect {
  const raw = req.headers[IetfFields.interopVersion];
  const value = (Array.isArray(raw) ? raw.join(', ') : raw ?? '').split(';')[0]!.trim();
  const dialect = Object.hasOwn(dialects, value) ? dialects[value] : undefined;
  if (!dialect) {
    throw new FerryError('unsupported-version', `Upload-Draft-Interop-Version ${JSON.stringify(value.slice(0, 20))} is not spoken here; this server speaks ${supportedInteropVersions.join(', ')}.`, {
      supported: supportedInteropVersions,
    });
  }
  return dialect;
}

/** The completion field of a response in this dialect: Upload-Complete ?1/?0 (or Upload-Incomplete inverted). */
export function completionField(d: Dialect, complete: boolean): [string, string] {
  return d.completionField === IetfFields.complete ? [IetfFields.complete, complete ? '?1' : '?0'] : [IetfFields.incomplete, complete ? '?0' : '?1'];
}
