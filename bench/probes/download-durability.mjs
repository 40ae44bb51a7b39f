// What making the downloaded file durable costs Ferry's download on this machine: the library's
// download (the CLI's code path: worker SHA-256, range transport) run alternately as shipped and with
// the `.part` file's fdatasync() turned into a no-op (nothing else changes; the sidecar is still
// written). Times are in-process (no Node start-up); CPU is this process's user + system time.
// Needs a file on a running Ferry server, e.g.:
//   node dist/cli/main.js serve -p 8099 -d /tmp/probe-data &
//   head -c 1G /dev/urandom > /tmp/probe.bin && node dist/cli/main.js upload -s http://localhost:8099 /tmp/probe.bin
// Run: npm run build && node bench/probes/download-durability.mjs <file URL> [runs] [directory]
//      (defaults: 6 runs of each, the OS temp dir)
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileTarget, createRangeTransport, startDownload } from '../../dist/client/node/download.js';
import { createNodeTransport } from '../../dist/client/node/http-transport.js';
import { createWorkerHasher } from '../../dist/client/node/worker-hasher.js';

const url = process.argv[2];
if (!url) throw new Error('usage: node bench/probes/download-durability.mjs <file URL> [runs] [directory]');
const runs = Number(process.argv[3] ?? 6);
const out = join(process.argv[4] ?? tmpdir(), `ferry-durability-probe-${process.pid}.bin`);
const platform = { hasher: createWorkerHasher(), fetch: createNodeTransport(), ranges: createRangeTransport() };

/** The shipped file target, but its `.part` never fdatasyncs. */
function withoutSync(target) {
  const openPart = target.openPart.bind(target);
  target.openPart = async (size, mode) => {
    const part = await openPart(size, mode);
    if (part) part.sync = async () => {};
    return part;
  };
  return target;
}

const variants = {
  'as shipped (fdatasync)': () => createFileTarget(out),
  'no fdatasync of the .part': () => withoutSync(createFileTarget(out)),
};
const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let run = 0; run < runs; run++) {
  for (const [name, target] of Object.entries(variants)) {
    for (const f of [out, `${out}.part`, `${out}.part.ferry`]) await rm(f, { force: true });
    execFileSync('sync');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await startDownload(url, target(), { resume: false }, platform).result;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    results[name].push(seconds);
    console.log(`${name.padEnd(28)} run ${run + 1}: ${seconds.toFixed(2)} s (user ${(cpu.user / 1e6).toFixed(2)} s, system ${(cpu.system / 1e6).toFixed(2)} s)`);
  }
}
for (const f of [out, `${out}.part`, `${out}.part.ferry`]) await rm(f, { force: true });
for (const [name, list] of Object.entries(results)) {
  const sorted = [...list].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  console.log(`${name.padEnd(28)} median ${median.toFixed(2)} s, ${sorted[0].toFixed(2)}–${sorted.at(-1).toFixed(2)} s`);
}
process.exit(0);
