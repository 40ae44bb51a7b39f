// tus-js-client → @tus/server with @tus/file-store, both at their defaults.
import { join } from 'node:path';
import type { Contender } from '../lib/contender.js';
import { emptyDir } from '../lib/workdir.js';
import type { Server } from '../servers/spawn.js';
import { lastJson, measureClient, tsxArgs, type Env } from './common.js';

export function tusUpload(env: Env, file: string, server: Server | null, skip: string | null = null): Contender {
  const script = join(env.repo, 'bench/clients/tus-upload.ts');
  return {
    id: 'tus',
    label: 'tus-js-client → @tus/server (file-store)',
    skip,
    run: async () => {
      if (!server) throw new Error('no tus server');
      const serverBefore = server.cpuSeconds();
      const { run } = await measureClient(process.execPath, [...tsxArgs, script, file, server.url], null);
      const r = lastJson<{ seconds: number; cpuSeconds: number; maxRssBytes: number }>(run.stdout);
      const serverCpu = server.cpuSeconds() - serverBefore;
      return { seconds: r.seconds, cpuSeconds: r.cpuSeconds + serverCpu, ownCpuSeconds: run.cpuSeconds + serverCpu, peakRssBytes: r.maxRssBytes };
    },
    after: async () => {
      if (server) await emptyDir(server.dataDir);
    },
  };
}
