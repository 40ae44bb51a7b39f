// The draft's own problem types (IANA's HTTP problem types registry), and how core errors read in the draft's terms.
import { FerryError, type ProblemCode, type ProblemDetails } from '../../protocol/index.js';
import type { UploadRecord } from '../../stores/types.js';

const ianaProblemBase = 'https://iana.org/assignments/http-problem-types#';

const draftTitles = {
  'mismatching-upload-offset': 'offset from request does not match offset of resource',
  'completed-upload': 'upload is already completed',
  'inconsistent-upload-length': 'inconsistent length values for upload',
} as const;

export type DraftProblemType = keyof typeof draftTitles;

/**
 * A problem the draft gives a type of its own: sent with that type (so draft clients recognise it),
 * handled everywhere else (logs, metrics, the error path of app.ts) as the Ferry problem `code`.
 */
export class DraftProblem extends FerryError {
  readonly draftType: DraftProblemType;

  constructor(draftType: DraftProblemType, code: ProblemCode, status: number, detail: string, members: Record<string, unknown> = {}) {
    super(code, detail, members, status);
    this.draftType = draftType;
  }

  override toProblem(instance?: string): ProblemDetails {
    return { ...super.toProblem(instance), type: ianaProblemBase + this.draftType, title: draftTitles[this.draftType] };
  }
}

/** 409: the append's Upload-Offset is not where the upload stands (members as -04/-05 define them). */
export function mismatchingOffset(expected: number, provided: number): DraftProblem {
  return new DraftProblem('mismatching-upload-offset', 'upload-offset-mismatch', 409, `The upload is at offset ${expected}; the request says ${provided}.`, {
    'expected-offset': expected,
    'provided-offset': provided,
  });
}

/** 400: the upload is complete and cannot be modified. */
export function completedUpload(uploadId: string): DraftProblem {
  return new DraftProblem('completed-upload', 'upload-completed', 400, `Upload ${uploadId} is already complete.`);
}

/** 400: the lengths the requests indicate (Upload-Length, Content-Length with Upload-Complete, what was recorded) disagree. */
export function inconsistentLength(detail: string, members: Record<string, unknown> = {}): DraftProblem {
  return new DraftProblem('inconsistent-upload-length', 'invalid-upload-length', 400, detail, members);
}

/**
 * A stream-core error as the draft wants it answered: offset mismatch with its members, a complete
 * upload as completed-upload (400), a length overrun or contradiction as inconsistent-upload-length
 * (400), and an upload that is not active (aborted, expired, failed) as 404 with Ferry's type.
 */
export function inDraftTerms(error: FerryError, upload: Pick<UploadRecord, 'id' | 'lengthDeferred'>, providedOffset: number): FerryError {
  if (error instanceof DraftProblem) return error;
  switch (error.code) {
    case 'upload-offset-mismatch': {
      const expected = error.extensions.offset;
      return typeof expected === 'number' ? mismatchingOffset(expected, providedOffset) : error;
    }
    case 'upload-completed':
      return completedUpload(upload.id);
    case 'invalid-upload-length':
      return inconsistentLength(error.message, error.extensions);
    case 'file-too-large':
      // Past the recorded length: the body contradicts it. (Past the server's maximum, with no length yet: 413 stays.)
      return upload.lengthDeferred ? error : inconsistentLength(error.message, error.extensions);
    case 'upload-aborted':
    case 'upload-expired':
    case 'upload-failed':
      return new FerryError(error.code, error.message, error.extensions, 404);
    default:
      return error;
  }
}
