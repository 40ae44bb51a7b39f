// tus-js-client uploads: to @tus/server with @tus/file-store (both at their defaults), and to Ferry's
// tus endpoint (/tus/). The client is the same script either way (bench/clients/tus-upload.ts).
import { join } from 'node:path';
import type { Contender } from '../lib/contender.js';
import { emptyDir } from '../lib/workdir.js';
import type { Server } from '../servers/spawn.js';
import { emptyFerry, lastJson, measureClient, tsxArgs, type Env } from './common.js';

export function tusUpload(env: Env, file: string, server: Server | null, skip: string | null = null): Contender {
  return tusClient(env, file, {
    id: 'tus',
    label: 'tus-js-client → @tus/server (file-store)',
    server,
    endpoint: server?.url ?? null,
    skip,
    clean: () => (server ? emptyDir(server.dataDir) : Promise.resolve()),
  });
}

export interface TusClientTarget {
  id: string;
  label: string;
  /** The server whose CPU is counted with the client's; null when it did not start (then `skip` says why). */
  server: Server | null;
  /** The tus creation URL. */
  endpoint: string | null;
  /** tus-js-client's parallelUploads (default 1: one PATCH of the whole file). */
  parallelUploads?: number;
  skip?: string | null;
  /** Deletes what a run stored (not timed). */
  clean: () => Promise<void>;
}

/** tus-js-client (in Node, timed inside its process like the Ferry library) uploading `file`. */
export function tusClient(env: Env, file: string, t: TusClientTarget): Contender {
  const script = join(env.repo, 'bench/clients/tus-upload.ts');
  const parallel = t.parallelUploads && t.parallelUploads > 1 ? [String(t.parallelUploads)] : [];
  return {
    id: t.id,
    label: t.label,
    skip: t.skip ?? null,
    run: async () => {
      const server = t.server;
      if (!server || !t.endpoint) throw new Error('no tus server');
      const serverBefore = server.cpuSeconds();
      const { run } = await measureClient(process.execPath, [...tsxArgs, script, file, t.endpoint, ...parallel], null);
      const r = lastJson<{ seconds: number; cpuSeconds: number; maxRssBytes: number }>(run.stdout);
      const serverCpu = server.cpuSeconds() - serverBefore;
      return { seconds: r.seconds, cpuSeconds: r.cpuSeconds + serverCpu, ownCpuSeconds: run.cpuSeconds + serverCpu, peakRssBytes: r.maxRssBytes };
    },
    after: t.clean,
  };
}

/** tus-js-client to a Ferry server's tus endpoint. */
export function tusToFerry(env: Env, file: string, id: string, label: string, server: Server, parallelUploads = 1): Contender {
  return tusClient(env, file, { id, label, server, endpoint: `${server.url.replace(/\/+$/, '')}/tus/`, parallelUploads, clean: () => emptyFerry(server) });
}
