// The documented app backend (examples/app-backend.ts) hands out grants Ferry accepts: the user it
// names can upload through them, and nobody else is let in.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MediaTypes, Paths } from '../../src/protocol/index.js';
import { track } from '../helpers/children.js';
import { call } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const secret = 'example-secret-of-at-least-32-characters!';
let ferry: TestServer;
beforeAll(async () => {
  ferry = await startTestServer({ auth: 'token', grantSecrets: [{ kid: 'app', secret }] });
});
afterAll(() => ferry.dispose());

it('redirects a signed-in user to the page with a grant that uploads as that user', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/app-backend.ts'], {
    cwd: resolve(import.meta.dirname, '../..'),
    env: { ...process.env, PORT: '0', FERRY_URL: ferry.url, FERRY_GRANT_SECRET: secret },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  track(child); // stopped after the test whatever happens (a timed-out wait for its port included)
  try {
    const port = await new Promise<string>((done, fail) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = /app on port (\d+)/.exec(line);
        if (m) done(m[1]!);
      });
      child.once('exit', (code) => fail(new Error(`the example exited with ${code}`)));
    });
    const app = `http://127.0.0.1:${port}`;
    expect((await call(app, 'GET', '/')).status).toBe(401);
    const signedIn = await call(app, 'GET', '/', { headers: { 'x-demo-user': 'maria' } });
    expect(signedIn.status).toBe(303);
    const location = String(signedIn.headers.location);
    expect(location.startsWith(`${ferry.url}/#grant=`)).toBe(true);
    const grant = location.slice(location.indexOf('#grant=') + 7);
    const created = await call(ferry.url, 'POST', Paths.uploads, {
      headers: { authorization: `Bearer ${grant}`, 'content-type': MediaTypes.json },
      body: JSON.stringify({ name: 'from-the-app.txt', size: 10 }),
    });
    expect(created.status, created.text).toBe(201);
    expect((await ferry.ctx.meta.getUpload(created.body.uploadId))?.owner).toBe('maria');
  } finally {
    child.kill();
  }
});
