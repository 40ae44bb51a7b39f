// How much system time writing 1 GiB into a fresh file costs on this machine, run after run, the way
// the download client writes (a sparse file, five 8 MiB ranges at once, 1 MiB writes), then one
// fdatasync. On a VM whose free memory goes back to the host, the same writes can cost several times
// more in some runs than in others (pages faulted in again), which spreads every download figure.
// Run: node bench/probes/page-cache-write.mjs [directory] [runs]   (default: the OS temp dir, 6 runs)
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const dir = process.argv[2] ?? tmpdir();
const runs = Number(process.argv[3] ?? 6);
const MiB = 2 ** 20;
const path = join(dir, `ferry-page-cache-probe-${process.pid}.bin`);
const block = Buffer.alloc(MiB, 7);

for (let run = 1; run <= runs; run++) {
  execFileSync('sync');
  const fh = await open(path, 'w');
  await fh.truncate(1024 * MiB);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  const ranges = async () => {
    while (next < 128) {
      const chunk = next++;
      for (let i = 0; i < 8; i++) await fh.write(block, 0, MiB, (chunk * 8 + i) * MiB);
    }
  };
  await Promise.all([ranges(), ranges(), ranges(), ranges(), ranges()]);
  const c1 = process.cpuUsage(c0);
  const t1 = performance.now();
  await fh.datasync();
  const t2 = performance.now();
  await fh.close();
  await rm(path);
  console.log(
    `run ${run}: writes ${((t1 - t0) / 1000).toFixed(2)} s (system ${(c1.system / 1e6).toFixed(2)} s, user ${(c1.user / 1e6).toFixed(2)} s), fdatasync ${((t2 - t1) / 1000).toFixed(2)} s`,
  );
}
