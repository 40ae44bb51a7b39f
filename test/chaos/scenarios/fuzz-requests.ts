// What the fuzzer sends: fast-check arbitraries for requests to every endpoint (mostly well-formed
// chunk PUTs, creates and reads, and anything at all), and how one becomes bytes on a socket: lying
// lengths, truncated bodies, pipelined duplicates, chunked framing, garbage.
import fc from 'fast-check';
import { chunkOf } from '../../helpers/http.js';
import { KiB, MiB, seededBytes, sha256 } from '../support/source.js';

/** An upload the fuzzer may aim at: its bytes are known, so chunks can be right, wrong or mangled. */
export interface Target {
  uploadId: string;
  data: Buffer;
  chunkSize: number;
  /** Valid uploads of the test itself: only requests that cannot legitimately change them. */
  protectedTarget: boolean;
}

export interface World {
  targets: Target[];
  fileIds: string[];
}

// ---- what the fuzzer generates ------------------------------------------------------------------

const idModes = ['real', 'real', 'real', 'unknown', 'weird'] as const;
const weirdIds = ['..', '%2e%2e', '%', '%zz', 'a'.repeat(5000), '\u00e9', '%00', ' ', 'uploads', '*'];
const weirdIndexes = ['-1', '1.5', 'abc', '', '00', '999999999', '99999999999999999999', '%31', '1e3', '+1', '0x1', '\u0661'];

const pathArb = fc.oneof(
  fc.constantFrom('/capabilities', '/healthz', '/metrics', '/files', '/uploads', '/', '/uploads/', '//uploads', '/files/', '/nope', '/uploads?x=1', '/%', '/capabilities/'),
  fc.record({ kind: fc.constant('upload' as const), which: fc.nat(), id: fc.constantFrom(...idModes), weird: fc.constantFrom(...weirdIds) }),
  fc.record({
    kind: fc.constant('chunk' as const),
    which: fc.nat(),
    id: fc.constantFrom(...idModes),
    weird: fc.constantFrom(...weirdIds),
    index: fc.oneof(fc.record({ valid: fc.nat() }), fc.constantFrom(...weirdIndexes), fc.constant('past-end')),
  }),
  fc.record({ kind: fc.constant('file' as const), which: fc.nat(), id: fc.constantFrom(...idModes), weird: fc.constantFrom(...weirdIds), manifest: fc.boolean() }),
  fc.webPath().map((p) => p || '/'),
);

const createParamsArb = fc.record(
  {
    name: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('a.bin', '..', '.', 'a/b', 'a\\b', '\u0000x', '\ud800', '\udfff.bin', 'x'.repeat(256), 'résumé.pdf', '"quoted"', '%41'),
    ),
    size: fc.oneof(fc.integer({ min: -2, max: 300 * KiB }), fc.constantFrom(0, 1, 2 ** 53, 1e300, 0.5, -0), fc.double()),
    chunkSize: fc.oneof(fc.integer({ min: -1, max: 20 * MiB }), fc.constantFrom(1 * KiB, 64 * KiB, 0.5, 2 ** 60)),
    checksum: fc.constantFrom('sha-256', 'md5', '', 'SHA-256', 'sha-512'),
    fileDigest: fc.oneof(fc.constant(`sha-256=:${Buffer.alloc(32).toString('base64')}:`), fc.string({ maxLength: 60 })),
    metadata: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant({ pad: 'x'.repeat(17 * KiB) })),
  },
  { requiredKeys: [] },
);

const bodyArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'chunk' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('chunk-mangled' as const), how: fc.constantFrom('short', 'long', 'flip'), k: fc.integer({ min: 1, max: 5000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('create' as const), params: createParamsArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('json' as const), text: fc.json({ maxDepth: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 70 * KiB }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('huge' as const), size: fc.constantFrom(65 * KiB, 1 * MiB, 17 * MiB) }) },
);

const digestArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant('of-chunk') },
  { weight: 2, arbitrary: fc.constant('of-body') },
  { weight: 1, arbitrary: fc.constant('none') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'sha-256=abc',
      'sha-256=:AAAA:',
      'md5=:1B2M2Y8AsgTpgAmY7PhCfg==:',
      `sha-256=:${Buffer.alloc(32, 7).toString('base64')}:`,
      '',
      ':::',
      'sha-256=:@@@@:',
      `sha-512=:${Buffer.alloc(64).toString('base64')}:, sha-256=:${Buffer.alloc(32).toString('base64')}:`,
      'sha-256=:' + 'A'.repeat(5000) + ':',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }).map((s) => s.replace(/[\r\n\0]/g, '')) },
);

const headerValue = (s: string) => s.replace(/[\r\n\0]/g, '');
/** A header that is usually absent (the request stays deep enough to reach the route's own checks). */
const sometimes = <T>(arb: fc.Arbitrary<T>, absent = 4) => fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
const headersArb = (contentTypes: string[]) =>
  fc.record({
    'content-type': fc.constantFrom(...contentTypes, 'text/plain', 'APPLICATION/OCTET-STREAM', 'application/json; charset=utf-8', ''),
    'ferry-version': sometimes(fc.constantFrom('1', '2', 'x', '')),
    'ferry-upload-params': sometimes(
      fc.oneof(
        createParamsArb.map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')),
        fc.string({ maxLength: 40 }).map(headerValue),
        fc.constant(Buffer.from('not json').toString('base64url')),
      ),
      1,
    ),
    range: sometimes(fc.constantFrom('bytes=0-10', 'bytes=5-', 'bytes=-3', 'bytes=10-5', 'bytes=0-1,3-4', 'items=1-2', 'bytes=999999999999-', 'bytes=', 'garbage'), 2),
    'if-range': sometimes(fc.constantFrom('"nope"', 'W/"x"', 'Wed, 21 Oct 2015 07:28:00 GMT', 'garbage')),
    'if-none-match': sometimes(fc.constantFrom('*', 'W/"x"', '"a", "b"', '')),
    'x-padding': sometimes(fc.constantFrom('x'.repeat(100), 'x'.repeat(20 * KiB)), 8),
  });

const deliveryArb = fc.constantFrom('normal', 'normal', 'normal', 'pipelined', 'truncated', 'lying-short', 'chunked', 'garbage');
const garbageArb = fc.uint8Array({ minLength: 1, maxLength: 200 });
const anyMethod = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'get', 'FOO');

/** Mostly well-formed chunk PUTs, in any order, duplicated, mangled or aimed wrong. */
const chunkPutArb = fc.record({
  method: fc.constant('PUT'),
  path: fc.record({
    kind: fc.constant('chunk' as const),
    which: fc.nat(),
    id: fc.constantFrom('real', 'real', 'real', 'real', 'unknown', 'weird'),
    weird: fc.constantFrom(...weirdIds),
    index: fc.oneof({ weight: 6, arbitrary: fc.record({ valid: fc.nat() }) }, fc.constantFrom(...weirdIndexes), fc.constant('past-end')),
  }),
  body: fc.oneof(
    { weight: 4, arbitrary: fc.constant({ kind: 'chunk' as const }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('chunk-mangled' as const), how: fc.constantFrom('short', 'long', 'flip'), k: fc.integer({ min: 1, max: 5000 }) }) },
    { weight: 1, arbitrary: bodyArb },
  ),
  digest: digestArb,
  headers: headersArb(['application/octet-stream']),
  delivery: deliveryArb,
  garbage: garbageArb,
});

/** Creates: JSON, or parameters in a header with chunk 0 as the body. */
const createArb = fc.record({
  method: fc.constant('POST'),
  path: fc.constant('/uploads'),
  body: fc.oneof({ weight: 3, arbitrary: fc.record({ kind: fc.constant('create' as const), params: createParamsArb }) }, bodyArb),
  digest: digestArb,
  headers: headersArb(['application/json', 'application/json', 'application/octet-stream']).chain((h) =>
    h['content-type'] === 'application/octet-stream'
      ? createParamsArb.map((p) => ({ ...h, 'ferry-upload-params': h['ferry-upload-params'] ?? Buffer.from(JSON.stringify(p)).toString('base64url') }))
      : fc.constant(h),
  ),
  delivery: deliveryArb,
  garbage: garbageArb,
});

/** Status, abort, files, manifests, listings, with ranges and conditions. */
const readArb = fc.record({
  method: fc.constantFrom('GET', 'GET', 'HEAD', 'DELETE'),
  path: pathArb,
  body: fc.oneof({ weight: 5, arbitrary: fc.constant({ kind: 'none' as const }) }, bodyArb),
  digest: fc.constant('none'),
  headers: headersArb(['application/json']),
  delivery: deliveryArb,
  garbage: garbageArb,
});

/** Anything at all. */
const anyArb = fc.record({
  method: anyMethod,
  path: pathArb,
  body: bodyArb,
  digest: digestArb,
  headers: headersArb(['application/json', 'application/octet-stream']),
  delivery: deliveryArb,
  garbage: garbageArb,
});

export const requestArb = fc.oneof({ weight: 4, arbitrary: chunkPutArb }, { weight: 2, arbitrary: createArb }, { weight: 2, arbitrary: readArb }, { weight: 2, arbitrary: anyArb });
export type FuzzRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

// ---- turning a generated request into bytes --------------------------------------------------------

function resolvePath(r: FuzzRequest, w: World): { path: string; target: Target | null; index: number | null } {
  const p = r.path;
  if (typeof p === 'string') return { path: p, target: null, index: null };
  const target = w.targets.length ? w.targets[p.which % w.targets.length]! : null;
  const id = (real: string | undefined) => (p.id === 'real' && real ? real : p.id === 'unknown' ? 'Q'.repeat(24) : encodeURI(p.weird));
  if (p.kind === 'upload') return { path: `/uploads/${id(target?.uploadId)}`, target, index: null };
  if (p.kind === 'file') {
    const fileId = w.fileIds.length ? w.fileIds[p.which % w.fileIds.length] : undefined;
    return { path: `/files/${id(fileId)}${p.manifest ? '/manifest' : ''}`, target: null, index: null };
  }
  const total = target ? Math.max(1, Math.ceil(target.data.length / target.chunkSize)) : 1;
  let index: number | null = null;
  let indexText: string;
  if (typeof p.index === 'object') indexText = String((index = p.index.valid % total));
  else if (p.index === 'past-end') indexText = String(total);
  else indexText = encodeURI(p.index);
  return { path: `/uploads/${id(target?.uploadId)}/chunks/${indexText}`, target, index };
}

function buildBody(r: FuzzRequest, target: Target | null, index: number | null): { body: Buffer; chunk: Buffer | null } {
  const chunk = target && index !== null ? chunkOf(target.data, target.chunkSize, index) : null;
  const b = r.body;
  switch (b.kind) {
    case 'chunk':
      return { body: chunk ?? Buffer.alloc(0), chunk };
    case 'chunk-mangled': {
      const base = chunk ?? seededBytes(1000, 1);
      if (b.how === 'short') return { body: base.subarray(0, Math.max(0, base.length - b.k)), chunk };
      if (b.how === 'long') return { body: Buffer.concat([base, Buffer.alloc(b.k, 1)]), chunk };
      const flipped = Buffer.from(base);
      if (flipped.length) flipped[b.k % flipped.length]! ^= 1;
      return { body: flipped, chunk };
    }
    case 'create':
      return { body: Buffer.from(JSON.stringify(b.params)), chunk };
    case 'json':
      return { body: Buffer.from(b.text), chunk };
    case 'bytes':
      return { body: Buffer.from(b.bytes), chunk };
    case 'huge':
      return { body: Buffer.alloc(b.size, 0x61), chunk };
    default:
      return { body: Buffer.alloc(0), chunk };
  }
}

const field = (bytes: Buffer) => `sha-256=:${Buffer.from(sha256(bytes), 'hex').toString('base64')}:`;

export interface Built {
  pieces: Buffer[];
  methods: string[];
  end: boolean;
  /** A complete, well-framed request: it must get an answer. */
  mustAnswer: boolean;
}

export function build(r: FuzzRequest, w: World): Built {
  const { path, target, index } = resolvePath(r, w);
  const { body, chunk } = buildBody(r, target, index);
  // Aborting an upload is the capability's holder's right, not a fault: spare the test's own uploads.
  if (target?.protectedTarget && r.method === 'DELETE') return build({ ...r, method: 'GET' }, w);
  let digest: string | null;
  if (r.digest === 'of-chunk') digest = chunk ? field(chunk) : field(body);
  else if (r.digest === 'of-body') digest = field(body);
  else if (r.digest === 'none') digest = null;
  else digest = r.digest;
  // The test's own uploads must only get requests that cannot legitimately change them: a matching
  // digest always comes with the right bytes.
  if (target?.protectedTarget && chunk && digest === field(body) && !body.equals(chunk)) digest = field(chunk);

  const lines = [`${r.method} ${path} HTTP/1.1`, 'host: fuzz'];
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) lines.push(`${k}: ${headerValue(v)}`);
  if (digest !== null) lines.push(`content-digest: ${headerValue(digest)}`);
  const head = (extra: string[]) => Buffer.from([...lines, ...extra, '', ''].join('\r\n'), 'latin1');

  switch (r.delivery) {
    case 'pipelined': {
      const one = Buffer.concat([head([`content-length: ${body.length}`]), body]);
      return { pieces: [one, one], methods: [r.method, r.method], end: false, mustAnswer: true };
    }
    case 'truncated': {
      const sent = body.subarray(0, Math.floor(body.length / 2));
      return { pieces: [head([`content-length: ${body.length + 1}`]), sent], methods: [r.method], end: true, mustAnswer: false };
    }
    case 'lying-short': {
      const declared = Math.floor(body.length / 2);
      // The undeclared rest arrives as the "next request": garbage that must get a problem, not a crash.
      // (Garbage after a request may also cut that request's answer short, as node:http does.)
      return { pieces: [head([`content-length: ${declared}`]), body, Buffer.from('X\r\n\r\n')], methods: [r.method, 'GET'], end: false, mustAnswer: false };
    }
    case 'chunked': {
      const framed = body.length ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : Buffer.from('0\r\n\r\n');
      return { pieces: [head(['transfer-encoding: chunked']), framed], methods: [r.method], end: false, mustAnswer: true };
    }
    case 'garbage':
      // Empty lines before a request are ignored (RFC 9112 §2.2): only other bytes must get an answer.
      return { pieces: [Buffer.from(r.garbage), Buffer.from('\r\n\r\n')], methods: ['GET'], end: false, mustAnswer: r.garbage.some((c) => c !== 13 && c !== 10) };
    default:
      return { pieces: [head([`content-length: ${body.length}`]), body], methods: [r.method], end: false, mustAnswer: true };
  }
}

/** A one-line account of a request, for a violation's report. */
export function describe(r: FuzzRequest, b: Built): string {
  if (r.delivery === 'garbage') return `garbage: ${Buffer.from(r.garbage).toString('hex')}`;
  const head = b.pieces[0]!.subarray(0, 300).toString('latin1').split('\r\n').slice(0, 12).join(' | ');
  return `${r.delivery}: ${head}${b.pieces[0]!.length > 300 ? ' …' : ''}`;
}
