// Row 11: a 500 cannot be forced from outside, so this checks the two halves of the requirement that
// can: an error answer carries a request id (header and problem body) that ties it to a log line,
// and no log line of the whole run carries a stack trace at the level the server runs at (info).
import type { ProbeSpec } from '../support/harness.js';
import { createUpload } from '../support/ferry.js';

/** Stack-carrying log lines seen by the probes that ran before this one (set by the runner). */
export const earlierStacks = { lines: 0, probes: 0 };

export const requestIdProbe: ProbeSpec = {
  id: 'request-id',
  title: 'the log on an error; a 4xx problem ties to its log line',
  bound: 'problem has `x-request-id` and `requestId`/`instance`; no stack trace in any info-level log line of the run; 0 5xx',
  async run(env) {
    const http = env.http;
    return env.measure(async () => {
      const answers = [
        await http.send('GET', '/files/no-such-file'),
        await createUpload(http, '{"name": 1'),
        await http.send('PUT', '/uploads/nope/chunks/0', { headers: { 'content-digest': 'sha-256=:AAAA:' }, body: 'x' }),
      ];
      const tied = answers.map((a) => {
        const header = a.headers['x-request-id'];
        const body = a.json ?? {};
        return { status: a.status, header: typeof header === 'string' && header.length > 0, body: typeof body.requestId === 'string' || (typeof body.instance === 'string' && typeof header === 'string' && body.instance.includes(header)) };
      });
      const own = env.server.logs.filter((e) => /"stack"\s*:|\\n\s+at /.test(JSON.stringify(e))).length;
      const stacks = own + earlierStacks.lines;
      const withId = env.server.logs.filter((e) => typeof e.requestId === 'string' || typeof e.reqId === 'string').length;
      return {
        result: `${tied.map((t) => `${t.status} ${t.header ? 'x-request-id' : 'no x-request-id'}${t.body ? ' + id in body' : ''}`).join('; ')}; ${withId} log lines with a request id; ${stacks} log lines with a stack${earlierStacks.probes ? ` (whole run: ${earlierStacks.probes} earlier probes scanned)` : ''}`,
        checks: {
          'every problem carries a request id (header and body)': tied.every((t) => t.header && t.body),
          'no stack trace in the log': stacks === 0,
        },
      };
    });
  },
};
