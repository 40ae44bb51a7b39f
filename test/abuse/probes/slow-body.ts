// Row 6: chunk bodies sent at 1 byte every 20 s. The server's default minimum body rate must answer
// 408 within its window (about 30 s), not after the 15-minute request timeout. The probe gives up
// waiting after 60 s and reports the connections still held.
import net from 'node:net';
import { sha256Field } from '../../helpers/digest.js';
import type { ProbeSpec } from '../support/harness.js';
import { createUpload, KiB } from '../support/ferry.js';

interface Held {
  status: number | null;
  ms: number;
}

/** Writes a chunk PUT's head, then one body byte every `dripMs`; resolves when the server answers or closes, or at `giveUpMs`. */
function slowBody(port: number, uploadId: string, size: number, dripMs: number, giveUpMs: number): Promise<Held> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const body = Buffer.alloc(size, 'x');
    const sock = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    let sent = 0;
    let drip: NodeJS.Timeout | undefined;
    const finish = () => {
      clearInterval(drip);
      clearTimeout(giveUp);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, ms: Date.now() - t0 });
    };
    const giveUp = setTimeout(finish, giveUpMs);
    sock.on('error', () => {});
    sock.on('close', finish);
    sock.setEncoding('latin1').on('data', (d: string) => {
      text += d;
      if (/\r\n\r\n/.test(text)) finish();
    });
    sock.on('connect', () => {
      sock.write(`PUT /uploads/${uploadId}/chunks/0 HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-digest: ${sha256Field(body)}\r\ncontent-length: ${size}\r\n\r\n`);
      sock.write(body.subarray(sent, ++sent));
      drip = setInterval(() => sock.write(body.subarray(sent, ++sent)), dripMs);
    });
  });
}

export function slowBodyProbe(o: { bodies?: number; dripMs?: number; giveUpMs?: number; answerWithinMs?: number } = {}): ProbeSpec {
  const bodies = o.bodies ?? 10;
  const dripMs = o.dripMs ?? 20_000;
  const giveUpMs = o.giveUpMs ?? 60_000;
  const within = o.answerWithinMs ?? 40_000;
  return {
    id: 'slow-body',
    title: `${bodies} chunk bodies sent at 1 byte every ${dripMs / 1000} s`,
    bound: `408 within ${within / 1000} s (default minimum rate over its window); 0 5xx`,
    async run(env) {
      const http = env.http;
      const ids: string[] = [];
      for (let i = 0; i < bodies; i++) {
        const c = await createUpload(http, { name: `slow-${i}.bin`, size: 1 * KiB });
        if (c.status === 201) ids.push(c.json.uploadId);
      }
      const held = await env.measure(() => Promise.all(ids.map((id) => slowBody(env.port, id, 1 * KiB, dripMs, giveUpMs))));
      for (const h of held) http.record(h.status);
      const answered = held.filter((h) => h.status !== null);
      const slowest = Math.max(0, ...held.map((h) => h.ms));
      const statuses = [...new Set(answered.map((h) => h.status))].join('/');
      return {
        result: answered.length === held.length ? `all answered ${statuses} after ≤ ${(slowest / 1000).toFixed(1)} s` : `${held.length - answered.length} of ${held.length} still held after ${giveUpMs / 1000} s${answered.length ? `; ${answered.length} answered ${statuses}` : ''}`,
        checks: { [`408 within ${within / 1000} s`]: held.length === bodies && held.every((h) => h.status === 408 && h.ms <= within) },
      };
    },
  };
}
