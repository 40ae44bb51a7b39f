// The response fields that tell a draft client where an upload stands.
import type { IncomingMessage } from 'node:http';
import { Paths } from '../../protocol/index.js';
import type { UploadRecord } from '../../stores/types.js';
import type { ServerContext } from '../context.js';
import { baseUrl } from '../http.js';
import { streamOffset } from '../streams/offset.js';
import { IetfFields } from './fields.js';
import { uploadLimit } from './limits.js';
import { completionField, type Dialect } from './versions.js';

/** The upload resource's URL (the tus endpoint's: one resource for both protocols). */
export function uploadUrl(ctx: ServerContext, req: IncomingMessage, uploadId: string): string {
  return `${baseUrl(req, ctx)}/tus/${encodeURIComponent(uploadId)}`;
}

/** Complete for the draft: every byte is in and the request that said so succeeded (the file may still be assembling). */
export function isComplete(upload: Pick<UploadRecord, 'state'>): boolean {
  return upload.state === 'complete' || upload.state === 'completing';
}

/** Whether the draft calls the upload resource active: still taking bytes, or complete. Else its URL answers 404. */
export function isActive(upload: Pick<UploadRecord, 'state'>): boolean {
  return upload.state === 'uploading' || isComplete(upload);
}

/**
 * Fields on a response about `upload`: the interop version, Upload-Offset, Upload-Complete (or
 * Upload-Incomplete), Upload-Length once known, Upload-Limit (-04/-05), and once the file exists its
 * URL as Content-Location (the draft's "subsequent resource").
 */
export function stateFields(ctx: ServerContext, req: IncomingMessage, d: Dialect, upload: UploadRecord): Record<string, string> {
  const complete = isComplete(upload);
  const [completeName, completeValue] = completionField(d, complete);
  const fields: Record<string, string> = {
    [IetfFields.interopVersion]: String(d.version),
    [IetfFields.offset]: String(streamOffset(upload)),
    [completeName]: completeValue,
  };
  if (!upload.lengthDeferred) fields[IetfFields.length] = String(upload.size);
  if (d.limits) fields[IetfFields.limit] = uploadLimit(ctx, upload);
  if (upload.state === 'complete' && upload.fileId) fields['content-location'] = baseUrl(req, ctx) + Paths.file(upload.fileId);
  return fields;
}

/** Sets `fields` on the response (they go out with whatever answer follows, problems included). */
export function setFields(res: { setHeader(name: string, value: string): unknown }, fields: Record<string, string>): void {
  for (const [name, value] of Object.entries(fields)) res.setHeader(name, value);
}
