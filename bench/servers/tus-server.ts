// tus's reference server with its file store, default settings.
// Run: node --import tsx bench/servers/tus-server.ts <dir>
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import type { AddressInfo } from 'node:net';

const server = new Server({ path: '/files', datastore: new FileStore({ directory: process.argv[2]! }) });
const http = server.listen({ host: '127.0.0.1', port: 0 }, () => {
  console.log(`listening http://127.0.0.1:${(http.address() as AddressInfo).port}/files`);
});
