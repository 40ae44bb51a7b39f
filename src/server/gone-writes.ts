// Chunk writes in this process, by upload, so a status request can wait for those whose client has
// gone: they are still staging what arrived and giving up their lease. A client asks for status right
// after its connection broke; answered before, status would not list the bytes it can continue from,
// and its retry would meet the lease ("chunk-in-progress"). Process-local: another node's writes are
// not waited for (their status is as of the answer, as ever).
import type { Socket } from 'node:net';

interface Write {
  socket: Socket;
  done: Promise<unknown>;
}

export class GoneWrites {
  readonly #byUpload = new Map<string, Set<Write>>();

  /** Tracks `work` (a chunk write for `uploadId` over `socket`) until it settles. */
  track(uploadId: string, socket: Socket, work: Promise<unknown>): void {
    const write: Write = { socket, done: work.then(noop, noop) };
    let set = this.#byUpload.get(uploadId);
    if (!set) this.#byUpload.set(uploadId, (set = new Set()));
    set.add(write);
    void write.done.then(() => {
      set.delete(write);
      if (set.size === 0 && this.#byUpload.get(uploadId) === set) this.#byUpload.delete(uploadId);
    });
  }

  /**
   * Waits, at most `ms`, for the upload's writes whose client has gone (its connection closed, or
   * ended its side: the server could still answer) to settle; false: there were none.
   */
  async settle(uploadId: string, ms: number): Promise<boolean> {
    const gone = [...(this.#byUpload.get(uploadId) ?? [])].filter((w) => w.socket.destroyed || w.socket.readableEnded).map((w) => w.done);
    if (gone.length === 0) return false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    });
    await Promise.race([Promise.all(gone), deadline]);
    clearTimeout(timer);
    return true;
  }
}

function noop(): void {}
