// How much system time writing 1 GiB into a fresh file costs on this machine, run after run, the way
// the download client writes (a sparse file, five 8 MiB ranges at once), then one fdatasync, for a
// given size of each write. On the benchmark VM, 1 MiB writes cost several times more in some runs
// than in others (the kernel finding room for large page-cache folios), 256 KiB ones did not.
// Run: node bench/probes/page-cache-write.mjs [directory] [runs] [write KiB]
//      (defaults: the OS temp dir, 6 runs, 1024 KiB)
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const dir = process.argv[2] ?? tmpdir();
const runs = Number(process.argv[3] ?? 6);
const MiB = 2 ** 20;
const writeBytes = Number(process.argv[4] ?? 1024) * 1024;
if (!(writeBytes > 0 && (8 * MiB) % writeBytes === 0)) throw new Error('the write size must divide 8 MiB');
const path = join(dir, `ferry-page-cache-probe-${process.pid}.bin`);
const block = Buffer.alloc(writeBytes, 7);

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
      for (let at = 0; at < 8 * MiB; at += writeBytes) await fh.write(block, 0, writeBytes, chunk * 8 * MiB + at);
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
    `${writeBytes / 1024} KiB writes, run ${run}: writes ${((t1 - t0) / 1000).toFixed(2)} s (system ${(c1.system / 1e6).toFixed(2)} s, user ${(c1.user / 1e6).toFixed(2)} s), fdatasync ${((t2 - t1) / 1000).toFixed(2)} s`,
  );
}
