// Upload append (PATCH /tus/{id}): content at the upload's offset, Upload-Complete ?1 ending the upload.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import type { UploadRecord } from '../../stores/types.js';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { streamOffset } from '../streams/offset.js';
import { IetfFields, knownContentLength, mediaTypeOf, partialUploadType, readCompletion, readCount } from './fields.js';
import { loadStreamUpload, notActive } from './lookup.js';
import { completedUpload, inconsistentLength, mismatchingOffset } from './problems.js';
import { isComplete, setFields, stateFields } from './state.js';
import { dialectOf } from './versions.js';
import { answerAppended, appendContent } from './write.js';

/**
 * The length this append records, if any, after checking every indication against the others and
 * against the recorded one: Upload-Length, and with Upload-Complete ?1 the offset plus Content-Length.
 */
export function appendLength(upload: Pick<UploadRecord, 'lengthDeferred' | 'size'>, offset: number, declared: number | undefined, complete: boolean, contentLength: number | undefined): number | undefined {
  const recorded = upload.lengthDeferred ? undefined : upload.size;
  const fromContent = complete && contentLength !== undefined ? offset + contentLength : undefined;
  const indications = [
    ['the recorded length', recorded],
    ['Upload-Length', declared],
    ['offset + Content-Length', fromContent],
  ].filter((x): x is [string, number] => x[1] !== undefined);
  const [first] = indications;
  const other = indications.find(([, n]) => n !== first?.[1]);
  if (first && other) {
    throw inconsistentLength(`The upload's length is ${first[1]} bytes by ${first[0]} but ${other[1]} by ${other[0]}.`);
  }
  const limit = recorded ?? declared;
  if (limit !== undefined && contentLength !== undefined && offset + contentLength > limit) {
    throw inconsistentLength(`The upload is ${limit} bytes; this content would take it to ${offset + contentLength}.`);
  }
  return recorded === undefined ? (declared ?? fromContent) : undefined;
}

export async function appendIetf(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, uploadId: string, who: Principal): Promise<void> {
  const d = dialectOf(req);
  if (d.partialUploadType && mediaTypeOf(req) !== partialUploadType) {
    throw new FerryError('unsupported-media-type', `An upload append is ${partialUploadType}, not "${mediaTypeOf(req) || 'none'}".`);
  }
  const offset = readCount(req, IetfFields.offset);
  if (offset === undefined) throw new FerryError('malformed-request', 'An upload append carries Upload-Offset.', { field: IetfFields.offset });
  const complete = readCompletion(req) ?? false;
  const declared = readCount(req, IetfFields.length);
  const contentLength = knownContentLength(req);

  const upload = await loadStreamUpload(ctx, uploadId, who);
  if (isComplete(upload)) {
    setFields(res, stateFields(ctx, req, d, upload));
    throw completedUpload(upload.id);
  }
  if (upload.state !== 'uploading') throw notActive(upload);
  setFields(res, stateFields(ctx, req, d, upload));
  const current = streamOffset(upload);
  if (offset !== current) throw mismatchingOffset(current, offset);
  const length = appendLength(upload, offset, declared, complete, contentLength);

  const result = await appendContent(ctx, req, res, d, upload, { offset, contentLength, complete, ...(length !== undefined && { length }) });
  answerAppended(ctx, req, res, d, result.upload);
}
