// A small tmpfs for disk-full tests, when this process may mount one (root on Linux).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type SmallFs = { dir: string; unmount(): void } | { reason: string };

export function mountSmallFilesystem(size: string): SmallFs {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return {
      dir,
      unmount: () => {
        execFileSync('umount', [dir], { stdio: 'pipe' });
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    return { reason: stderr || (e as Error).message };
  }
}
