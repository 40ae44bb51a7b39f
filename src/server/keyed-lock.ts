// An in-process exclusive lock per key: one writer per chunk at a time within this server process.

export class KeyedLock {
  private readonly held = new Set<string>();

  /** Takes the lock for `key` if free; returns a release function, or undefined when it is held. */
  tryAcquire(key: string): (() => void) | undefined {
    if (this.held.has(key)) return undefined;
    this.held.add(key);
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
