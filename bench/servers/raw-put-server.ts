// The physical reference for uploads: the least a Node server can do with a PUT body. It streams the
// body to a file on the same disk and, unless --no-sync, fdatasyncs it before answering.
// Run: node --import tsx bench/servers/raw-put-server.ts <dir> [--no-sync]
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = process.argv[2]!;
const sync = !process.argv.includes('--no-sync');
let count = 0;

const server = createServer(async (req, res) => {
  try {
    const fh = await open(join(dir, `put-${process.pid}-${count++}`), 'w');
    try {
      await pipeline(req, createWriteStream('', { fd: fh.fd, autoClose: false }));
      if (sync) await fh.datasync();
    } finally {
      await fh.close();
    }
    res.writeHead(201, { 'content-length': 0 }).end();
  } catch (e) {
    res.writeHead(500).end(String(e));
  }
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
