// Row 7: fifteen thousand connections from one client, each making one request and then sitting idle.
// A connection cap must refuse beyond it, and an idle keep-alive connection must be closed within
// seconds. The probe waits at most 15 s after the last answer, then reports what is still held.
import net from 'node:net';
import type { ProbeSpec } from '../support/harness.js';

interface Conn {
  settled: Promise<void>;
  answeredAt: number | null;
  status: number | null;
  closedAt: number | null;
  error: string | null;
  sock: net.Socket;
}

function idleAfterOneRequest(port: number): Conn {
  const sock = net.connect({ port, host: '127.0.0.1' });
  let onSettled!: () => void;
  const c: Conn = { settled: new Promise<void>((r) => (onSettled = r)), answeredAt: null, status: null, closedAt: null, error: null, sock };
  let text = '';
  sock.on('error', (e: NodeJS.ErrnoException) => (c.error = e.code ?? e.message));
  sock.on('connect', () => sock.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n'));
  sock.setEncoding('latin1').on('data', (d: string) => {
    text += d;
    if (c.answeredAt === null && text.includes('\r\n\r\n')) {
      c.answeredAt = Date.now();
      c.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0) || null;
      onSettled();
    }
  });
  sock.on('close', () => {
    c.closedAt = Date.now();
    onSettled();
  });
  return c;
}

export function connectionsProbe(o: { connections?: number; keepAliveWithinMs?: number; waitMs?: number } = {}): ProbeSpec {
  const count = o.connections ?? 15_000;
  const within = o.keepAliveWithinMs ?? 10_000;
  const waitMs = o.waitMs ?? 15_000;
  return {
    id: 'connections',
    title: `${count.toLocaleString('en')} connections from one client, each idle after one request`,
    bound: `a cap refuses beyond it; idle keep-alive closed within ${within / 1000} s; 0 5xx`,
    manyConnections: true,
    async run(env) {
      const all: Conn[] = [];
      let peakOpen = 0;
      let lastAnswer = Date.now();
      await env.measure(async () => {
        for (let opened = 0; opened < count; ) {
          const batch = Array.from({ length: Math.min(500, count - opened) }, () => idleAfterOneRequest(env.port));
          all.push(...batch);
          opened += batch.length;
          await Promise.race([Promise.all(batch.map((c) => c.settled)), new Promise((r) => setTimeout(r, 5_000))]);
          peakOpen = Math.max(peakOpen, all.filter((c) => c.answeredAt !== null && c.closedAt === null).length);
          // The client's own descriptors ran out: what was opened is the probe.
          if (batch.some((c) => c.error === 'EMFILE')) break;
        }
        lastAnswer = Math.max(...all.map((c) => c.answeredAt ?? 0));
        const deadline = lastAnswer + waitMs;
        while (Date.now() < deadline && all.some((c) => c.answeredAt !== null && c.closedAt === null)) await new Promise((r) => setTimeout(r, 100));
      });
      const answered = all.filter((c) => c.answeredAt !== null);
      const refused = all.filter((c) => c.answeredAt === null && c.closedAt !== null && c.error !== 'EMFILE');
      const stillOpen = answered.filter((c) => c.closedAt === null).length;
      const closeAfter = answered.filter((c) => c.closedAt !== null).map((c) => c.closedAt! - c.answeredAt!).sort((a, b) => a - b);
      const maxClose = closeAfter.at(-1) ?? 0;
      const clientErrors = all.filter((c) => c.error === 'EMFILE').length;
      // Neither answered nor closed: waiting in the listen queue, or held silently.
      const pending = all.filter((c) => c.answeredAt === null && c.closedAt === null).length;
      for (const c of all) {
        env.http.record(c.status);
        c.sock.destroy();
      }
      return {
        result: `${answered.length} answered, ${refused.length} refused${pending ? `, ${pending} never answered` : ''}${clientErrors ? `, ${clientErrors} not opened (client EMFILE)` : ''}; ${peakOpen} held at once (server fds ≤ ${env.window()?.peakFds ?? '?'}); ${closeAfter.length ? `idle keep-alive closed after p50 ${(closeAfter[Math.floor(closeAfter.length / 2)]! / 1000).toFixed(1)} s, max ${(maxClose / 1000).toFixed(1)} s` : 'no idle connection closed by the server'}${stillOpen ? `; ${stillOpen} still open ${waitMs / 1000} s after the last answer` : ''}`,
        checks: {
          'a cap refuses connections beyond it': refused.length > 0,
          [`idle keep-alive closed within ${within / 1000} s`]: stillOpen === 0 && maxClose <= within,
        },
      };
    },
  };
}
