// pause()/resume() as a gate that work checks before starting something new.

export class PauseGate {
  private isPaused = false;
  private waiters: Array<() => void> = [];

  get paused(): boolean {
    return this.isPaused;
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Calls `fn` once when resumed (at once when not paused). */
  onResume(fn: () => void): void {
    if (this.isPaused) this.waiters.push(fn);
    else fn();
  }

  /** Resolves when not paused; rejects if `signal` aborts first. */
  wait(signal?: AbortSignal): Promise<void> {
    if (!this.isPaused) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
