// Whether this node can serve: both stores answer within a short deadline (GET /readyz, for load balancers).
import { oneLine, PingTimeout, pingBlobs, pingMeta, withDeadline } from '../stores/ping.js';
import type { ServerContext } from './context.js';

/** What a probe waits for each store: a load balancer's own timeout is usually a few seconds. */
export const ReadinessDeadlineMs = 2_000;

export type CheckResult = 'ok' | 'failed' | 'timeout';

export interface Readiness {
  ready: boolean;
  checks: { meta: CheckResult; blobs: CheckResult };
}

interface ProbeState {
  /** Checks under way: probes arriving meanwhile share them, so a hanging store never piles up pings. */
  running: Map<'meta' | 'blobs', Promise<void>>;
  /** The stores that did not answer last time, so the log says when that changes rather than at every probe. */
  last: string;
}

const states = new WeakMap<ServerContext, ProbeState>();

export async function checkReadiness(ctx: ServerContext): Promise<Readiness> {
  let state = states.get(ctx);
  if (!state) states.set(ctx, (state = { running: new Map(), last: '' }));
  const errors: Partial<Record<'meta' | 'blobs', unknown>> = {};
  const check = async (name: 'meta' | 'blobs', ping: () => Promise<void>): Promise<CheckResult> => {
    let run = state.running.get(name);
    if (!run) {
      const started = ping().finally(() => state.running.delete(name));
      state.running.set(name, started);
      run = started;
    }
    try {
      await withDeadline(run, ReadinessDeadlineMs, name === 'meta' ? 'the metadata store' : 'the blob store');
      return 'ok';
    } catch (error) {
      errors[name] = error;
      return error instanceof PingTimeout ? 'timeout' : 'failed';
    }
  };
  const [meta, blobs] = await Promise.all([check('meta', () => pingMeta(ctx.meta)), check('blobs', () => pingBlobs(ctx.blobs))]);
  const ready = meta === 'ok' && blobs === 'ok';
  const now = [meta !== 'ok' && 'meta', blobs !== 'ok' && 'blobs'].filter(Boolean).join(',');
  if (now !== state.last) {
    state.last = now;
    const reasons = Object.fromEntries(Object.entries(errors).map(([k, e]) => [k, oneLine(e)]));
    if (ready) ctx.log.info({ event: 'readiness', ready, checks: { meta, blobs } }, 'ready: both stores answer');
    else ctx.log.error({ event: 'readiness', ready, checks: { meta, blobs }, errors: reasons }, 'not ready: a store does not answer');
  }
  return { ready, checks: { meta, blobs } };
}
