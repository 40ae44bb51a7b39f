// Ferry uploads: the CLI (one process, as a user runs it) and the library (in-process timing).
import { join } from 'node:path';
import type { Contender } from '../lib/contender.js';
import type { Server } from '../servers/spawn.js';
import { emptyFerry, lastJson, measureClient, tsxArgs, type Env } from './common.js';

/** `ferry upload` of this build (or of another checkout's build: `repo`, for side-by-side rows). */
export function ferryCliUpload(env: Env, id: string, label: string, file: string, server: Server, args: string[] = [], repo = env.repo): Contender {
  const cli = join(repo, 'dist/cli/main.js');
  return {
    id,
    label,
    run: async () => {
      const { m, run } = await measureClient(process.execPath, [cli, 'upload', file, '--server', server.url, '--json', ...args], server, env.clientEnv);
      const done = lastJson<{ event: string; fileUrl?: string; durationMs?: number }>(run.stdout);
      if (done.event !== 'done' || !done.fileUrl) throw new Error(`upload did not finish: ${JSON.stringify(done).slice(0, 200)}`);
      // The engine's own time, from creating the upload to the file: the rest is process start and exit.
      return done.durationMs === undefined ? m : { ...m, extra: { engineSeconds: done.durationMs / 1000 } };
    },
    after: () => emptyFerry(server),
  };
}

export function ferryLibUpload(env: Env, id: string, label: string, file: string, server: Server): Contender {
  const script = join(env.repo, 'bench/clients/ferry-lib-upload.ts');
  return {
    id,
    label,
    run: async () => {
      const serverBefore = server.cpuSeconds();
      const { run } = await measureClient(process.execPath, [...tsxArgs, script, file, server.url], null, env.clientEnv);
      const r = lastJson<{ seconds: number; cpuSeconds: number; maxRssBytes: number }>(run.stdout);
      const serverCpu = server.cpuSeconds() - serverBefore;
      return { seconds: r.seconds, cpuSeconds: r.cpuSeconds + serverCpu, ownCpuSeconds: run.cpuSeconds + serverCpu, peakRssBytes: r.maxRssBytes };
    },
    after: () => emptyFerry(server),
  };
}
