// A Ferry server for page tests, behind a throttling TCP proxy: the page is loaded from the proxy, so
// a test can slow the network (to act "midway" without racing the upload) and stop and restart the
// server on the same port and data directory while the page keeps its origin.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ServerConfigInput } from '../../../src/server/index.js';
import { startFaultProxy, type FaultProxy } from '../../helpers/fault-proxy.js';
import { MiB, startTestServer, tempDir, type TestServer } from '../../helpers/server.js';

export const chunkSize = 1 * MiB;

export interface PageServer {
  /** The page's address (through the proxy); append a query such as "?concurrency=1". */
  url: string;
  /** The server now (a new one after restart()). */
  readonly server: TestServer;
  proxy: FaultProxy;
  /** Limits every connection, each direction, to this many bytes per second (0: unlimited). */
  throttle(bytesPerSecond: number): void;
  /** Closes the server (connections cut after its grace period); the proxy stays up. */
  stop(): Promise<void>;
  /** Starts a new server on the same port and data directory. */
  start(): Promise<void>;
  /** Chunk body bytes the current server has read (failed attempts included). */
  bytesReceived(): number;
  dispose(): Promise<void>;
}

const webBuilt = resolve(import.meta.dirname, '../../../dist/web/app.js');

export async function startPageServer(config: ServerConfigInput = {}): Promise<PageServer> {
  if (!existsSync(webBuilt)) throw new Error('dist/web is not built: run `npm run build` (npm test does it first).');
  const dataDir = await tempDir('ferry-web-');
  // Durability is not what these tests are about; skipping fsync keeps them quick on slow disks.
  const base: ServerConfigInput = { defaultChunkSize: chunkSize, fsync: false, ...config, dataDir };
  let server = await startTestServer(base);
  const port = server.port;
  const proxy = await startFaultProxy(server.url, {});
  let running = true;
  return {
    url: `${proxy.url}/`,
    get server() {
      return server;
    },
    proxy,
    throttle: (bytesPerSecond) => proxy.setPlan(bytesPerSecond > 0 ? { bytesPerSecond } : {}),
    async stop() {
      running = false;
      await server.close();
    },
    async start() {
      server = await startTestServer({ ...base, port });
      running = true;
    },
    bytesReceived: () => server.ctx.metrics.get('ferry_chunk_bytes_received_total'),
    async dispose() {
      await proxy.close();
      if (running) await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
