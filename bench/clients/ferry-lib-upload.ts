// Ferry's library as an application would use it; prints one JSON line. Default options, or a fixed
// chunk size and concurrency when given (the cluster section matches them to the S3 reference's).
// Run: node --import tsx bench/clients/ferry-lib-upload.ts <file> <server> [chunkSize concurrency]
import { upload } from 'ferry/client/node';

const [file, server, chunkSize, concurrency] = process.argv.slice(2) as [string, string, string?, string?];
const fixed = chunkSize && concurrency ? { chunkSize: Number(chunkSize), concurrency: Number(concurrency) } : {};
const cpuBefore = process.cpuUsage();
const started = performance.now();
const result = await upload(file, { server, ...fixed }).result;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, fileUrl: result.fileUrl, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
