// Ctrl-C while a connection is still being opened (a proxy that accepts the TCP connection and never
// answers the CONNECT) ends the process at once. Before, the CLI printed that it stopped and then
// stayed alive for the proxy client's own 300 s timeout: an aborted request cannot cancel a connection
// undici has not handed over yet; the CLI now destroys its dispatcher when the command ends.
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';

const sockets = new Set<Socket>();
let connected: () => void;
const firstConnection = new Promise<void>((resolve) => (connected = resolve));
const silent = createServer((s) => {
  sockets.add(s);
  s.on('error', () => {});
  connected();
});
let port = 0;
const dir = mkdtempSync(join(tmpdir(), 'ferry-stop-connecting-'));

beforeAll(async () => {
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  port = (silent.address() as { port: number }).port;
});

afterAll(() => {
  for (const s of sockets) s.destroy();
  silent.close();
  rmSync(dir, { recursive: true, force: true });
});

// The test's own timeout is what fails it without the fix (the process would live about 300 s more).
it('exits promptly after SIGINT while its proxy never answers the CONNECT', { timeout: 30_000 }, async () => {
  const run = startCli(['download', 'https://ferry.invalid/file', '-o', join(dir, 'out.bin')], {
    HTTPS_PROXY: `http://127.0.0.1:${port}`,
    NO_PROXY: '',
    FERRY_STATE_DIR: dir,
  });
  await firstConnection;
  run.child.kill('SIGINT');
  const { code, signal, stderr } = await run.done;
  expect(signal === 'SIGINT' || code === 130 || code === 1, `exit ${code} ${signal}: ${stderr}`).toBe(true);
});
