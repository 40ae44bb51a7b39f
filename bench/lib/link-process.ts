// Runs the emulated link in a process of its own, at a higher priority where allowed: on a shared
// two-core machine the bench's own process (or another program) must not stall the "network" and
// count against the transfer. Its CPU time is its own too, so it can be reported.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import type { LinkOptions, LinkStats } from './link.js';
import { startService } from './procs.js';

export interface LinkProcess {
  url: string;
  /** The emulator's process (a test tracks it, so a timed-out test still stops it). */
  child: ChildProcess;
  /** Stops the link; its counters and CPU seconds. */
  stop(): Promise<{ stats: LinkStats; cpuSeconds: number }>;
}

export async function startLinkProcess(repo: string, target: string, options: LinkOptions): Promise<LinkProcess> {
  const script = join(repo, 'bench/lib/link-main.ts');
  const service = await startService(process.execPath, ['--import', 'tsx', script, target, JSON.stringify(options)], { line: (l) => /^listening (\d+)$/.exec(l)?.[1] ?? null }, { what: 'link emulator', cwd: repo });
  const closed = once(service.child, 'close'); // after its output is all read
  try {
    setPriority(service.pid, -10); // root only; otherwise it runs at the normal priority
  } catch {
    // not permitted: fine
  }
  return {
    url: `http://127.0.0.1:${service.ready}`,
    child: service.child,
    async stop() {
      const cpuSeconds = service.cpuSeconds();
      await service.stop();
      await closed;
      const line = [...service.lines].reverse().find((l) => l.startsWith('stats '));
      if (!line) throw new Error(`the link emulator stopped without its figures: ${service.lines.slice(-3).join(' | ')}`);
      return { stats: JSON.parse(line.slice(6)) as LinkStats, cpuSeconds };
    },
  };
}
