// The bounded subset of `npm run abuse` in `npm test`: the quick probes, against a real `ferry serve`
// process each, with small limits where the server has flags for them. Asserts no 5xx and the
// functional outcomes; memory is sampled (the harness runs as it does in the full run) but never
// asserted here: speed and memory bounds are the full run's business (docs/reliability.md).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliPath } from '../chaos/support/child-server.js';
import { createsProbe } from './probes/creates.js';
import { digestsProbe } from './probes/digests.js';
import { hostProbe } from './probes/host.js';
import { metadataProbe } from './probes/metadata.js';
import { namesProbe } from './probes/names.js';
import { requestIdProbe } from './probes/request-id.js';
import { slowReadersProbe } from './probes/slow-readers.js';
import { MiB } from './support/ferry.js';
import { runProbe, type ProbeResult, type ProbeSpec } from './support/harness.js';

// Needs the built CLI (npm test builds it first) and /proc for the server's memory.
const missing = [!existsSync(cliPath) && 'dist/ (npm run build)', !existsSync('/proc/self/status') && '/proc (Linux)'].filter(Boolean);
if (missing.length && process.env.CI) throw new Error(`abuse probes need ${missing.join(' and ')}`);

/** Flags `ferry serve --help` lists: small limits are passed only where the server has them. */
const serveFlags = missing.length ? '' : execFileSync(process.execPath, [cliPath, 'serve', '--help'], { encoding: 'utf8' });
const ifFlag = (flag: string, value: string): string[] => (serveFlags.includes(`${flag} `) ? [flag, value] : []);

function failures(r: ProbeResult): string[] {
  const failed = Object.entries(r.checks).filter(([, ok]) => !ok).map(([k]) => k);
  if (r.fiveXX > 0) failed.push(`${r.fiveXX} 5xx (${r.answers})`);
  if (r.error) failed.push(r.error);
  return failed;
}

async function probe(spec: ProbeSpec, extraArgs: string[] = []): Promise<ProbeResult> {
  const r = await runProbe(spec, { quick: true, extraArgs });
  expect(failures(r), `${r.id}: ${r.result}`).toEqual([]);
  return r;
}

describe.skipIf(missing.length > 0)(`abuse probes, bounded${missing.length ? ` (skipped: needs ${missing.join(' and ')})` : ''}`, () => {
  it('metadata nested thousands deep is refused, and the listing, status and manifest never answer 5xx', async () => {
    await probe(metadataProbe);
  });

  it('an unknown Host (or X-Forwarded-Host from an untrusted client) never ends up in a URL', async () => {
    await probe(hostProbe);
  });

  it('names with bidirectional or invisible format characters are refused or cleaned', async () => {
    await probe(namesProbe);
  });

  it('a correct digest in a non-canonical base64 spelling is accepted (compared as bytes)', async () => {
    await probe(digestsProbe);
  });

  it('error answers carry a request id, and the log of a probe has no stack trace', async () => {
    await probe(requestIdProbe);
  });

  it('bursts of 1 TiB and 100 MiB creates from one client meet a limit (429 or 507), never another 5xx', async () => {
    const r = await probe(createsProbe(60), [...ifFlag('--max-open-uploads', '10'), ...ifFlag('--rate-limit', '1000')]);
    expect(r.requests).toBe(120);
  });

  it('slow readers of a file: no 5xx, one client capped at its download limit (memory sampled, not asserted)', async () => {
    const r = await runProbe(slowReadersProbe({ readers: 60, oneClient: 12, addresses: 4, fileSize: 16 * MiB, holdMs: 1500, settleMs: 5000 }), {
      quick: true,
      extraArgs: [...ifFlag('--max-downloads-per-identity', '4'), ...ifFlag('--response-buffer-budget', '8MiB')],
    });
    // RSS is reported by the full run only: here, just that it was sampled.
    expect(r.rss?.peak).toBeGreaterThan(0);
    const functional = failures(r).filter((f) => !/RSS/.test(f));
    expect(functional, r.result).toEqual([]);
  });
});
