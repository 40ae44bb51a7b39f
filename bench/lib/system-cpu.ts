// CPU time the whole machine spent busy (all cores, from /proc/stat), to tell how much of it went to
// processes other than the benchmark's during a measurement: other load makes figures noisy.
import { readFileSync } from 'node:fs';

const ticksPerSecond = 100;

/** Busy CPU seconds since boot, summed over cores (everything but idle and iowait). */
export function machineBusySeconds(): number | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    return (user + nice + system + irq + softirq + steal) / ticksPerSecond;
  } catch {
    return null;
  }
}

/** Cores kept busy (by anything) over the next `ms` milliseconds. */
export async function busyCores(ms: number): Promise<number | null> {
  const before = machineBusySeconds();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = machineBusySeconds();
  if (before === null || after === null) return null;
  return (after - before) / ((performance.now() - started) / 1000);
}

/**
 * Waits (at most `maxMs`) until the machine is nearly idle, so a measurement does not start in the
 * middle of someone else's burst of work. Returns the load it last saw.
 */
export async function waitForQuiet(maxMs: number, threshold = 0.25): Promise<number | null> {
  const deadline = performance.now() + maxMs;
  for (;;) {
    const load = await busyCores(250);
    if (load === null || load <= threshold || performance.now() >= deadline) return load;
  }
}
