// Downloads of one stored file: Ferry's verified parallel client, curl, and aria2c -x4 -s4.
import { stat, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Contender, Measurement } from '../lib/contender.js';
import type { Server } from '../servers/spawn.js';
import { measureClient, type Env } from './common.js';

interface Target {
  /** The file's URL. */
  url: string;
  /** Where the client writes it. */
  out: string;
  size: number;
  /** The server serving it (for its CPU time). */
  server: Server | null;
}

async function checked(t: Target, m: Measurement): Promise<Measurement> {
  const got = (await stat(t.out)).size;
  if (got !== t.size) throw new Error(`downloaded ${got} bytes, expected ${t.size}`);
  return m;
}

async function removeOutput(t: Target): Promise<void> {
  const dir = dirname(t.out);
  for (const name of [basename(t.out), `${basename(t.out)}.aria2`, `${basename(t.out)}.part`, `${basename(t.out)}.ferry`]) {
    await rm(join(dir, name), { force: true });
  }
}

/** `ferry download` of this build, or of the `--baseline` build when `baseline` is given (side by side). */
export function ferryDownload(env: Env, t: Target, skip: string | null, baseline?: string): Contender {
  const cli = join(baseline ?? env.repo, 'dist/cli/main.js');
  return {
    id: baseline ? 'ferry-download-baseline' : 'ferry-download',
    label: baseline ? 'Ferry download, baseline build ← Ferry' : 'Ferry download (verified, parallel) ← Ferry',
    skip,
    run: async () => checked(t, (await measureClient(process.execPath, [cli, 'download', t.url, '-o', t.out], t.server, env.clientEnv)).m),
    after: () => removeOutput(t),
  };
}

export function curlGet(curl: string | null, id: string, label: string, t: Target, skip: string | null = null): Contender {
  return {
    id,
    label,
    skip: skip ?? (curl ? null : 'curl is not installed'),
    run: async () => checked(t, (await measureClient(curl!, ['-sS', '-f', '-o', t.out, t.url], t.server)).m),
    after: () => removeOutput(t),
  };
}

export function aria2Get(aria2c: string | null, id: string, label: string, t: Target, skip: string | null = null): Contender {
  const args = ['-x4', '-s4', '--quiet=true', '--allow-overwrite=true', '--auto-file-renaming=false', '-d', dirname(t.out), '-o', basename(t.out), t.url];
  return {
    id,
    label,
    skip: skip ?? (aria2c ? null : 'aria2c is not installed (package aria2)'),
    run: async () => checked(t, (await measureClient(aria2c!, args, t.server)).m),
    after: () => removeOutput(t),
  };
}
