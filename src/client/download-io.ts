// What the download engine needs from the platform to hold a file being downloaded: the `.part` file
// written at offsets and the sidecar state file beside it. Node implements it in node/download-target.ts.

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
