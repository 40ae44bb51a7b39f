// Incremental SHA-256 on a worker thread, so a download's main thread only moves bytes. Parts that
// live in shared memory (the range transport's blocks) are hashed where they are and handed back
// through `hashed` once the worker is done with them; other parts are copied into shared staging
// blocks first. One worker serves every hash of the process; it is started on first use and does not
// keep the process alive.
import { Worker } from 'node:worker_threads';
import { formatDigest, type DigestAlgorithm } from '../../protocol/index.js';
import type { Hasher, IncrementalHash } from '../engine/io.js';
import { createHasher } from './hasher.js';

/** Parts gathered before one message to the worker (one message per MiB, not per socket read). */
const batchBytes = 1024 * 1024;

// CommonJS, evaluated as it is: a file of its own would not survive bundling the CLI into one file.
const workerSource = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let h = hashes.get(m.id);
    if (!h) hashes.set(m.id, (h = createHash('sha256')));
    for (const part of m.parts) h.update(part);
    parentPort.postMessage({ op: 'updated' });
  } else if (m.op === 'digest') {
    const h = hashes.get(m.id) ?? createHash('sha256');
    hashes.delete(m.id);
    parentPort.postMessage({ op: 'digest', base64: h.digest('base64') });
  } else if (m.op === 'drop') {
    hashes.delete(m.id);
  }
});
`;

type Reply = { op: 'updated' } | { op: 'digest'; base64: string };
type Waiter = (reply: Reply | Error) => void;

/** The worker and the replies it owes, in order (it answers every update and digest in turn). */
class HashWorker {
  private worker: Worker | null = null;
  private readonly waiting: Waiter[] = [];
  private nextId = 1;
  /** Counts workers started: a hash begun on one worker cannot be finished on the next. */
  generation = 0;

  newId(): number {
    return this.nextId++;
  }

  send(message: object, waiter: Waiter | null): void {
    const worker = this.start();
    if (waiter) {
      this.waiting.push(waiter);
      worker.ref();
    }
    worker.postMessage(message);
  }

  /** Stops the worker; what it owed fails, and the next hash starts a new one. */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  /** Tells a running worker to forget a hash; starts none for it. */
  drop(id: number): void {
    this.worker?.postMessage({ op: 'drop', id });
  }

  /** The running worker, started if there is none. */
  start(): Worker {
    if (this.worker) return this.worker;
    this.generation++;
    const worker = new Worker(workerSource, { eval: true });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      this.waiting.shift()?.(reply);
      if (this.waiting.length === 0) worker.unref();
    });
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      // Every part handed over comes back and every digest fails: nothing waits for ever.
      for (const waiter of this.waiting.splice(0)) waiter(error);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`The hashing worker exited (code ${code}).`)));
    this.worker = worker;
    return worker;
  }
}

const shared = new HashWorker();
/** A hash dropped before its digest (a failed attempt) is forgotten by the worker too. */
const dropped = new FinalizationRegistry<number>((id) => shared.drop(id));

/** Stops the hashing worker (it does not keep a process alive anyway); hashes in progress fail. */
export function terminateHashWorker(): Promise<void> {
  return shared.terminate();
}

/** A Hasher whose incremental hashes run on a worker thread; one-shot digests stay on node:crypto. */
export function createWorkerHasher(): Hasher {
  const local = createHasher();
  return {
    digest: local.digest,
    createHash(algorithm: DigestAlgorithm): IncrementalHash {
      if (algorithm !== 'sha-256') throw new RangeError(`No worker hash for ${algorithm}.`);
      return new WorkerHash(shared, algorithm);
    },
  };
}

class WorkerHash implements IncrementalHash {
  private readonly id: number;
  private parts: Uint8Array[] = [];
  private callbacks: Array<() => void> = [];
  private pending = 0;
  private staging: Uint8Array | null = null;
  private staged = 0;
  private failure: Error | null = null;
  private digested = false;
  /** The worker generation this hash's state lives in (null until its first message). */
  private generation: number | null = null;

  constructor(
    private readonly w: HashWorker,
    private readonly algorithm: DigestAlgorithm,
  ) {
    this.id = w.newId();
    dropped.register(this, this.id, this);
  }

  update(bytes: Uint8Array, hashed?: (bytes: Uint8Array) => void): void {
    if (this.digested) throw new Error('update() after digest()');
    if (hashed && bytes.buffer instanceof SharedArrayBuffer) {
      this.closeStaging();
      this.parts.push(bytes);
      this.callbacks.push(() => hashed(bytes));
      this.pending += bytes.byteLength;
    } else {
      this.stage(bytes);
      hashed?.(bytes);
    }
    if (this.pending + this.staged >= batchBytes) this.flush();
  }

  async digest(): Promise<string> {
    if (this.digested) throw new Error('digest() called twice');
    this.digested = true;
    dropped.unregister(this);
    this.flush();
    this.checkGeneration();
    const reply = await new Promise<Reply | Error>((resolve) => this.w.send({ op: 'digest', id: this.id }, resolve));
    if (reply instanceof Error) throw reply;
    if (this.failure) throw this.failure;
    if (reply.op !== 'digest') throw new Error('The hashing worker answered out of turn.');
    return formatDigest({ algorithm: this.algorithm, base64: reply.base64 });
  }

  /** A worker that died took this hash's state with it: whatever the next one computes is wrong. */
  private checkGeneration(): void {
    this.w.start();
    this.generation ??= this.w.generation;
    if (this.generation !== this.w.generation) this.failure ??= new Error('The hashing worker was restarted during this hash.');
  }

  /** Copies `bytes` into shared staging blocks (for parts the caller reuses as soon as update returns). */
  private stage(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.byteLength) {
      if (this.staging === null) {
        this.staging = new Uint8Array(new SharedArrayBuffer(batchBytes));
        this.staged = 0;
      }
      const n = Math.min(bytes.byteLength - at, batchBytes - this.staged);
      this.staging.set(bytes.subarray(at, at + n), this.staged);
      this.staged += n;
      at += n;
      if (this.staged === batchBytes) this.flush();
    }
  }

  private closeStaging(): void {
    if (this.staging === null) return;
    this.parts.push(this.staging.subarray(0, this.staged));
    this.pending += this.staged;
    this.staging = null;
    this.staged = 0;
  }

  private flush(): void {
    this.closeStaging();
    if (this.parts.length === 0) return;
    const callbacks = this.callbacks;
    this.checkGeneration();
    this.w.send({ op: 'update', id: this.id, parts: this.parts }, (reply) => {
      if (reply instanceof Error) this.failure ??= reply;
      for (const done of callbacks) done();
    });
    this.parts = [];
    this.callbacks = [];
    this.pending = 0;
  }
}
