// Appending a request's content to an IETF upload through the stream core, with errors in the draft's terms.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import type { UploadRecord } from '../../stores/types.js';
import { bodyPieces } from '../chunk-body.js';
import type { ServerContext } from '../context.js';
import { appendToStream, type AppendResult } from '../streams/append.js';
import { inconsistentLength, inDraftTerms } from './problems.js';
import { isActive, setFields, stateFields } from './state.js';
import type { Dialect } from './versions.js';

export interface DraftAppend {
  offset: number;
  /** The content's length when known in advance (Content-Length, or 0 for a request without content). */
  contentLength: number | undefined;
  /** Upload-Complete ?1: this content ends the upload. */
  complete: boolean;
  /** A length to record now (deferred uploads only). */
  length?: number;
}

/**
 * Appends the request content at `a.offset`. A failure is answered with the upload's state as it is
 * after it (the draft wants Upload-Offset on failures too while the upload is active) and the error
 * in the draft's terms; what a body cut part-way delivered is kept by the core (which then throws the
 * body's failure: nobody is left to answer).
 *
 * Upload-Complete ?1 goes to the core only while no length is known (its body's end then becomes the
 * length). With a known length the core completes the upload when the bytes reach it; a body that
 * said it ends the upload and stopped short of the length is refused here (inconsistent-upload-length).
 */
export async function appendContent(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  d: Dialect,
  upload: UploadRecord,
  a: DraftAppend,
): Promise<AppendResult> {
  const lengthUnknown = upload.lengthDeferred && a.length === undefined;
  let result: AppendResult;
  try {
    result = await appendToStream(ctx, upload, {
      offset: a.offset,
      body: bodyPieces(req),
      ...(a.contentLength !== undefined && { contentLength: a.contentLength }),
      ...(a.length !== undefined && { length: a.length }),
      ...(a.complete && lengthUnknown && { complete: true }),
    });
  } catch (error) {
    if (!(error instanceof FerryError)) throw error;
    await showStateAfter(ctx, req, res, d, upload.id);
    throw inDraftTerms(error, upload, a.offset);
  }
  if (a.complete && result.upload.state === 'uploading') {
    setFields(res, stateFields(ctx, req, d, result.upload));
    throw inconsistentLength(`The content was said to end the upload, but it stopped at ${result.offset} of ${result.upload.size} bytes.`, {
      'upload-offset': result.offset,
      'upload-length': result.upload.size,
    });
  }
  return result;
}

/** Sets the fields of the upload as it is now on the (error) response, while it is active. */
async function showStateAfter(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, d: Dialect, uploadId: string): Promise<void> {
  const now = await ctx.meta.getUpload(uploadId).catch(() => undefined);
  if (now && isActive(now) && !res.headersSent) setFields(res, stateFields(ctx, req, d, now));
}

/** Whether the client is still there to read an answer. */
export function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  return res.destroyed || req.socket.destroyed;
}

/** The final answer to a creation or append that succeeded: 201, with where the upload stands. */
export function answerAppended(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, d: Dialect, upload: UploadRecord): void {
  if (clientGone(req, res)) return;
  setFields(res, stateFields(ctx, req, d, upload));
  res.writeHead(201, { 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}
