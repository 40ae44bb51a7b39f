// Errors a blob store raises that the server acts on, whatever the backend.

/**
 * The bytes a store holds for an upload are not the ones its chunks were recorded with (on S3: a
 * part's ETag differs from the recorded receipt, or a part is missing), so it cannot be assembled
 * into the file the client sent. The server fails the upload rather than keep retrying it.
 */
export class StoredBytesMismatch extends Error {
  override readonly name = 'StoredBytesMismatch';
}
