// Where an S3 blob store keeps things: object keys under its prefix, and the handles naming multipart uploads.
//
// Layout, under the store's prefix (e.g. "ferry/"):
//   <prefix>uploads/<uploadId>   one Ferry upload = one S3 multipart upload at this key (chunk i = part i + 1);
//                                CompleteMultipartUpload turns it into an object at the same key.
//   <prefix>staged/<uploadId>/<index>
//                                a stream upload's chunk `index` begun but not yet whole (BlobStore.stageChunk):
//                                a plain object holding its first bytes. Outside uploads/, so neither taken
//                                for a file nor listed as an upload; complete() and abort() delete them.
// S3 cannot assemble a multipart upload under another key, so the key never changes: an upload in
// progress exists only as a multipart upload (ListMultipartUploads), a finished file only as an object
// (ListObjectsV2). That is how the two are told apart, and why recovery can list what is incomplete
// without ever seeing a finished file. A file's reference is its key.

/** A multipart upload: the object key it will become and S3's id for it. */
export interface UploadTarget {
  key: string;
  uploadId: string;
}

export class S3Layout {
  /** The prefix, '' or ending in '/'. */
  readonly prefix: string;
  readonly uploadsPrefix: string;
  readonly stagedPrefix: string;

  constructor(prefix = '') {
    const trimmed = prefix.replace(/^\/+/, '');
    this.prefix = trimmed === '' || trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
    this.uploadsPrefix = `${this.prefix}uploads/`;
    this.stagedPrefix = `${this.prefix}staged/`;
  }

  keyOf(uploadId: string): string {
    if (uploadId === '' || /[/\\\0\n]/.test(uploadId) || uploadId.includes('..')) {
      throw new Error(`Refusing upload id ${JSON.stringify(uploadId)}: it must be a plain name.`);
    }
    return this.uploadsPrefix + uploadId;
  }

  /** Where the staged chunks of the upload at `key` (under uploads/) are kept: every key under it is one. */
  stagingPrefixOf(key: string): string {
    const uploadId = this.uploadIdOf(key);
    if (uploadId === null) throw new Error(`Refusing upload key ${JSON.stringify(key)}: it is not under ${JSON.stringify(this.uploadsPrefix)}.`);
    return `${this.stagedPrefix}${uploadId}/`;
  }

  /** The object holding the staged bytes of chunk `index` of the upload at `key`. */
  stagingKeyOf(key: string, index: number): string {
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`Invalid chunk index ${index}.`);
    return `${this.stagingPrefixOf(key)}${index}`;
  }

  /** The Ferry upload id a key under uploads/ was made for, or null for a key this store did not make. */
  uploadIdOf(key: string): string | null {
    if (!key.startsWith(this.uploadsPrefix)) return null;
    const id = key.slice(this.uploadsPrefix.length);
    return id === '' || id.includes('/') ? null : id;
  }

  /**
   * The handle stored with the upload: JSON with a fixed member order, so the one begin() returns and
   * the one listIncomplete() rebuilds from a listing are the same string (recovery compares them).
   */
  handleOf(target: UploadTarget): string {
    return JSON.stringify({ key: target.key, uploadId: target.uploadId });
  }

  parseHandle(handle: string): UploadTarget {
    let parsed: unknown;
    try {
      parsed = JSON.parse(handle);
    } catch {
      parsed = null;
    }
    const { key, uploadId } = (parsed ?? {}) as Partial<UploadTarget>;
    if (typeof key !== 'string' || typeof uploadId !== 'string' || uploadId === '') {
      throw new Error(`Not an S3 upload handle: ${JSON.stringify(handle.slice(0, 200))}.`);
    }
    this.checkKey(key, 'upload handle');
    return { key, uploadId };
  }

  /** Refuses a key outside this store's uploads/ (a reference from another store, or a corrupt row). */
  checkKey(key: string, what = 'file reference'): string {
    if (this.uploadIdOf(key) === null) {
      throw new Error(`Refusing ${what} ${JSON.stringify(key)}: it is not an object of this store (under ${JSON.stringify(this.uploadsPrefix)}).`);
    }
    return key;
  }
}
