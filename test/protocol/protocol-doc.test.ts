// docs/protocol.md and the code agree: every problem type and every endpoint is documented and real.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Problems } from '../../src/protocol/index.js';
import { call } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

describe('docs/protocol.md', () => {
  it('documents every problem type with its status', () => {
    for (const [code, { status }] of Object.entries(Problems)) {
      expect(doc, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
    }
  });

  describe('every documented endpoint exists', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer();
    });
    afterAll(() => server.dispose());

    const rows = [...doc.matchAll(/^\| `([A-Z, `]+) (\/[^`]*)` \|/gm)];
    it('the endpoint table is found', () => expect(rows.length).toBeGreaterThanOrEqual(8));
    for (const [, methods, path] of rows) {
      for (const method of methods!.replace(/`/g, '').split(/,\s*/)) {
        it(`${method} ${path}`, async () => {
          const concrete = path!.replace('{uploadId}', 'A'.repeat(24)).replace('{fileId}', 'B'.repeat(24)).replace('{index}', '0').replace('{keyId}', 'c'.repeat(16));
          const r = await call(server.url, method, concrete, method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {});
          // Unknown ids may be 404 upload-not-found/file-not-found, but never "no such endpoint" or 405.
          expect(r.status).not.toBe(405);
          if (r.status === 404 && method !== 'HEAD') expect(r.body.type).not.toBe('urn:ferry:problem:not-found');
        });
      }
    }
  });
});
