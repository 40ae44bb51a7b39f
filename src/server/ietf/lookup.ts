// Finding the upload resource behind /tus/{id} for a draft request, and the answer when it is not active.
import { FerryError } from '../../protocol/index.js';
import type { UploadRecord } from '../../stores/types.js';
import type { Principal } from '../auth/principal.js';
import { completeUpload } from '../completion.js';
import type { ServerContext } from '../context.js';
import { awaitsCompletion, closedUploadProblem, loadUpload } from '../upload-lifecycle.js';

/**
 * The stream upload (tus or IETF) of a file named `uploadId`, as `who` may see it (404 otherwise:
 * a Ferry-protocol upload or a tus partial upload is no upload resource of the draft's). One with
 * every byte in whose completion has not run yet (a crash, or another node) is completed first,
 * as the native status route does, so its answer can name the file.
 */
export async function loadStreamUpload(ctx: ServerContext, uploadId: string, who: Principal): Promise<UploadRecord> {
  let upload = await loadUpload(ctx, uploadId, who);
  if (upload.protocol === 'ferry' || upload.role !== 'file') {
    throw new FerryError('upload-not-found', `Upload ${uploadId} is not a resumable upload of a file (tus or IETF).`);
  }
  if (awaitsCompletion(upload) || upload.state === 'completing') {
    await completeUpload(ctx, upload, { wait: false }).catch((error: unknown) => {
      if (!(error instanceof FerryError)) throw error;
    });
    upload = await loadUpload(ctx, uploadId, who);
  }
  return upload;
}

/** The draft answers 404 for an upload resource that is no longer active; the type still says why. */
export function notActive(upload: Pick<UploadRecord, 'id' | 'state'>): FerryError {
  const problem = closedUploadProblem(upload);
  return new FerryError(problem.code, problem.message, problem.extensions, 404);
}
