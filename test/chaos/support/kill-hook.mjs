// Preloaded into a child `ferry serve` (node --import): SIGKILLs the server at an exact moment of its
// work, named by FERRY_CHAOS_KILL="<point>:<n>" (the n-th time the point is reached). It wraps the
// node:fs/promises and node:http calls the server makes, so the server's own code is untouched.
//
//   create-begun      a new upload's part file exists, its row is not yet written
//   chunk-write       a piece of a chunk body is on disk, the rest is not (mid-chunk)
//   chunk-synced      a chunk's bytes are flushed (fdatasync), not yet recorded
//   chunk-recorded    a chunk is recorded, its 2xx acknowledgement not yet sent
//   complete-synced   completion flushed the part file, not yet renamed
//   complete-renamed  completion renamed the part file into files/, metadata not yet updated
//   close-unlink      an expiry or abort is about to delete a part file (state already changed)
//   close-unlinked    an expiry or abort deleted a part file, the rest of the clean-up not yet done
// With an S3 blob store (the S3 calls the server makes over node:http):
//   s3-created        CreateMultipartUpload answered, the upload's row not yet written
//   s3-part-write     a piece of a part's body is sent to S3, the rest is not (mid-chunk)
//   s3-part-stored    UploadPart answered (the part is in S3), the chunk not yet recorded
//   s3-completed      CompleteMultipartUpload answered (the object exists), the upload not yet complete
import fs, { writeSync } from 'node:fs';
import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import { basename, dirname } from 'node:path';

const spec = process.env.FERRY_CHAOS_KILL ?? '';
const [point, count] = spec.split(':');
let remaining = Number(count);

function reached(name) {
  if (name !== point || !(remaining > 0)) return;
  if (--remaining > 0) return;
  writeSync(1, JSON.stringify({ event: 'chaos-kill', point: name, n: Number(count), time: Date.now() }) + '\n');
  process.kill(process.pid, 'SIGKILL');
}

if (point) {
  const fsp = fs.promises;
  const opened = new WeakMap(); // FileHandle -> { path, flags }
  const isPart = (p) => String(p).endsWith('.part') && basename(dirname(String(p))) === 'uploads';

  const probe = await fsp.open(process.execPath, 'r');
  const proto = Object.getPrototypeOf(probe);
  await probe.close();

  const realOpen = fsp.open;
  fsp.open = async function (path, flags, ...rest) {
    const fh = await realOpen.call(this, path, flags, ...rest);
    opened.set(fh, { path: String(path), flags: String(flags ?? 'r') });
    return fh;
  };
  const after = (method, name, when) => {
    const real = proto[method];
    proto[method] = async function (...args) {
      const result = await real.apply(this, args);
      const info = opened.get(this);
      if (info && isPart(info.path) && when(info)) reached(name);
      return result;
    };
  };
  after('truncate', 'create-begun', (i) => i.flags === 'wx');
  after('write', 'chunk-write', (i) => i.flags === 'r+');
  after('writev', 'chunk-write', (i) => i.flags === 'r+');
  after('datasync', 'chunk-synced', (i) => i.flags === 'r+');
  after('datasync', 'complete-synced', (i) => i.flags === 'r');

  const realRename = fsp.rename;
  fsp.rename = async function (from, to) {
    await realRename.call(this, from, to);
    if (isPart(from)) reached('complete-renamed');
  };
  const realUnlink = fsp.unlink;
  fsp.unlink = async function (path) {
    if (isPart(path)) reached('close-unlink');
    await realUnlink.call(this, path);
    if (isPart(path)) reached('close-unlinked');
  };
  // Outgoing S3 calls, told apart by the operation the SDK names in the query (x-id=...) or by their shape.
  const realRequest = http.request;
  http.request = function (...args) {
    const req = realRequest.apply(this, args);
    const path = String(req.path ?? '');
    const op = /[?&]x-id=([A-Za-z]+)/.exec(path)?.[1] ?? '';
    const uploadPart = op === 'UploadPart' || (req.method === 'PUT' && /[?&]partNumber=/.test(path) && /[?&]uploadId=/.test(path));
    const completeMultipart = op === 'CompleteMultipartUpload' || (req.method === 'POST' && /[?&]uploadId=/.test(path));
    const createMultipart = op === 'CreateMultipartUpload' || (req.method === 'POST' && /[?&]uploads(?:=|&|$)/.test(path));
    if (uploadPart) {
      const realWrite = req.write;
      req.write = function (...w) {
        const flushed = realWrite.apply(this, w);
        reached('s3-part-write');
        return flushed;
      };
    }
    const answered = uploadPart ? 's3-part-stored' : completeMultipart ? 's3-completed' : createMultipart ? 's3-created' : null;
    if (answered) req.once('response', (res) => res.statusCode === 200 && reached(answered));
    return req;
  };
  syncBuiltinESMExports();

  const realWriteHead = http.ServerResponse.prototype.writeHead;
  http.ServerResponse.prototype.writeHead = function (status, ...rest) {
    const req = this.req;
    const chunkAck = req && (req.method === 'PUT' || (req.method === 'POST' && /octet-stream/.test(String(req.headers['content-type']))));
    if (chunkAck && (status === 200 || status === 201)) reached('chunk-recorded');
    return realWriteHead.call(this, status, ...rest);
  };
}
