// Upload a file with the library: npx tsx examples/upload-file.ts big.iso [http://localhost:8080]
import { upload } from 'ferry/client/node';

const [file, server = 'http://localhost:8080'] = process.argv.slice(2);
if (!file) throw new Error('usage: examples/upload-file.ts <file> [server]');

const handle = upload(file, { server, concurrency: 'auto' });
handle.on('progress', (p) => console.log(`${p.bytesAcked}/${p.totalBytes} bytes, ${p.inFlight} in flight`));
const result = await handle.result; // { fileId, fileUrl, size, chunks, bytesSent, resumed, ... }
console.log(result.fileUrl);
