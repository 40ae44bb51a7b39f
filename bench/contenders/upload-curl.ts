// The physical reference: curl -T of the whole file into the minimal Node server (raw-put-server.ts).
import type { Contender } from '../lib/contender.js';
import { emptyDir } from '../lib/workdir.js';
import type { Server } from '../servers/spawn.js';
import { measureClient } from './common.js';

export function curlPut(curl: string | null, id: string, label: string, file: string, server: Server | null): Contender {
  return {
    id,
    label,
    skip: curl ? null : 'curl is not installed',
    run: async () => (await measureClient(curl!, ['-sS', '-f', '-o', '/dev/null', '-T', file, `${server!.url}/upload`], server)).m,
    after: async () => {
      if (server) await emptyDir(server.dataDir);
    },
  };
}
