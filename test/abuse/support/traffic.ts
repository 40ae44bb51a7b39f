// The probes' HTTP client: counts every request and every answer by status (5xx above all), and turns
// a refused or reset connection into status 0 instead of an exception, so a probe reports what it
// saw rather than crashing on the behaviour it is there to find.
import http from 'node:http';

export interface Answer {
  /** 0 when there was no answer (connection refused, reset or closed). */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body as JSON, or undefined when it is not JSON. */
  json: any;
  ms: number;
}

export interface SendOptions {
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** A new connection for this request (default: the keep-alive pool). */
  fresh?: boolean;
  /** Local address to send from (127.x.y.z): another client, as far as per-address limits go. */
  from?: string;
  timeoutMs?: number;
}

export class Traffic {
  requests = 0;
  /** Requests with no answer. */
  failed = 0;
  readonly statuses: Record<number, number> = {};
  /** Keep-alive pool: thousands of requests on a few connections, not thousands of ports in TIME_WAIT. */
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(readonly base: string) {}

  /** Server errors: every 5xx but 507, which is the documented answer "this cannot fit on the disk". */
  get fiveXX(): number {
    return Object.entries(this.statuses).reduce((n, [s, c]) => n + (isServerError(Number(s)) ? c : 0), 0);
  }

  /** Counts an answer the probe read itself (raw sockets). */
  record(status: number | null): void {
    this.requests++;
    if (status === null || status === 0) this.failed++;
    else this.statuses[status] = (this.statuses[status] ?? 0) + 1;
  }

  send(method: string, path: string, o: SendOptions = {}): Promise<Answer> {
    const t0 = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      const done = (a: Omit<Answer, 'ms'>) => {
        if (settled) return;
        settled = true;
        this.record(a.status);
        resolve({ ...a, ms: performance.now() - t0 });
      };
      const req = http.request(new URL(path, this.base), { method, headers: o.headers, agent: o.fresh ? false : this.agent, ...(o.from && { localAddress: o.from }) }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (p: Buffer) => parts.push(p));
        res.on('error', () => done({ status: 0, headers: res.headers, body: Buffer.concat(parts), json: undefined }));
        res.on('end', () => {
          const body = Buffer.concat(parts);
          let json: any;
          if (/json/.test(String(res.headers['content-type'] ?? '')) && body.length) {
            try {
              json = JSON.parse(body.toString('utf8'));
            } catch {
              json = undefined;
            }
          }
          done({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      });
      req.setTimeout(o.timeoutMs ?? 60_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => done({ status: 0, headers: {}, body: Buffer.alloc(0), json: undefined }));
      req.end(o.body);
    });
  }

  /** "201×3, 429×5": answers by status, for the notes. */
  tally(): string {
    const parts = Object.entries(this.statuses).map(([s, n]) => `${n}× ${s}`);
    if (this.failed) parts.push(`${this.failed}× no answer`);
    return parts.join(', ') || 'none';
  }

  close(): void {
    this.agent.destroy();
  }
}

export function isServerError(status: number): boolean {
  return status >= 500 && status !== 507;
}

/** The n-th of many loopback client addresses (127.0.1.0 up): many clients, as per-address limits see them. */
export function clientAddress(n: number): string {
  return `127.0.${1 + Math.floor(n / 250)}.${n % 250}`;
}

/** Runs `worker` on `parallel` loops until `count` jobs are done or `untilMs` has passed. */
export async function pool(parallel: number, count: number, job: (i: number, worker: number) => Promise<unknown>, untilMs = Infinity): Promise<number> {
  let next = 0;
  const deadline = Date.now() + untilMs;
  const loop = async (_: unknown, worker: number) => {
    while (next < count && Date.now() < deadline) await job(next++, worker);
  };
  await Promise.all(Array.from({ length: parallel }, loop));
  return next;
}
