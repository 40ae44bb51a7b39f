// tus-js-client with default options (one PATCH streaming the whole file), or with `parallelUploads: N`
// (N partial uploads, each one PATCH, then a final upload concatenating them); prints one JSON line.
// After the timed upload it asks the upload URL (HEAD) whether the server holds every byte.
// Run: node --import tsx bench/clients/tus-upload.ts <file> <endpoint> [parallelUploads]
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Upload } from 'tus-js-client';

const [file, endpoint, parallel] = process.argv.slice(2) as [string, string, string?];
const parallelUploads = parallel === undefined ? 1 : Number(parallel);

async function main(): Promise<void> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const url = await new Promise<string>((resolve, reject) => {
    const up = new Upload(createReadStream(file), {
      endpoint,
      metadata: { filename: basename(file) },
      ...(parallelUploads > 1 ? { parallelUploads } : {}),
      onError: reject,
      onSuccess: () => resolve(up.url ?? ''),
    });
    up.start();
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;

  const size = statSync(file).size;
  const head = await fetch(url, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } });
  const offset = head.headers.get('upload-offset');
  if (!head.ok || offset !== String(size)) {
    throw new Error(`HEAD ${url} after the upload: ${head.status}, Upload-Offset ${offset ?? 'absent'}, expected ${size}`);
  }
  console.log(JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, url, maxRssBytes }));
}

main().catch((e: unknown) => {
  // One line, last on stderr, for the benchmark's table (tus-js-client's errors span several lines).
  process.stderr.write(`tus upload failed: ${(e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ')}\n`);
  process.exit(1);
});
