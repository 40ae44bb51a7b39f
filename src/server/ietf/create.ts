// Upload creation (POST /tus/ with Upload-Complete): the upload resource, a 104 with its URL, the content.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { createStreamUpload } from '../streams/create.js';
import { hasContent, IetfFields, knownContentLength, readCompletion, readCount, refuseFields } from './fields.js';
import { sendUploadResumptionSupported } from './informational.js';
import { uploadLimit } from './limits.js';
import { uploadDescription } from './metadata.js';
import { inconsistentLength } from './problems.js';
import { setFields, stateFields, uploadUrl } from './state.js';
import { dialectOf } from './versions.js';
import { answerAppended, appendContent } from './write.js';

/**
 * The upload's length as the creation request indicates it: Upload-Length, or with Upload-Complete ?1
 * the content's length; both given, they must agree (400 inconsistent-upload-length). null: not known yet.
 */
export function creationLength(declared: number | undefined, complete: boolean, contentLength: number | undefined): number | null {
  const fromContent = complete ? contentLength : undefined;
  if (declared !== undefined && fromContent !== undefined && declared !== fromContent) {
    throw inconsistentLength(`Upload-Length says ${declared} bytes; the complete upload's content is ${fromContent}.`, { 'upload-length': declared, 'content-length': fromContent });
  }
  if (declared !== undefined && contentLength !== undefined && contentLength > declared) {
    throw inconsistentLength(`Upload-Length says ${declared} bytes; the content alone is ${contentLength}.`, { 'upload-length': declared, 'content-length': contentLength });
  }
  return declared ?? fromContent ?? null;
}

export async function createIetfUpload(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, who: Principal): Promise<void> {
  const d = dialectOf(req);
  refuseFields(req, [IetfFields.offset], 'An upload creation');
  const complete = readCompletion(req);
  if (complete === undefined) {
    throw new FerryError('malformed-request', `An upload creation says whether its content ends the upload: ${d.completionField === IetfFields.complete ? 'Upload-Complete: ?1 or ?0' : 'Upload-Incomplete: ?0 or ?1'}.`);
  }
  const contentLength = knownContentLength(req);
  const size = creationLength(readCount(req, IetfFields.length), complete, contentLength);
  const { name, metadata } = uploadDescription(req);
  const upload = await createStreamUpload(ctx, req, who, { protocol: 'ietf', role: 'file', size, name, metadata });

  const location = uploadUrl(ctx, req, upload.id);
  res.setHeader('location', location);
  setFields(res, stateFields(ctx, req, d, upload));
  if (hasContent(req)) {
    // While the content arrives, the client learns where to resume should the connection drop.
    sendUploadResumptionSupported(req, res, {
      location,
      [IetfFields.interopVersion]: String(d.version),
      ...(d.limits && { [IetfFields.limit]: uploadLimit(ctx, upload) }),
    });
  }
  // Without content there is nothing to append unless the request ends the upload. (An empty upload of
  // known length is complete as created: tus-js-client sends no append for it, and neither here.)
  if (upload.state !== 'uploading' || (!hasContent(req) && !complete)) {
    answerAppended(ctx, req, res, d, upload);
    return;
  }
  const result = await appendContent(ctx, req, res, d, upload, { offset: 0, contentLength, complete });
  answerAppended(ctx, req, res, d, result.upload);
}
