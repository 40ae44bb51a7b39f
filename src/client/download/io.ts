// What the download engine needs from the platform to hold a file being downloaded: the `.part` file
// written at offsets and the sidecar state file beside it (Node: ../node/download-target.ts); and,
// optionally, a direct way to GET ranges without web streams (Node: node/range-transport.ts).

/** The `.part` file: the destination's bytes as they arrive, at their final offsets. */
export interface PartFile {
  /**
   * Writes `parts`, one after another, at `offset`. Parts as they came off the network: joining them
   * into one buffer first would copy every byte once more (and churn the garbage collector).
   */
  write(offset: number, parts: readonly Uint8Array[]): Promise<void>;
  /** Bytes [start, end) as written (for a whole-file digest of a file written out of order). */
  read(start: number, end: number): Promise<Uint8Array>;
  /** Makes every completed write durable (fdatasync) before the sidecar may say so. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface DownloadTarget {
  /** Where the finished file goes (for messages and the result). */
  readonly path: string;
  /** The sidecar's text, or null when there is none. */
  readState(): Promise<string | null>;
  /** Replaces the sidecar atomically (temp file + rename), so a crash leaves the old or the new one. */
  writeState(text: string): Promise<void>;
  /**
   * 'fresh': creates or truncates the `.part` and sizes it to `size` (sparse; null = unknown, grows).
   * 'resume': opens the existing `.part`; null when it is missing or not `size` bytes long.
   */
  openPart(size: number | null, mode: 'fresh' | 'resume'): Promise<PartFile | null>;
  /** Moves the finished `.part` (closed, synced) into place, then removes the sidecar. */
  commit(): Promise<void>;
  /** Deletes the `.part` and the sidecar (either may be missing). */
  discard(): Promise<void>;
}

/**
 * A platform's fast path for the range GETs that carry a download's bytes: the body is handed over in
 * the buffers it was read into, without a web stream and without a fresh allocation per read. Without
 * one (or for URLs it does not handle) ranges go through `fetch` like every other request.
 */
export interface RangeTransport {
  /** Whether this transport can GET `url` (e.g. http: only). */
  handles(url: string): boolean;
  /**
   * Sends `GET url` with exactly `headers`; resolves once the response head is in (1xx skipped).
   * Transport failures reject (any error; the engine classifies them); an abort of `signal`
   * rejects with its reason and drops the connection, also while the body is being read.
   */
  get(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<RangeReply>;
}

export interface RangeReply {
  /** Status and headers (its own body is null: the bytes come through `body`). */
  response: Response;
  body: RangeBody;
}

/** The body of one RangeReply, read once. */
export interface RangeBody {
  /**
   * Hands every part of the body to `onPart`, in order, as it arrives; resolves once the body is
   * complete (as framed by the response), rejects when the connection fails or closes before. If
   * `onPart` throws, reading stops, the connection is dropped and the promise rejects with that error.
   * Parts are lent: their memory stays the caller's until it gives them back with `release`.
   * `lentLimit`: reading pauses while more than this many bytes of the body's parts are lent (so
   * a disk slower than the network holds the connection back rather than filling memory); only for
   * a caller that gives parts back without waiting for later ones.
   */
  read(onPart: (part: Uint8Array) => void, options?: { lentLimit?: number }): Promise<void>;
  /** Gives a part back (written, hashed, no longer needed): its memory may hold later bytes. Idempotent. */
  release(part: Uint8Array): void;
  /** Drops what is left of the body (the connection is closed unless the body was complete). */
  cancel(): void;
}
