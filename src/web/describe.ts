// What to tell people about failures and retries: the engine's errors and retry events as sentences.
// Pure (no DOM), so every message is unit-tested; the server's own problem detail is always kept.
import type { RetryEvent } from '../client/index.js';
import { FerryError, NetworkError, UploadError } from '../client/index.js';
import { formatBytes, formatDuration } from './format.js';

/** The server's problem behind an error, if there is one. */
function problemOf(error: unknown): FerryError | null {
  if (error instanceof UploadError) return error.problem;
  return error instanceof FerryError ? error : null;
}

/** Problems that the same file on the same server will meet again: no point offering "Try again". */
const finalCodes = new Set([
  'file-too-large',
  'invalid-file-name',
  'blank-file-name',
  'body-too-large',
  'malformed-request',
  'unsupported-algorithm',
  'unsupported-version',
  'invalid-chunk-size',
  'forbidden',
  'grant-budget-exceeded',
]);

/** Answers meaning the credential itself is missing, wrong or expired: the page asks for one again. */
export const signInCodes: ReadonlySet<string> = new Set(['unauthenticated', 'invalid-credential', 'credential-expired']);

/** Whether `error` is (or wraps) a 401: the person has to sign in (again). */
export function needsSignIn(error: unknown): boolean {
  const problem = problemOf(error);
  return problem !== null && (problem.status === 401 || signInCodes.has(problem.code));
}

/**
 * What the sign-in form says when the server refused the credential; "" when none was given yet
 * (the form itself explains what is needed).
 */
export function describeSignIn(error: unknown): string {
  const problem = problemOf(error);
  if (!problem || problem.code === 'unauthenticated') return '';
  if (problem.code === 'credential-expired') {
    return 'Your access has expired. Open a new link from the application that sent you here, or enter an API key.';
  }
  return `That key or grant was not accepted (${problem.message}). Check it and try again.`;
}

/** Why deleting, sharing or listing files was refused, in a sentence. */
export function describeFileProblem(error: unknown, action: string): string {
  const problem = problemOf(error);
  if (problem?.code === 'forbidden') return `Your access does not allow you to ${action}. (${problem.message})`;
  if (problem?.code === 'file-not-found') return 'This file is no longer on the server.';
  if (problem && needsSignIn(problem)) return `Could not ${action}: you need to sign in again.`;
  if (problem) return `Could not ${action}: ${problem.message}`;
  return `Could not ${action}. ${describeFailure(error)}`;
}

/** Whether starting the upload again could succeed (it resumes what the server kept, if anything). */
export function canRetry(error: unknown): boolean {
  if (error instanceof UploadError && error.reason === 'invalid') return false;
  const problem = problemOf(error);
  return !(problem && finalCodes.has(problem.code));
}

/** Why an upload stopped, in a sentence or two. */
export function describeFailure(error: unknown): string {
  const problem = problemOf(error);
  if (problem) return describeProblem(problem);
  if (error instanceof UploadError) {
    switch (error.reason) {
      case 'outage':
        return 'The server stayed unreachable, so the upload stopped. What was sent is kept: select the same file again to resume.';
      case 'unreachable':
        return `The server could not be reached (${error.message}). Check the address, or try again once it is up.`;
      case 'retries-exhausted':
        return `The upload kept failing and stopped (${error.message}). Select the same file again to resume.`;
      case 'protocol':
        return `The server's answer did not make sense (${error.message}).`;
      case 'invalid':
        return `This file cannot be uploaded: ${error.message}`;
      case 'aborted':
        return 'Cancelled.';
      case 'fatal':
        return error.message;
    }
  }
  // The failed request's method and URL mean nothing to a person: say what happened.
  if (error instanceof NetworkError) return "Can't reach the server. Check your connection, or try again once it is back.";
  return error instanceof Error ? error.message : String(error);
}

function describeProblem(problem: FerryError): string {
  const detail = problem.message;
  switch (problem.code) {
    case 'file-too-large': {
      const max = problem.extensions.maxFileSize;
      const limit = typeof max === 'number' ? ` (the limit is ${formatBytes(max)})` : '';
      return `The server refused this file: ${detail}${limit}`;
    }
    case 'upload-expired':
      return `The unfinished upload expired on the server, so its chunks are gone. Select the file again to start over. (${detail})`;
    case 'upload-aborted':
      return `The upload was cancelled on the server. Select the file again to start over. (${detail})`;
    case 'upload-failed':
    case 'file-digest-mismatch':
      return `The server could not verify the assembled file. Select the file again to start over. (${detail})`;
    case 'chunk-conflict':
      return `The file changed while it was uploading: the server holds different bytes for part of it. (${detail})`;
    case 'insufficient-storage':
      return `The server is out of storage space. (${detail})`;
    case 'unauthenticated':
    case 'invalid-credential':
    case 'credential-expired':
      return `The server asks you to sign in again (${detail}). Sign in, then choose "Try again".`;
    case 'forbidden':
      return `Your access does not allow this upload. (${detail})`;
    case 'grant-budget-exceeded':
      return `Your upload allowance is used up. (${detail})`;
    case 'upload-refused':
      return `The application refused this upload. (${detail})`;
    default:
      return `The server refused the upload: ${detail}`;
  }
}

/** The retry in progress, e.g. "Connection lost, retrying in 4 s"; `remainingMs` counts down. */
export function describeRetry(event: Pick<RetryEvent, 'kind' | 'error'>, remainingMs: number): string {
  const when = remainingMs > 0 ? `retrying in ${formatDuration(remainingMs / 1000)}` : 'retrying now';
  switch (event.kind) {
    case 'unreachable':
      return `Connection lost, ${when}…`;
    case 'corrupt':
      return `A chunk was damaged on the way, resending it…`;
    case 'busy':
      return `The server is busy with a chunk, ${when}…`;
    default: {
      const problem = problemOf(event.error);
      const why = problem ? `${problem.message}` : event.error instanceof Error ? event.error.message : 'unknown error';
      return `The server had a problem (${why}), ${when}…`;
    }
  }
}
