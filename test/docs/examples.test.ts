// The docs' examples, run against a real `ferry serve` (the built CLI, default limits):
//
// - every ```http block of docs/protocol.md that shows a request is sent as written, in document order,
//   and must get the documented status, the documented response headers and (where the documented
//   body is JSON) every documented field. Ids a documented response shows stand for the ids the real
//   one returned; a file id or ETag that no earlier example made stands for a 24 MiB file (three 8 MiB
//   chunks) uploaded first; a body written `<N bytes>` is N zero bytes.
// - every ```sh block of README.md or docs/*.md marked on the line before with
//   `<!-- docs-test: run; files: big.iso=3MiB -->` is run line by line with bash, in an empty folder
//   holding those files (random bytes), `ferry` being the built CLI and FERRY_SERVER the server.
//   Each line must exit 0. http://localhost:8080 is the server; `<fileId>` is the file id an earlier
//   line printed; what a line downloads with `-o` must equal the block's file.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, create, putChunk, type Reply } from '../helpers/http.js';
import { tempDir } from '../helpers/server.js';
import { codeBlocks, docs, root, type CodeBlock } from './markdown.js';

const cli = join(root, 'dist/cli/main.js');
const MiB = 1024 * 1024;

let work: string;
let server: ChildProcess;
let url: string;
/** Shell lines still running: killed (with what they started) when the file ends, however it ends. */
const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

beforeAll(async () => {
  work = await tempDir('ferry-docs-');
  server = spawn(process.execPath, [cli, 'serve', '--port', '0', '--data-dir', join(work, 'data')], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  server.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  url = await new Promise<string>((res, rej) => {
    createInterface({ input: server.stdout! }).on('line', (line) => {
      if (line.includes('"listening"')) res(JSON.parse(line).url);
    });
    server.once('exit', (code) => rej(new Error(`ferry serve exited with ${code}: ${stderr}`)));
  });
});

afterAll(async () => {
  for (const child of running) killGroup(child);
  if (server) killGroup(server);
  if (work) await rm(work, { recursive: true, force: true });
});

const all = docs();
const protocol = all.find((d) => d.file === 'docs/protocol.md')!;

interface HttpExample {
  where: string;
  request: { method: string; path: string; headers: Array<[string, string]>; body: string } | null;
  response: { status: number; headers: string[]; body: string };
}

function parseHttp(block: CodeBlock): HttpExample {
  const lines = block.text.split('\n');
  const where = `${block.file}:${block.line}`;
  const responseAt = lines.findIndex((l) => /^HTTP\/1\.1 \d{3}/.test(l));
  const headersOf = (part: string[]) => part.slice(1, part.findIndex((l) => l.trim() === '') < 0 ? undefined : part.findIndex((l) => l.trim() === ''));
  const bodyOf = (part: string[]) => {
    const blank = part.findIndex((l) => l.trim() === '');
    return blank < 0 ? '' : part.slice(blank + 1).join('\n').trim();
  };
  let request: HttpExample['request'] = null;
  if (responseAt > 0) {
    const part = lines.slice(0, responseAt);
    const [method, path] = part[0]!.split(' ');
    const headers = headersOf(part).map((l) => {
      const colon = l.indexOf(':');
      return [l.slice(0, colon).trim(), l.slice(colon + 1).trim()] as [string, string];
    });
    request = { method: method!, path: path!, headers, body: bodyOf(part) };
  }
  const part = lines.slice(responseAt);
  return {
    where,
    request,
    response: { status: Number(part[0]!.split(' ')[1]), headers: headersOf(part).map((l) => l.slice(0, l.indexOf(':')).trim().toLowerCase()), body: bodyOf(part) },
  };
}

/** Every field path of a documented JSON value that the real one must also have. */
function missingFields(documented: unknown, real: unknown, at = ''): string[] {
  if (documented === null || typeof documented !== 'object' || Array.isArray(documented)) return [];
  if (real === null || typeof real !== 'object') return [at || '(body)'];
  return Object.entries(documented).flatMap(([key, value]) =>
    key in (real as object) ? missingFields(value, (real as Record<string, unknown>)[key], `${at}${key}.`) : [`${at}${key}`],
  );
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

describe('docs/protocol.md: the HTTP examples', () => {
  const blocks = codeBlocks(protocol).filter((b) => b.lang === 'http');
  // An example must show its answer: that is what is checked.
  for (const b of blocks.filter((b) => !/^HTTP\/1\.1 \d{3}/m.test(b.text))) {
    it(`${b.file}:${b.line} shows the response`, () => expect.fail(`${b.file}:${b.line}: an http example without its response (HTTP/1.1 <status> ...)`));
  }
  const examples = blocks.filter((b) => /^HTTP\/1\.1 \d{3}/m.test(b.text)).map(parseHttp);
  const runnable = examples.filter((e) => e.request !== null);
  /** Ids and ETags the docs show → the ones this server gave. */
  const real = new Map<string, string>();
  let file: { id: string; etag: string } | null = null;

  /** A file for the examples that download one the docs never made: three 8 MiB chunks. */
  async function standInFile(): Promise<{ id: string; etag: string }> {
    if (file) return file;
    const chunkSize = 8 * MiB;
    const made = await create(url, { name: 'big.iso', size: 3 * chunkSize, chunkSize });
    expect(made.status).toBe(201);
    let last: Reply | null = null;
    for (let i = 0; i < 3; i++) last = await putChunk(url, made.body.uploadId, i, randomBytes(chunkSize));
    expect(last!.body.fileId).toBeTruthy();
    const head = await call(url, 'HEAD', `/files/${last!.body.fileId}`);
    file = { id: last!.body.fileId, etag: String(head.headers.etag) };
    return file;
  }

  function substitute(text: string): string {
    for (const [doc, actual] of real) text = text.split(doc).join(actual);
    return text;
  }

  it('finds the examples', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(7);
  });

  for (const example of runnable) {
    const { method, path } = example.request!;
    it(`${example.where}: ${method} ${path} → ${example.response.status}`, async () => {
      const req = example.request!;
      // A file the earlier examples did not make, and its ETag, stand for the stand-in file.
      for (const [, id] of req.path.matchAll(/\/files\/([\w-]{24})/g)) if (!real.has(id!)) real.set(id!, (await standInFile()).id);
      for (const [, value] of req.headers) if (/^"[^"]+"$/.test(value) && !real.has(value)) real.set(value, (await standInFile()).etag);
      const sized = /^<(\d+) bytes>$/.exec(req.body);
      const body = sized ? Buffer.alloc(Number(sized[1])) : req.body ? Buffer.from(req.body) : undefined;
      const reply = await call(url, req.method, substitute(req.path), {
        headers: Object.fromEntries(req.headers.map(([k, v]) => [k, substitute(v)])),
        body,
      });

      expect(reply.status, `${example.where}: ${reply.text.slice(0, 300)}`).toBe(example.response.status);
      for (const name of example.response.headers) expect(reply.headers, `${example.where}: header ${name}`).toHaveProperty(name);
      const documented = tryJson(example.response.body);
      if (documented !== undefined) {
        expect(missingFields(documented, reply.body), `${example.where}: documented fields missing`).toEqual([]);
        if (req.path === '/capabilities') expect(reply.body).toMatchObject(documented as object);
        // The ids this documented answer shows are the ones later examples use.
        const ids = (doc: any, got: any) => {
          for (const key of ['uploadId', 'fileId']) if (typeof doc?.[key] === 'string' && typeof got?.[key] === 'string') real.set(doc[key], got[key]);
        };
        ids(documented, reply.body);
        ids((documented as any).firstChunk, reply.body.firstChunk);
      }
    });
  }
});

describe('README.md and docs/*.md: the marked shell examples', () => {
  const marked = all.flatMap((d) => codeBlocks(d)).filter((b) => b.marker !== null);

  it('finds the examples', () => {
    expect(marked.length).toBeGreaterThanOrEqual(3);
    for (const b of marked) expect(b.lang, `${b.file}:${b.line}`).toBe('sh');
  });

  for (const block of marked) {
    it(`${block.file}:${block.line}`, async () => {
      const marker = /^run(?:;\s*files:\s*(.+))?$/.exec(block.marker!);
      expect(marker, `${block.file}:${block.line}: a marker reads "run" or "run; files: name=3MiB, ..."`).not.toBeNull();
      const dir = join(work, `sh-${block.line}-${block.file.replace(/\W/g, '_')}`);
      await mkdir(join(dir, 'bin'), { recursive: true });
      const sources = new Map<string, Buffer>();
      for (const spec of (marker![1] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
        const [name, size] = spec.split('=');
        const bytes = randomBytes(Number(/^(\d+)MiB$/.exec(size!)![1]) * MiB);
        await writeFile(join(dir, name!), bytes);
        sources.set(name!, bytes);
      }
      await writeFile(join(dir, 'bin/ferry'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`);
      await chmod(join(dir, 'bin/ferry'), 0o755);
      const env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, FERRY_SERVER: url, FERRY_STATE_DIR: join(dir, 'state') };

      let printed = '';
      const commands = block.text
        .replace(/\\\n/g, ' ')
        .split('\n')
        .map((l) => l.replace(/(^|\s)#(\s.*)?$/, '').trim())
        .filter(Boolean);
      expect(commands.length).toBeGreaterThan(0);
      for (const command of commands) {
        let line = command.replace(/http:\/\/(localhost|127\.0\.0\.1):8080/g, url);
        if (line.includes('<fileId>')) {
          const ids = [...printed.matchAll(/\/files\/([\w-]{24})/g)];
          expect(ids.length, `${block.file}: no earlier line printed a file URL for <fileId> in: ${command}`).toBeGreaterThan(0);
          line = line.replaceAll('<fileId>', ids.at(-1)![1]!);
        }
        const r = await runShell(line, dir, env);
        printed += r.output;
        expect(r.code, `${block.file}:${block.line}: ${command}\n${r.output}`).toBe(0);
        const out = /(?:-o|--output)\s+(\S+)/.exec(line)?.[1];
        if (out && sources.size === 1) expect((await readFile(join(dir, out))).equals([...sources.values()][0]!), `${out} equals the uploaded file`).toBe(true);
      }
    });
  }
});

/** One line through bash, in its own process group (killed whole after 60 s). */
function runShell(line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const child = spawn('bash', ['-c', `set -o pipefail; ${line}`], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const timer = setTimeout(() => killGroup(child), 60_000);
  return new Promise((res) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      res({ code, output });
    }),
  );
}
