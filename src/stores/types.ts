// The two storage interfaces the server stands on: metadata (source of truth) and blobs (bytes).
import type { DigestAlgorithm, UploadState } from '../protocol/index.js';

export interface UploadRecord {
  id: string;
  state: UploadState;
  name: string;
  size: number;
  chunkSize: number;
  totalChunks: number;
  algorithm: DigestAlgorithm;
  /** Declared whole-file digest ("sha-256=:...:") or null. */
  fileDigest: string | null;
  metadata: Record<string, unknown>;
  /** Opaque handle the blob store returned from begin() (a path, an S3 upload id...). */
  blobHandle: string;
  chunksReceived: number;
  bytesReceived: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  fileId: string | null;
  /** The identity that created it ('anonymous' in open mode); only it (or an admin) may touch it. */
  owner: string;
  /** The signed grant (its jti) whose upload budget this upload counts against, or null. */
  grantId: string | null;
  /**
   * How its bytes arrive. 'ferry': Ferry's own protocol, chunks in any order (PUT .../chunks/{i}).
   * 'tus' / 'ietf': an ordered byte stream appended at an offset (tus 1.0 or the IETF resumable-upload
   * draft), cut into the same chunks by src/server/streams/ (chunks are then recorded in order).
   */
  protocol: UploadProtocol;
  /**
   * 'file': completes into a file once every chunk is in. 'part': a tus partial upload (concatenation
   * extension) whose bytes become part of another upload's file; it never completes on its own.
   */
  role: UploadRole;
  /**
   * tus creation-defer-length: the length is not known yet, and `size` / `totalChunks` are the most it
   * may become (totalChunks x chunkSize) until advanceStream() sets the real ones.
   */
  lengthDeferred: boolean;
  /**
   * Stream uploads: bytes of chunk `chunksReceived` (the next chunk) already durable in the blob
   * store's staging (BlobStore.stageChunk); always 0 for Ferry-protocol uploads. The stream's offset
   * is chunksReceived x chunkSize + stagedBytes.
   */
  stagedBytes: number;
  /**
   * tus concatenation: the partial uploads (ids, in order) this final upload was made of, as its
   * creation named them; null for every other upload.
   */
  concatOf: string[] | null;
}

export type UploadProtocol = 'ferry' | 'tus' | 'ietf';
export type UploadRole = 'file' | 'part';

/** One step of a stream upload (tus / IETF), applied by UploadStore.advanceStream() atomically. */
export interface StreamStep {
  /**
   * Where the writer started: the upload's chunksReceived and stagedBytes when it read it. Nothing
   * changes (outcome 'moved') if they differ now.
   */
  from: { chunksReceived: number; stagedBytes: number };
  /** The stream writer's claim (index streamWriterClaim, -2) must still carry this token ('claim-lost' otherwise). */
  claimToken: string;
  /** Chunks stored since, in order: indexes from.chunksReceived, from.chunksReceived + 1, ... (may be empty). */
  chunks: ChunkRecord[];
  /** Bytes now staged for the chunk after them (becomes the upload's stagedBytes). */
  stagedBytes: number;
  /**
   * The length, once a deferred one is known: the upload's size and totalChunks become these and
   * lengthDeferred false; chunk gaps past the new last chunk are dropped. Only when lengthDeferred.
   */
  length?: { size: number; totalChunks: number };
  /** The upload's new expiry (sliding, as recordChunk). */
  expiresAt: number;
}

export type AdvanceResult =
  /** Applied; `upload` is the record after it. */
  | { outcome: 'advanced'; upload: UploadRecord }
  /** Its counters are no longer `from` (another writer moved the stream): nothing changed; `upload` is as it is now. */
  | { outcome: 'moved'; upload: UploadRecord }
  /** Not 'uploading' any more (or gone: state undefined): nothing changed. */
  | { outcome: 'closed'; state: UploadState | undefined }
  /** The writer's claim was taken over: nothing changed. */
  | { outcome: 'claim-lost' };

export interface ChunkRecord {
  index: number;
  size: number;
  /** "sha-256=:...:" */
  digest: string;
  /** What the blob store returned for the chunk (e.g. an S3 part ETag); '' when nothing. */
  receipt: string;
}

export interface FileRecord {
  id: string;
  uploadId: string;
  name: string;
  size: number;
  chunkSize: number;
  totalChunks: number;
  algorithm: DigestAlgorithm;
  fileDigest: string | null;
  /** Strong entity tag (quoted), derived from the chunk digests: names these exact bytes. */
  etag: string;
  metadata: Record<string, unknown>;
  /** Opaque reference the blob store returned from complete(). */
  blobRef: string;
  createdAt: number;
  /** The identity that uploaded it. */
  owner: string;
}

/** Chunk indexes first to last, inclusive. */
export interface IndexRange {
  first: number;
  last: number;
}

/** A file's manifest stored as bytes: `parts` pieces (0 to parts - 1) of `bytes` bytes in all. */
export interface StoredManifest {
  parts: number;
  bytes: number;
}

export type RecordChunkResult =
  | { outcome: 'recorded'; chunksReceived: number; bytesReceived: number }
  /** The chunk was already recorded; `existing` is what is stored (compare digests). */
  | { outcome: 'exists'; existing: ChunkRecord }
  /** The upload is no longer accepting chunks. */
  | { outcome: 'closed'; state: UploadState }
  /** The writer's claim on the chunk was taken over (it stalled past its lease): nothing was recorded. */
  | { outcome: 'claim-lost' };

/** A chunk part-way in: its first `bytes` bytes are staged (a cut body's, kept for the client to continue). */
export interface StagedChunk {
  index: number;
  bytes: number;
}

/** Uploads, their received chunks, per-chunk write claims, and finished files. Times are epoch ms. */
export interface UploadStore {
  /** Stores a new upload, every chunk missing; `events` go into the webhook outbox in the same transaction. */
  createUpload(upload: UploadRecord, events?: WebhookDelivery[]): Promise<void>;
  /** What the uploads in progress (state 'uploading') hold now: those counted under `key`, and everyone's. */
  reservations(key: string): Promise<Reservations>;
  /**
   * Stores a new upload (as createUpload) only if, with it counted under `limits.key`, the uploads in
   * progress stay within every limit, atomically: two concurrent creates cannot both take the last room.
   * Returns the reservations before it, and the first limit it would have passed when refused.
   */
  createUploadWithin(upload: UploadRecord, limits: ReservationLimits, events?: WebhookDelivery[]): Promise<ReservationResult>;
  getUpload(uploadId: string): Promise<UploadRecord | undefined>;
  /**
   * Received chunks of an upload, ascending by index; with `page`, only those from index `from` on,
   * at most `limit` of them (so a caller can walk a large upload a bounded piece at a time).
   */
  listChunks(uploadId: string, page?: { from: number; limit: number }): Promise<ChunkRecord[]>;
  /**
   * The chunk indexes an upload has not received yet, as inclusive ranges ascending, those starting
   * after index `after` (-1 for all), at most `limit` ranges. Kept up to date by createUpload and
   * recordChunk, so the cost is the number of gaps, never the number of chunks. [] for an unknown upload.
   */
  listMissing(uploadId: string, after: number, limit: number): Promise<IndexRange[]>;
  getChunk(uploadId: string, index: number): Promise<ChunkRecord | undefined>;
  /**
   * Takes the exclusive right to write chunk `index` until `expiresAt` (or until released): a lease
   * every node respects. Returns false while another token's unexpired claim holds it; an expired
   * claim is taken over; claiming again with the held token extends it. Index -1 is the upload's
   * completion: whoever holds it assembles the file.
   */
  claimChunk(uploadId: string, index: number, token: string, expiresAt: number): Promise<boolean>;
  /**
   * Extends the claim to `expiresAt` only if it still carries `token` (expired or not): false once it
   * was taken over or released, so a writer that stalled learns it lost the chunk and never re-takes
   * one that another writer finished and let go.
   */
  renewChunk(uploadId: string, index: number, token: string, expiresAt: number): Promise<boolean>;
  releaseChunk(uploadId: string, index: number, token: string): Promise<void>;
  /**
   * Bytes of chunk `index` staged in the blob store by earlier writers whose bodies were cut (see
   * keepStaged); 0 when none. The writer holding the chunk's claim reads it to continue the chunk.
   */
  stagedBytes(uploadId: string, index: number): Promise<number>;
  /**
   * A writer whose body was cut keeps its first `bytes` bytes: records the count on the chunk's claim
   * and gives the claim up in the same step (the row stays, expired and without a holder, so the next
   * writer's claimChunk takes it over with the count). Only while the claim carries `token`; false
   * otherwise, and nothing changes. releaseChunk() (a writer that failed otherwise) drops the count,
   * as recordChunk() does when the chunk is stored.
   */
  keepStaged(uploadId: string, index: number, token: string, bytes: number): Promise<boolean>;
  /** Chunks (index ≥ 0) with bytes staged and not yet recorded, by index, at most `limit` of them. */
  listStaged(uploadId: string, limit: number): Promise<StagedChunk[]>;
  /**
   * Records a verified, durable chunk (only while the upload is uploading), updates the counters and
   * the missing ranges and slides the expiry to `expiresAt`, atomically. With `claimToken`, only if
   * the chunk's claim still carries that token (else 'claim-lost', nothing recorded): a writer whose
   * lease was taken over never records bytes another writer may have replaced.
   */
  recordChunk(uploadId: string, chunk: ChunkRecord, expiresAt: number, claimToken?: string): Promise<RecordChunkResult>;
  /**
   * Stream uploads (tus / IETF): records `step.chunks`, sets stagedBytes, and (with step.length) the
   * final length, and slides the expiry, all in one transaction, only while the upload is 'uploading',
   * its counters are still `step.from` and the stream writer's claim carries `step.claimToken`.
   * Counters, missing ranges and bytesReceived change exactly as recordChunk() would for each chunk.
   */
  advanceStream(uploadId: string, step: StreamStep): Promise<AdvanceResult>;
  /**
   * Moves an upload from one of `from` to `to` (with optional field changes); returns false when its
   * state was not in `from`. This is how exactly one request wins completion, abort or expiry.
   * `events` (the webhook deliveries reporting the change) are written with it, only if it happens.
   */
  transition(uploadId: string, from: UploadState[], to: UploadState, patch?: TransitionPatch, events?: WebhookDelivery[]): Promise<boolean>;
  /** Drops the chunk rows, claims and gaps of a finished, aborted or expired upload (the upload row stays). */
  forgetChunks(uploadId: string): Promise<void>;
  createFile(file: FileRecord): Promise<void>;
  getFile(fileId: string): Promise<FileRecord | undefined>;
  /**
   * Stores part `part` of a file's serialised manifest (replacing one stored before: parts are
   * deterministic, so two writers agree). False, storing nothing, when there is no such file.
   */
  putManifestPart(fileId: string, part: number, data: Uint8Array): Promise<boolean>;
  /** Declares a file's manifest whole (every part written); false when there is no such file. */
  sealManifest(fileId: string, manifest: StoredManifest): Promise<boolean>;
  /** A file's sealed manifest: how many parts, how many bytes in all; undefined until sealed. */
  getManifest(fileId: string): Promise<StoredManifest | undefined>;
  getManifestPart(fileId: string, part: number): Promise<Uint8Array | undefined>;
  /** Newest first (createdAt, then id), after `after` when given; only `owner`'s when given. */
  listFiles(query: FileQuery): Promise<FileRecord[]>;
  /**
   * Removes a file's record (with its stored manifest) and its upload's row and chunk rows, atomically; returns the record that
   * was removed (its blobRef is the caller's to delete), or undefined when it was already gone.
   * `events` are written with the removal, only if it happens.
   */
  deleteFile(fileId: string, events?: WebhookDelivery[]): Promise<FileRecord | undefined>;
  /** Uploads in `state` whose expiresAt is before `now` (state 'uploading' = due for expiry). */
  listDue(state: UploadState, now: number, limit: number): Promise<UploadRecord[]>;
  /**
   * Uploads whose completion has to be run or finished: state 'completing', or every chunk received
   * and still 'uploading' (a crash between the last chunk and the change to 'completing'), never a
   * role 'part' upload (it completes only as part of another) nor one whose length is deferred.
   */
  listUnfinished(limit: number): Promise<UploadRecord[]>;
  /** Deletes the upload row entirely (after its tombstone retention). */
  deleteUpload(uploadId: string): Promise<void>;
  close(): Promise<void>;
}

/** What uploads in progress reserve: every declared size counts until the upload completes or ends. */
export interface Reservations {
  /** Uploads in progress counted under the key (an identity, or a client address in open mode). */
  uploads: number;
  /** Their declared bytes. */
  bytes: number;
  /** Declared bytes of everyone's uploads in progress. */
  totalBytes: number;
  /** Bytes everyone's uploads in progress have yet to receive: what they will still take on disk. */
  pendingBytes: number;
}

/** Limits checked when an upload is created; null: no limit. */
export interface ReservationLimits {
  /** Whom the upload counts against (stored with it): an identity, or a client address in open mode. */
  key: string;
  maxUploads: number | null;
  maxBytes: number | null;
  maxTotalBytes: number | null;
  /** Room on disk for what uploads in progress have yet to receive, the new upload's whole size included. */
  maxPendingBytes: number | null;
}

export type ReservationLimit = 'uploads' | 'bytes' | 'total-bytes' | 'pending-bytes';

export type ReservationResult = { ok: true; reserved: Reservations } | { ok: false; limit: ReservationLimit; reserved: Reservations };

export interface FileQuery {
  limit: number;
  owner?: string;
  /** Only files strictly older than this position (the last row of the previous page). */
  after?: { createdAt: number; id: string };
  /** Only files created before this time (epoch ms): for retention sweeps. */
  createdBefore?: number;
}

export type Role = 'user' | 'admin';

export interface ApiKeyRecord {
  /** Public part of the key (also in the key text); the row's primary key. */
  id: string;
  /** SHA-256 of the secret part, base64url: the key itself is never stored. */
  secretHash: string;
  identity: string;
  role: Role;
  label: string;
  createdAt: number;
  revokedAt: number | null;
}

/** API keys for servers and scripts. */
export interface ApiKeyStore {
  createApiKey(key: ApiKeyRecord): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Marks a key revoked (from `at`); false when no such key or already revoked. */
  revokeApiKey(id: string, at: number): Promise<boolean>;
}

/** What a signed grant has used of its upload budget. */
export interface GrantUsage {
  bytes: number;
  files: number;
}

/** Budgets of signed grants (declared bytes and files created under each grant id). */
export interface GrantLedger {
  /**
   * Adds `bytes` and one file to grant `grantId`'s usage if the result stays within the limits
   * (maxFiles null: no limit), atomically; returns the usage before, and whether it was taken.
   * `expiresAt` is when the row may be forgotten (the grant's own expiry).
   */
  reserveGrant(grantId: string, bytes: number, limits: { maxBytes: number; maxFiles: number | null }, expiresAt: number): Promise<{ ok: boolean; used: GrantUsage }>;
  /**
   * Gives back what an upload that never became a file had reserved: `bytes`, and `files` files (1
   * unless said; 0 when an upload only gives back bytes it no longer needs, a deferred length now known).
   */
  releaseGrant(grantId: string, bytes: number, files?: number): Promise<void>;
  /** Forgets ledger rows of grants that expired before `now`. */
  purgeGrants(now: number): Promise<number>;
}

/** A secret the servers sharing this store agree on (e.g. the key share links are signed with). */
export interface SecretStore {
  /** The secret named `name`, created from `create()` the first time (once, even with several nodes). */
  sharedSecret(name: string, create: () => string): Promise<string>;
}

/** A webhook delivery: one event for one endpoint, kept until delivered or given up. */
export interface WebhookDelivery {
  /** The event's id (the webhook-id header): the same for every attempt and every endpoint. */
  eventId: string;
  endpoint: string;
  type: string;
  /** The JSON body, exactly as signed and sent. */
  payload: string;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number;
}

/** The webhook outbox: events written with the change they report, delivered at least once. */
export interface WebhookOutbox {
  enqueueDeliveries(deliveries: WebhookDelivery[]): Promise<void>;
  /**
   * Hands out up to `limit` deliveries due at `now` and leases them until `leaseUntil`: no other
   * caller (another node, or this one after a restart) gets them again before the lease ends.
   */
  claimDeliveries(now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]>;
  /** Delivered: removed from the outbox. */
  deliveryDone(eventId: string, endpoint: string): Promise<void>;
  /** Failed: tried again at `nextAttemptAt` (attempts counted), or dropped when `nextAttemptAt` is null. */
  deliveryFailed(eventId: string, endpoint: string, nextAttemptAt: number | null, error: string): Promise<void>;
}

/** Named leases: work that one node at a time should do (the sweep), taken over when its holder dies. */
export interface LeaseStore {
  /**
   * Takes (or, by the same `holder`, renews) lease `name` until `expiresAt`; false while another
   * holder's unexpired lease has it.
   */
  claimLease(name: string, holder: string, expiresAt: number): Promise<boolean>;
  /** Gives lease `name` up if `holder` has it. */
  releaseLease(name: string, holder: string): Promise<void>;
}

/** Everything the server keeps in its metadata store, the source of truth every node shares. */
export interface MetaStore extends UploadStore, ApiKeyStore, GrantLedger, SecretStore, WebhookOutbox, LeaseStore {}

/** Where a chunk goes: its index and byte range in the final file. */
export interface ChunkPlace {
  index: number;
  offset: number;
  length: number;
}

export interface BlobStoreOptions {
  signal?: AbortSignal;
  /**
   * The SHA-256 the chunk's bytes must have (base64), when the client declared one: a store whose
   * service checks checksums passes it on (S3's x-amz-checksum-sha256), so the service refuses bytes
   * that went wrong between Ferry and it. Ferry verifies the bytes itself either way.
   */
  sha256?: string;
}

export interface ReadOptions extends BlobStoreOptions {
  /**
   * The caller is done with each piece (hashed it, or its socket has taken it) before it asks for the
   * next, and with the last one when it stops iterating (however it stops), so the store may read
   * every piece into the same memory, and give that memory to a later read, instead of allocating.
   */
  reuseBuffers?: boolean;
  /**
   * Lends the memory pieces are read into (the server's response-buffer budget): one buffer is
   * borrowed before each read and given back when the caller asks for the next piece or stops, so
   * the caller holds at most one, no piece is longer than its buffer, and a read waits when none is free.
   */
  buffers?: BufferLender;
}

/** Memory lent for reads; see ReadOptions.buffers. */
export interface BufferLender {
  /** A buffer for a piece of at most `want` bytes (it may be shorter); may wait; rejects when `signal` aborts. */
  borrow(want: number, signal?: AbortSignal): Promise<Buffer>;
  giveBack(buffer: Buffer): void;
}

/** Field changes and extra conditions of a transition. */
export interface TransitionPatch {
  fileId?: string;
  /**
   * Only if the upload is due for expiry at that time (epoch ms): its expiresAt <= dueBy and it still
   * misses a chunk (chunksReceived < totalChunks) or never completes by itself (role 'part', or a
   * deferred length). Checked in the same atomic step as the state, so a
   * chunk recorded after the sweeper listed the upload (sliding its expiry) or its last chunk keeps it.
   */
  dueBy?: number;
}

/** What a blob store can hold; the server's chunk sizes and counts follow it. */
export interface BlobLimits {
  /** Smallest chunk except the last (S3: 5 MiB parts). */
  minChunkSize: number;
  /** Most chunks an upload may have (S3: 10,000 parts). */
  maxChunks: number;
  /** Largest chunk (S3: 5 GiB parts); absent: no limit of the store's own. */
  maxChunkSize?: number;
}

/** An incomplete upload's storage, as the blob store sees it. */
export interface IncompleteBlob {
  uploadId: string;
  handle: string;
  /** When its storage was begun (epoch ms): recovery leaves young ones alone, another node may be creating them. */
  startedAt: number;
}

/** What stageChunk() kept. */
export interface StagedResult {
  /** Bytes of the chunk now durable in staging: `have` plus those the body yielded. */
  staged: number;
  /** When `staged` is the whole chunk: the chunk is stored, and this is what putChunk would have returned. */
  receipt: string | null;
  /** The body's error when it failed part-way (the bytes it yielded before are kept all the same). */
  failure?: unknown;
}

/** Chunk bytes and assembled files. The metadata store, not this, says which chunks are received. */
export interface BlobStore {
  /** Limits of the service behind it; absent: none beyond the protocol's. */
  readonly limits?: BlobLimits;
  /**
   * stageChunk() writes bytes where they stay, as fast as putChunk() and without holding them (a
   * local file): the server then stages every chunk it receives, so a cut body keeps what arrived and
   * its client continues the chunk. Absent: cut chunks are sent again whole (S3 would buffer each chunk).
   */
  readonly stagesInPlace?: boolean;
  /**
   * Prepares storage for a new upload of `size` bytes; returns an opaque handle. `size` 0 with many
   * chunks is valid: a stream upload whose length is deferred (its storage grows as chunks arrive).
   */
  begin(uploadId: string, size: number, totalChunks: number): Promise<string>;
  /**
   * Writes exactly `place.length` bytes from `body` as chunk `place.index`, durable (fsync when on)
   * before it resolves. Returns a receipt to pass back to complete(). Rejects if `body` fails.
   */
  putChunk(handle: string, place: ChunkPlace, body: AsyncIterable<Uint8Array>, options?: BlobStoreOptions): Promise<string>;
  /**
   * Stream uploads (tus / IETF), where a chunk may arrive across several requests: writes `body` as
   * the chunk's bytes from `have` on, after the first `have` bytes staged by earlier calls (0: none;
   * bytes staged past `have` by an earlier call are overwritten). The body never yields more than
   * place.length - have bytes. Resolves once every byte the body yielded is durable, also when the
   * body fails part-way (a cut connection: `failure` says why). When the chunk is whole the chunk is
   * stored as by putChunk, with its receipt. Rejects only when the store itself fails.
   * A store that cannot append in place (S3) may hold the new bytes in memory, up to place.length.
   */
  stageChunk(handle: string, place: ChunkPlace, have: number, body: AsyncIterable<Uint8Array>, options?: BlobStoreOptions): Promise<StagedResult>;
  /** The first `length` bytes staged for chunk `place` (to hash them when the chunk is continued). */
  readStaged(handle: string, place: ChunkPlace, length: number, options?: BlobStoreOptions): AsyncIterable<Uint8Array>;
  /**
   * Turns the received chunks into one file without copying bytes; returns the file's reference.
   * Idempotent: called again after it succeeded (a completion retried after a crash, or by another
   * node), it returns the same reference.
   */
  complete(handle: string, fileId: string, receipts: string[]): Promise<string>;
  /**
   * The reference complete() gives (or would give) for this upload, without touching storage: what
   * recovery deletes when an assembled file failed its check, without assembling it again.
   */
  fileRefOf(handle: string, fileId: string): string;
  /** Streams bytes [start, end) of a completed file. */
  read(fileRef: string, start: number, end: number, options?: ReadOptions): AsyncIterable<Uint8Array>;
  /**
   * Every incomplete upload whose storage exists, with the upload id it was begun for: what recovery
   * after a crash compares with the metadata to free what no upload is using any more.
   */
  listIncomplete(): Promise<IncompleteBlob[]>;
  /** Frees an incomplete upload's storage; no error if already gone. */
  abort(handle: string): Promise<void>;
  /** Deletes a completed file; no error if already gone. */
  deleteFile(fileRef: string): Promise<void>;
  /** Bytes free for new data where this store keeps it (and the volume's size), or null when it cannot tell. */
  freeSpace?(): Promise<{ available: number; total: number } | null>;
  close(): Promise<void>;
}
