// The README's library example (examples/upload-file.ts) runs as shown and uploads a file.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomData, sha256Hex } from '../helpers/digest.js';
import { download } from '../helpers/http.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.dispose());

it('examples/upload-file.ts uploads a file and prints its URL', async () => {
  const dir = await tempDir('ferry-example-');
  const data = randomData(300_000);
  const file = join(dir, 'example.bin');
  await writeFile(file, data);
  const root = resolve(import.meta.dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/upload-file.ts', file, server.url], {
    cwd: root,
    env: { ...process.env, FERRY_STATE_DIR: join(dir, 'state') },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((res) => child.once('close', res));
  expect(code).toBe(0);
  const url = out.trim().split('\n').pop()!;
  expect(sha256Hex((await download(url)).bytes)).toBe(sha256Hex(data));
});
