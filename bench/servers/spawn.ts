// Starting the servers the contenders talk to: Ferry (the built CLI), the raw PUT reference, tus, nginx.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { processTreeCpuSeconds, startService, type Service } from '../lib/procs.js';

export interface Server extends Service {
  url: string;
  /** Where it keeps bytes (emptied between runs by the contenders). */
  dataDir: string;
}

const tsx = ['--import', 'tsx'];

/** Node flags the Ferry server runs with: those of `npm start` (package.json), see docs/operations.md. */
export const ferryServerNodeFlags = ['--single-threaded-gc'];

export async function startFerry(repo: string, dataDir: string, extra: string[] = [], nodeFlags = ferryServerNodeFlags): Promise<Server> {
  const args = [...nodeFlags, join(repo, 'dist/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...extra];
  const service = await startService(process.execPath, args, { line: listening }, { what: 'ferry serve', cwd: repo });
  return { ...service, url: service.ready, dataDir };
}

function listening(line: string): string | null {
  try {
    const entry = JSON.parse(line) as { event?: string; url?: string };
    return entry.event === 'listening' && entry.url ? entry.url : null;
  } catch {
    return null;
  }
}

export async function startRawPut(repo: string, dataDir: string, sync: boolean): Promise<Server> {
  const args = [...tsx, join(repo, 'bench/servers/raw-put-server.ts'), dataDir, ...(sync ? [] : ['--no-sync'])];
  const service = await startService(process.execPath, args, { line: readyUrl }, { what: 'raw PUT server', cwd: repo });
  return { ...service, url: service.ready, dataDir };
}

export async function startTus(repo: string, dataDir: string): Promise<Server> {
  const args = [...tsx, join(repo, 'bench/servers/tus-server.ts'), dataDir];
  const service = await startService(process.execPath, args, { line: readyUrl }, { what: '@tus/server', cwd: repo });
  return { ...service, url: service.ready, dataDir };
}

function readyUrl(line: string): string | null {
  return /^listening (\S+)/.exec(line)?.[1] ?? null;
}

/**
 * nginx with its own configuration on a free loopback port (no system service), serving `root`
 * with sendfile, no access log.
 */
export async function startNginx(nginx: string, workDir: string, root: string): Promise<Server> {
  const port = await freePort();
  const conf = join(workDir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes auto;
pid ${workDir}/nginx.pid;
error_log ${workDir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${workDir}/body;
  proxy_temp_path ${workDir}/proxy;
  fastcgi_temp_path ${workDir}/fastcgi;
  uwsgi_temp_path ${workDir}/uwsgi;
  scgi_temp_path ${workDir}/scgi;
  types { application/octet-stream bin; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`,
  );
  const url = `http://127.0.0.1:${port}`;
  // nginx prints nothing when it is up: poll the port.
  const probe = async () => ((await fetch(url + '/', { method: 'HEAD' }).catch(() => null)) ? url : null);
  const service = await startService(nginx, ['-p', workDir, '-e', `${workDir}/error.log`, '-c', conf], { probe }, { what: 'nginx' });
  // The workers do the serving: count their CPU with the master's.
  return { ...service, url, dataDir: root, cpuSeconds: () => processTreeCpuSeconds(service.pid) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The servers a section starts: each kept as it starts, all stopped together when the section ends. */
export class ServerSet {
  readonly all: Server[] = [];

  async add(starting: Promise<Server>): Promise<Server> {
    const server = await starting;
    this.all.push(server);
    return server;
  }

  /** @tus/server, or null when it cannot start (said through `log`): its rows are then skipped. */
  tusOrSkip(repo: string, dataDir: string, log: (line: string) => void): Promise<Server | null> {
    return this.add(startTus(repo, dataDir)).catch((e: Error) => {
      log(`  @tus/server did not start (${e.message.split('\n')[0]}): its rows are skipped`);
      return null;
    });
  }

  stop(): Promise<unknown> {
    return Promise.all(this.all.map((s) => s.stop()));
  }
}
