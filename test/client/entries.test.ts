// The Node and browser entries export the same names (checked by the type checker and at run time),
// and the platform-neutral core imports nothing Node-only.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as browser from '../../src/client/browser/index.js';
import * as node from '../../src/client/node/index.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Fails to compile (npm run typecheck) when one entry exports a name the other does not.
const sameNames: Same<keyof typeof node, keyof typeof browser> = true;

describe('client entries', () => {
  it('export the same names', () => {
    expect(sameNames).toBe(true);
    expect(Object.keys(node).sort()).toEqual(Object.keys(browser).sort());
    expect(typeof node.upload).toBe('function');
    expect(typeof browser.upload).toBe('function');
  });

  it('the core (src/client/*.ts, engine/, upload/, download/) imports nothing Node-only and uses no Buffer', async () => {
    const root = join(import.meta.dirname, '../../src/client');
    let count = 0;
    for (const sub of ['.', 'engine', 'upload', 'download']) {
      const dir = join(root, sub);
      for (const f of (await readdir(dir)).filter((n) => n.endsWith('.ts'))) {
        count++;
        const text = await readFile(join(dir, f), 'utf8');
        expect(text, `${sub}/${f}`).not.toMatch(/from ['"]node:|require\(|\bBuffer\b|process\./);
        expect(text, `${sub}/${f}`).not.toMatch(/from ['"](\.|\.\.)\/(node|browser)\//);
      }
    }
    expect(count).toBeGreaterThan(30);
  });

  it('the browser adapters import nothing Node-only', async () => {
    const dir = join(import.meta.dirname, '../../src/client/browser');
    for (const f of await readdir(dir)) {
      expect(await readFile(join(dir, f), 'utf8'), f).not.toMatch(/from ['"]node:|\bBuffer\b|process\./);
    }
  });
});
