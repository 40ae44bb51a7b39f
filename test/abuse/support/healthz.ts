// A /healthz poller on its own thread: the probes keep the runner's event loop busy (thousands of
// sockets), and a poller sharing that loop would measure the runner's delays, not the server's.
// Each poll is a fresh connection (`Connection: close`) from its own loopback address (127.0.0.2), as
// a load balancer's health check is: per-address limits aimed at the attacker (127.0.0.1) leave it
// alone, while a global connection cap that locks everyone out shows up here as failed polls.
import { Worker } from 'node:worker_threads';

export interface HealthzStats {
  polls: number;
  /** Milliseconds, request start to the end of the answer, of the polls that were answered. */
  latencies: number[];
  /** Polls with no answer (refused, reset, or none within 10 s). */
  failed: number;
  /** Answers by status. */
  statuses: Record<number, number>;
}

// Plain JavaScript: an eval'd worker runs without the tsx loader.
const pollerSource = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const stats = { polls: 0, latencies: [], failed: 0, statuses: {} };
let stopping = false;
function poll() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let done = false;
    const finish = (status) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stats.polls++;
      if (status === null) stats.failed++;
      else {
        stats.latencies.push(performance.now() - t0);
        stats.statuses[status] = (stats.statuses[status] || 0) + 1;
      }
      resolve();
    };
    const req = http.get({ host: '127.0.0.1', port: workerData.port, path: '/healthz', localAddress: '127.0.0.2', agent: false, headers: { connection: 'close' } }, (res) => {
      res.on('data', () => {});
      res.on('end', () => finish(res.statusCode));
      res.on('error', () => finish(null));
    });
    req.on('error', () => finish(null));
    const timer = setTimeout(() => (req.destroy(), finish(null)), 10000);
  });
}
parentPort.on('message', () => (stopping = true));
(async () => {
  while (!stopping) {
    await poll();
    await new Promise((r) => setTimeout(r, workerData.intervalMs));
  }
  parentPort.postMessage(stats);
})();
`;

export interface HealthzPoller {
  /** Stops after the poll in flight and returns every poll's figures. */
  stop(): Promise<HealthzStats>;
}

export function startHealthzPoller(port: number, intervalMs = 20): HealthzPoller {
  const worker = new Worker(pollerSource, { eval: true, workerData: { port, intervalMs } });
  const result = new Promise<HealthzStats>((resolve, reject) => {
    worker.once('message', (s: HealthzStats) => resolve(s));
    worker.once('error', reject);
  });
  return {
    stop: async () => {
      worker.postMessage('stop');
      const stats = await result;
      await worker.terminate();
      return stats;
    },
  };
}

export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}
