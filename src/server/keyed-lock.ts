// An in-process exclusive lock per chunk: one writer per chunk at a time within this server process.
// A holder whose body stopped arriving (a dead connection the socket has not noticed yet) can be taken
// over by a request with the same digest, the usual case of a client retrying after a timeout.

interface Holder {
  tag: string;
  lastActivity: number;
  abandon: () => void;
  released: Promise<void>;
}

export interface LockTicket {
  release(): void;
  /** Records that the holder's body is still arriving. */
  touch(): void;
}

export class KeyedLock {
  private readonly held = new Map<string, Holder>();
  /** The most keys held at once since start: how many chunks were written concurrently. */
  peak = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Takes the lock for `key`. When it is held by a request with the same `tag` that has been idle for
   * `stalledMs`, that request is abandoned and this one waits for it to let go. Otherwise returns
   * undefined while it is held.
   */
  async acquire(key: string, tag: string, abandon: () => void, stalledMs: number): Promise<LockTicket | undefined> {
    for (;;) {
      const holder = this.held.get(key);
      if (!holder) return this.take(key, tag, abandon);
      if (holder.tag !== tag || this.now() - holder.lastActivity < stalledMs) return undefined;
      holder.abandon();
      await holder.released;
    }
  }

  private take(key: string, tag: string, abandon: () => void): LockTicket {
    let done!: () => void;
    const holder: Holder = { tag, lastActivity: this.now(), abandon, released: new Promise((r) => (done = r)) };
    this.held.set(key, holder);
    this.peak = Math.max(this.peak, this.held.size);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.held.delete(key);
        done();
      },
      touch: () => {
        holder.lastActivity = this.now();
      },
    };
  }

  get size(): number {
    return this.held.size;
  }
}
