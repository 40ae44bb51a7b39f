// The outside tools some contenders need: found, installed (root + apt only), or reported missing.
import { existsSync } from 'node:fs';
import { capture, runMeasured } from './procs.js';

export interface Tools {
  curl: string | null;
  aria2c: string | null;
  nginx: string | null;
}

const packages: Record<keyof Tools, string> = { curl: 'curl', aria2c: 'aria2', nginx: 'nginx' };

async function find(name: string): Promise<string | null> {
  const found = (await capture('sh', ['-c', `command -v ${name}`]))?.trim();
  if (found) return found;
  // nginx lives in /usr/sbin, which a non-root PATH may lack.
  for (const dir of ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin']) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  return null;
}

/** Finds the tools; when some are missing and we are root with apt-get, installs them once. */
export async function prepareTools(log: (line: string) => void, options: { install: boolean }): Promise<Tools> {
  const tools: Tools = { curl: await find('curl'), aria2c: await find('aria2c'), nginx: await find('nginx') };
  const missing = (Object.keys(tools) as (keyof Tools)[]).filter((k) => tools[k] === null);
  if (missing.length === 0) return tools;
  const pkgs = missing.map((k) => packages[k]);
  const root = process.getuid?.() === 0;
  const apt = await find('apt-get');
  if (options.install && root && apt) {
    log(`installing ${pkgs.join(' ')} (apt-get install -y)…`);
    let r = await runMeasured(apt, ['install', '-y', ...pkgs], { env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 300_000 });
    if (r.code !== 0) {
      await runMeasured(apt, ['update'], { timeoutMs: 300_000 });
      r = await runMeasured(apt, ['install', '-y', ...pkgs], { env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 300_000 });
    }
    if (r.code !== 0) log(`apt-get install failed: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
    for (const k of missing) tools[k] = await find(k);
  }
  for (const k of missing) {
    if (tools[k] === null) {
      const why = !options.install ? 'installing disabled' : !root ? 'not root, so not installed' : !apt ? 'no apt-get' : 'install failed';
      log(`${k} not found (${why}): contenders that need it are skipped. Install package "${packages[k]}" to include them.`);
    }
  }
  return tools;
}
