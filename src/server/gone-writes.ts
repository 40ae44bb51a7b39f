// Chunk writes in this process, by upload, so what follows a broken request can wait for it to wind
// down (stage what arrived, give up its lease) instead of racing it:
// - a status request waits for the writes whose client has gone: answered before, it would not list
//   the bytes the client can continue from;
// - a new request for the same chunk waits for the one before it: meeting its lease, its body would
//   be refused ("chunk-in-progress") and sent again.
// Process-local: another node's writes are not waited for (their status is as of the answer, as ever).
import type { Socket } from 'node:net';

interface Write {
  index: number;
  socket: Socket;
  done: Promise<unknown>;
}

export class GoneWrites {
  readonly #byUpload = new Map<string, Set<Write>>();

  /** Tracks `work` (a write of chunk `index` of `uploadId` over `socket`) until it settles. */
  track(uploadId: string, index: number, socket: Socket, work: Promise<unknown>): void {
    const write: Write = { index, socket, done: work.then(noop, noop) };
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
    return this.#wait(uploadId, ms, (w) => w.socket.destroyed || w.socket.readableEnded);
  }

  /** Waits, at most `ms`, for the writes of chunk `index` under way here; false: there were none. */
  async settleChunk(uploadId: string, index: number, ms: number): Promise<boolean> {
    return this.#wait(uploadId, ms, (w) => w.index === index);
  }

  async #wait(uploadId: string, ms: number, which: (w: Write) => boolean): Promise<boolean> {
    const gone = [...(this.#byUpload.get(uploadId) ?? [])].filter(which).map((w) => w.done);
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
