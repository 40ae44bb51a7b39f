// tus-js-client with default options (one PATCH streaming the whole file); prints one JSON line.
// Run: node --import tsx bench/clients/tus-upload.ts <file> <endpoint>
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { Upload } from 'tus-js-client';

const [file, endpoint] = process.argv.slice(2) as [string, string];
const cpuBefore = process.cpuUsage();
const started = performance.now();
const url = await new Promise<string>((resolve, reject) => {
  const up = new Upload(createReadStream(file), {
    endpoint,
    metadata: { filename: basename(file) },
    onError: reject,
    onSuccess: () => resolve(up.url ?? ''),
  });
  up.start();
});
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, url, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
