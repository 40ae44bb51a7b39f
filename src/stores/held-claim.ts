// A claim in the metadata store held by this process: taken once, renewed on a timer while the
// holder wants it, given up at the end. Whoever holds an upload's completion claim (index -1) is
// the one assembling it; the server's completion and `ferry migrate` both hold it this way.
import type { MetaStore } from './types.js';

/** The claim index that stands for an upload's completion. */
export const completionClaim = -1;
/** The claim index that stands for a stream upload's (tus / IETF) single writer: one request appends at a time. */
export const streamWriterClaim = -2;

export interface HeldClaimOptions {
  /** Names the holder in the claim row. */
  token: string;
  leaseMs: number;
  now: () => number;
  /** Asked before each renewal: false lets the claim lapse (the holder has stopped working). */
  working?: () => boolean;
  /** Told of a renewal that failed with an error (the store could not be reached). */
  onError?: (error: unknown) => void;
}

export class HeldClaim {
  #timer: NodeJS.Timeout | undefined;
  #lost: unknown = null;
  #renewedAt: number;

  private constructor(
    private readonly meta: MetaStore,
    private readonly uploadId: string,
    private readonly index: number,
    private readonly o: HeldClaimOptions,
  ) {
    this.#renewedAt = o.now();
  }

  /** Takes the claim (or, free or lapsed, takes it over); undefined while another holder has it. */
  static async take(meta: MetaStore, uploadId: string, index: number, o: HeldClaimOptions): Promise<HeldClaim | undefined> {
    if (!(await meta.claimChunk(uploadId, index, o.token, o.now() + o.leaseMs))) return undefined;
    const held = new HeldClaim(meta, uploadId, index, o);
    held.#timer = setInterval(() => {
      if (held.#lost !== null || (o.working && !o.working())) return;
      held.renew().catch((error: unknown) => {
        // Whether it is still held cannot be told: count it lost (the holder stops rather than risk it).
        held.#lost ??= error;
        o.onError?.(error);
      });
    }, o.leaseMs / 3);
    held.#timer.unref();
    return held;
  }

  get token(): string {
    return this.o.token;
  }

  /** Whether it is known to be lost (taken over after it lapsed, or released by the upload's end). */
  get lost(): boolean {
    return this.#lost !== null;
  }

  /** When it was last renewed (or taken), by the holder's clock. */
  get renewedAt(): number {
    return this.#renewedAt;
  }

  /**
   * Extends it (only while it still carries this token: a claim taken over or dropped is never
   * re-created). False, and lost from then on, when it was.
   */
  async renew(): Promise<boolean> {
    if (this.#lost !== null) return false;
    const now = this.o.now();
    if (!(await this.meta.renewChunk(this.uploadId, this.index, this.o.token, now + this.o.leaseMs))) {
      this.#lost ??= new Error('the claim was taken over after it lapsed');
      return false;
    }
    this.#renewedAt = Math.max(this.#renewedAt, now);
    return true;
  }

  /** Throws when it is known to be lost: whoever took it over does the work. */
  check(): void {
    if (this.#lost !== null) throw this.#lost;
  }

  /** Stops renewing and gives it up (idempotent). Not fatal: a claim not given up lapses by itself. */
  async release(): Promise<void> {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.meta.releaseChunk(this.uploadId, this.index, this.o.token).catch((error: unknown) => this.o.onError?.(error));
  }
}
