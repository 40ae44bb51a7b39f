// Progress accounting: bytes acknowledged and in flight, an EWMA rate, ETA, chunks done, concurrency.
// Pure: time is passed in. Which chunks are done lives here too, so nothing is counted twice.

export type TransferPhase = 'starting' | 'transferring' | 'paused' | 'completing' | 'done';

export interface Progress {
  phase: TransferPhase;
  totalBytes: number;
  /** Bytes the server acknowledged (including chunks it had before this session). */
  bytesAcked: number;
  /** Bytes of requests on the wire now. */
  bytesInFlight: number;
  /** Bytes put on the wire this session, retries included. */
  bytesSent: number;
  totalChunks: number;
  chunksDone: number;
  /** Bytes per second, smoothed; null before the first acknowledgement of this session. */
  rate: number | null;
  /** Seconds left at the current rate; null when unknown. */
  etaSeconds: number | null;
  /** The in-flight limit now, and how many requests are actually in flight. */
  concurrency: number;
  inFlight: number;
}

export interface ProgressOptions {
  /** Time constant of the rate's exponential smoothing. */
  rateHalfLifeMs: number;
}

export class ProgressTracker {
  private readonly done = new Set<number>();
  private readonly halfLifeMs: number;
  private phase: TransferPhase = 'starting';
  private totalBytes = 0;
  private totalChunks = 0;
  private bytesAcked = 0;
  private bytesInFlight = 0;
  private bytesSent = 0;
  private inFlight = 0;
  private concurrency = 0;
  private rate: number | null = null;
  private lastSampleAt: number | null = null;

  constructor(options: Partial<ProgressOptions> = {}) {
    this.halfLifeMs = options.rateHalfLifeMs ?? 3000;
  }

  /** Sets the size of the transfer; `now` starts the rate clock. */
  plan(totalBytes: number, totalChunks: number, now: number): void {
    this.totalBytes = totalBytes;
    this.totalChunks = totalChunks;
    this.lastSampleAt = now;
  }

  setPhase(phase: TransferPhase): void {
    this.phase = phase;
  }

  setConcurrency(limit: number, inFlight: number = this.inFlight): void {
    this.concurrency = limit;
    this.inFlight = inFlight;
  }

  isDone(index: number): boolean {
    return this.done.has(index);
  }

  /** A request carrying `bytes` went on the wire. */
  sending(bytes: number): void {
    this.bytesInFlight += bytes;
    this.bytesSent += bytes;
  }

  /** A request carrying `bytes` finished (acknowledged or not). */
  sent(bytes: number): void {
    this.bytesInFlight = Math.max(0, this.bytesInFlight - bytes);
  }

  /**
   * Chunk `index` of `bytes` is on the server. `measured`: it travelled in this session (counts
   * toward the rate); false for chunks found there on resume. Returns false if it was already done.
   */
  chunkDone(index: number, bytes: number, now: number, measured: boolean): boolean {
    if (this.done.has(index)) return false;
    this.done.add(index);
    this.bytesAcked += bytes;
    if (measured) this.sample(bytes, now);
    return true;
  }

  private sample(bytes: number, now: number): void {
    const last = this.lastSampleAt ?? now;
    const dt = Math.max(now - last, 1);
    this.lastSampleAt = now;
    const instant = (bytes * 1000) / dt;
    if (this.rate === null) {
      this.rate = instant;
      return;
    }
    // Continuous-time EWMA: bursts of acknowledgements close together weigh little each.
    const alpha = 1 - Math.pow(0.5, dt / this.halfLifeMs);
    this.rate = alpha * instant + (1 - alpha) * this.rate;
  }

  snapshot(): Progress {
    const remaining = this.totalBytes - this.bytesAcked;
    const etaSeconds =
      remaining <= 0 ? 0 : this.rate !== null && this.rate > 0 ? Math.ceil(remaining / this.rate) : null;
    return {
      phase: this.phase,
      totalBytes: this.totalBytes,
      bytesAcked: this.bytesAcked,
      bytesInFlight: this.bytesInFlight,
      bytesSent: this.bytesSent,
      totalChunks: this.totalChunks,
      chunksDone: this.done.size,
      rate: this.rate,
      etaSeconds,
      concurrency: this.concurrency,
      inFlight: this.inFlight,
    };
  }
}
