// A name that shows nothing (empty, only spaces or invisible characters) would be an invisible row and a
// blank link: every way of creating an upload refuses it with its own problem type, and stores nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileNameProblem, isBlankFileName, Paths } from '../../src/protocol/index.js';
import { call, create, createWithFirstChunk, type Reply } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.dispose());

function expectBlank(r: Reply) {
  expect(r.status).toBe(400);
  expect(r.headers['content-type']).toContain('application/problem+json');
  expect(r.body.type).toBe('urn:ferry:problem:blank-file-name');
  expect(r.body.detail).toMatch(/visible character/);
}

/** Files listed and uploads created so far: a refused create changes neither. */
async function stored(): Promise<{ files: number; created: number }> {
  const files = (await call(server.url, 'GET', Paths.files)).body.files.length as number;
  return { files, created: server.ctx.metrics.get('ferry_uploads_created_total') };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

const blank: Array<[string, string]> = [
  ['empty', ''],
  ['one space', ' '],
  ['three spaces', '   '],
  ['a tab and spaces', ' \t '],
  ['no-break spaces', '\u00A0\u00A0'],
  ['an ideographic space', '\u3000'],
  ['a Hangul filler', '\u3164'],
  ['braille blanks', '\u2800\u2800'],
  ['a zero-width space between spaces', ' \u200B '],
];

describe('blank file names', () => {
  for (const [what, name] of blank) {
    it(`create (JSON) refuses ${what}`, async () => {
      const before = await stored();
      expectBlank(await create(server.url, { name, size: 1 }));
      expect(isBlankFileName(name)).toBe(true);
      expect(fileNameProblem(name)).not.toBeNull();
      expect(await stored()).toEqual(before);
    });
  }

  it('create with the first chunk refuses "   " and stores nothing', async () => {
    const before = await stored();
    expectBlank(await createWithFirstChunk(server.url, { name: '   ', size: 3 }, Buffer.from('abc')));
    expect(await stored()).toEqual(before);
  });

  it('tus: an Upload-Metadata filename of spaces is refused', async () => {
    const before = await stored();
    const r = await call(server.url, 'POST', '/tus/', {
      headers: { 'tus-resumable': '1.0.0', 'upload-length': 3, 'upload-metadata': `filename ${b64('   ')}` },
    });
    expectBlank(r);
    expect(await stored()).toEqual(before);
  });

  it('IETF resumable upload: a Content-Disposition filename of spaces is refused', async () => {
    const before = await stored();
    const r = await call(server.url, 'POST', '/tus/', {
      headers: { 'upload-draft-interop-version': '6', 'upload-complete': '?1', 'content-disposition': 'attachment; filename="  "', 'content-length': 3 },
      body: Buffer.from('abc'),
    });
    expectBlank(r);
    expect(await stored()).toEqual(before);
  });

  it('a name with spaces around visible characters is kept as given', async () => {
    const r = await create(server.url, { name: '  a  ', size: 1 });
    expect(r.status).toBe(201);
    expect(r.body.name).toBe('  a  ');
    expect(isBlankFileName('  a  ')).toBe(false);
  });

  it('a long name of spaces is blank, not "too long"', async () => {
    expectBlank(await create(server.url, { name: ' '.repeat(400), size: 1 }));
  });
});
