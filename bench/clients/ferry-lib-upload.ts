// Ferry's library with default options, as an application would use it; prints one JSON line.
// Run: node --import tsx bench/clients/ferry-lib-upload.ts <file> <server>
import { upload } from 'ferry/client/node';

const [file, server] = process.argv.slice(2) as [string, string];
const cpuBefore = process.cpuUsage();
const started = performance.now();
const result = await upload(file, { server }).result;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, fileUrl: result.fileUrl, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
