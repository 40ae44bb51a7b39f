// An in-process exclusive lock per key: one writer per chunk at a time within this server process.

export class KeyedLock {
  private readonly held = new Set<string>();
  /** The most keys held at once since start: how many chunks were written concurrently. */
  peak = 0;

  /** Takes the lock for `key` if free; returns a release function, or undefined when it is held. */
  tryAcquire(key: string): (() => void) | undefined {
    if (this.held.has(key)) return undefined;
    this.held.add(key);
    this.peak = Math.max(this.peak, this.held.size);
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.held.delete(key);
      }
    };
  }

  get size(): number {
    return this.held.size;
  }
}
