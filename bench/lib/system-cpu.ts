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
