// Ferry's download library with default options (verified against the manifest, parallel ranges,
// fdatasync before it finishes); prints one JSON line.
// Run: node --import tsx bench/clients/ferry-lib-download.ts <url> <out>
import { download } from 'ferry/client/node/download';

const [url, out] = process.argv.slice(2) as [string, string];
const cpuBefore = process.cpuUsage();
const started = performance.now();
const result = await download(url, out).result;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, size: result.size, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
