// File names that would not show as what they are (reversed by a bidirectional override, padded with
// invisible characters) are refused at create; names in any script are not. Blank names: blank-file-name.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileNameProblem, Paths } from '../../src/protocol/index.js';
import { call, create, createWithFirstChunk, type Reply } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.dispose());

function expectInvalidName(r: Reply) {
  expect(r.status).toBe(400);
  expect(r.body.type).toBe('urn:ferry:problem:invalid-file-name');
}

const refused: Array<[string, string]> = [
  ['a right-to-left override (shows as "invoiceexe.pdf")', 'invoice\u202Efdp.exe'],
  ['a left-to-right override', 'a\u202Db.txt'],
  ['a right-to-left embedding', '\u202Bname.txt'],
  ['a pop directional formatting', 'name\u202C.txt'],
  ['a right-to-left isolate', 'a\u2067b.txt'],
  ['a first-strong isolate', 'a\u2068b.txt'],
  ['a pop directional isolate', 'a\u2069b.txt'],
  ['a right-to-left mark', 'a\u200Fb.txt'],
  ['a left-to-right mark', '\u200Ename.txt'],
  ['an Arabic letter mark', 'a\u061Cb.txt'],
  ['a zero-width space', 'report\u200B.pdf'],
  ['a zero-width joiner between ASCII letters', 're\u200Dport.pdf'],
  ['a zero-width non-joiner between ASCII letters', 're\u200Cport.pdf'],
  ['a word joiner', 'a\u2060b.txt'],
  ['a byte order mark', '\uFEFFname.txt'],
  ['a soft hyphen', 'pass\u00ADword.txt'],
  ['a C1 control (NEL)', 'a\u0085b.txt'],
  ['a line separator', 'a\u2028b.txt'],
  ['a paragraph separator', 'a\u2029b.txt'],
  ['half of a surrogate pair', '\uD800.bin'],
  ['a Hangul filler among letters', 'a\u3164b.txt'],
];

describe('create refuses a name with', () => {
  for (const [what, name] of refused) {
    it(what, async () => {
      expectInvalidName(await create(server.url, { name, size: 1 }));
      expect(fileNameProblem(name)).not.toBeNull();
    });
  }

  it('a right-to-left override, also on create with the first chunk, and nothing is stored', async () => {
    const files = (await call(server.url, 'GET', Paths.files)).body.files.length;
    const uploads = server.ctx.metrics.get('ferry_uploads_created_total');
    expectInvalidName(await createWithFirstChunk(server.url, { name: 'photo\u202Egnp.exe', size: 3 }, Buffer.from('abc')));
    expect((await call(server.url, 'GET', Paths.files)).body.files.length).toBe(files);
    expect(server.ctx.metrics.get('ferry_uploads_created_total')).toBe(uploads);
  });
});

describe('create accepts', () => {
  const accepted: Array<[string, string]> = [
    ['plain ASCII', 'report.pdf'],
    ['accented Latin', 'résumé.pdf'],
    ['Hebrew (right-to-left, no override)', 'שלום.txt'],
    ['Persian with a zero-width non-joiner inside a word', 'می\u200Cخواهم.txt'],
    ['Devanagari with a zero-width joiner', 'क्\u200Dष.txt'],
    ['an emoji family (zero-width joiners between emoji)', '👨\u200D👩\u200D👧.png'],
    ['an emoji with a variation selector', '❤️.png'],
    ['inner spaces', 'my file (1).txt'],
  ];
  for (const [what, name] of accepted) {
    it(what, async () => {
      const r = await create(server.url, { name, size: 1 });
      expect(r.status).toBe(201);
      expect(r.body.name).toBe(name);
    });
  }
});
