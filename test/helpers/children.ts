// Child processes tests start (CLI runs, servers), so that whatever happens to a test they are stopped.
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

/** Remembers `child` until it exits; returns it. */
export function track<C extends ChildProcess>(child: C): C {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** SIGKILLs every tracked child still running (after each test, passed, failed or timed out). */
export function killStragglers(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}
