// Delivers the webhook outbox: claims due deliveries, POSTs them signed, retries with backoff, gives up when too old.
import { Webhook } from 'standardwebhooks';
import type { WebhookDelivery } from '../../stores/types.js';
import type { ServerContext } from '../context.js';
import { PostFailed, signedPost } from './signed-post.js';

/** Deliveries in flight at once (over all endpoints). */
const concurrency = 4;
/** How often the outbox is looked at without a wake-up: picks up retries and deliveries whose lease ran out (a crash). */
const pollMs = 1_000;
/** Replies are only logged, and only their status matters: read little of them. */
const maxReplyBytes = 4 * 1024;

export type DeliveryOutcome = 'delivered' | 'retry' | 'dropped';

/**
 * The delay before the next attempt after `failures` failed ones: the schedule's entry (seconds; the
 * last repeats), with ±20 % jitter so deliveries that failed together (an outage) are not all retried
 * in the same second.
 */
export function retryDelayMs(failures: number, schedule: readonly number[], random: () => number = Math.random): number {
  const seconds = schedule[Math.min(Math.max(failures, 1), schedule.length) - 1]!;
  return Math.round(seconds * 1000 * (0.8 + 0.4 * random()));
}

/**
 * Starts delivering; returns a stopper that aborts the attempts in flight (each is recorded as due at
 * once, so the next start sends it again) and resolves when they have settled. Sets ctx.webhooks so
 * new events are sent at once; otherwise the outbox is polled every second.
 */
export function startWebhookDispatcher(ctx: ServerContext): () => Promise<void> {
  const { webhooks, webhookSecret, webhookTimeoutSeconds, webhookRetrySeconds, webhookBackoffSeconds } = ctx.config;
  // Rows left from a configuration with endpoints wait until endpoints (and so a secret) are configured again.
  if (webhooks.length === 0 || !webhookSecret) return async () => {};
  const signer = new Webhook(webhookSecret);
  const timeoutMs = webhookTimeoutSeconds * 1000;
  // Long enough that an attempt has timed out and recorded its result before anyone may claim it again.
  const leaseMs = timeoutMs + Math.min(5_000, Math.max(1_000, timeoutMs));
  const retryMs = webhookRetrySeconds * 1000;
  const shutdown = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let passing: Promise<void> | null = null;
  let passAgain = false;

  /** Runs a pass now, or right after the running one (a wake-up during a pass is not lost). */
  const kick = (): void => {
    if (stopped) return;
    if (passing) {
      passAgain = true;
      return;
    }
    passing = (async () => {
      do {
        passAgain = false;
        await pass();
      } while (passAgain && !stopped);
    })().finally(() => {
      passing = null;
    });
  };

  /** Claims what is due, as many as there are free slots, and starts sending each. */
  const pass = async (): Promise<void> => {
    while (!stopped && inFlight.size < concurrency) {
      let batch: WebhookDelivery[];
      try {
        const now = ctx.now();
        batch = await ctx.meta.claimDeliveries(now, now + leaseMs, concurrency - inFlight.size);
      } catch (err) {
        // The metadata store is unwell: the next tick tries again.
        ctx.log.error({ err, event: 'webhook-claim-failed' }, 'could not read the webhook outbox');
        return;
      }
      if (batch.length === 0) return;
      for (const delivery of batch) {
        const attempt: Promise<void> = deliver(delivery).finally(() => {
          inFlight.delete(attempt);
          kick(); // a slot is free: more may be due
        });
        inFlight.add(attempt);
      }
    }
  };

  /** One attempt of one delivery, recorded and logged; never rejects. */
  const deliver = async (d: WebhookDelivery): Promise<void> => {
    const attempt = d.attempts + 1;
    const started = performance.now();
    let status: number | undefined;
    let error: string | undefined;
    let outcome: DeliveryOutcome;
    let nextAttemptAt: number | null = null;
    let shuttingDown = false;
    try {
      const reply = await signedPost(d.endpoint, signer, d.eventId, d.payload, { timeoutMs, maxBodyBytes: maxReplyBytes, signal: shutdown.signal });
      status = reply.status;
      if (status >= 200 && status < 300) outcome = 'delivered';
      // 410 Gone: the receiver says this endpoint is gone for good; retrying would only add noise.
      else if (status === 410) outcome = 'dropped';
      else {
        error = `HTTP ${status}`;
        outcome = 'retry';
      }
    } catch (err) {
      shuttingDown = err instanceof PostFailed && err.reason === 'aborted';
      error = err instanceof Error ? err.message : String(err);
      outcome = 'retry';
    }
    const now = ctx.now();
    if (outcome === 'retry') {
      const deadline = d.createdAt + retryMs;
      // Cut short by a shutdown: due again as soon as a server runs. Otherwise back off, with a last
      // attempt at the deadline, and give up on a delivery that failed at or after it.
      if (shuttingDown) nextAttemptAt = now;
      else if (now >= deadline) outcome = 'dropped';
      else nextAttemptAt = Math.min(now + retryDelayMs(attempt, webhookBackoffSeconds), deadline);
    }
    try {
      if (outcome === 'delivered') await ctx.meta.deliveryDone(d.eventId, d.endpoint);
      else await ctx.meta.deliveryFailed(d.eventId, d.endpoint, nextAttemptAt, error ?? `HTTP ${status}`);
    } catch (err) {
      // Not recorded: the lease runs out and the delivery is sent again (at least once, maybe twice).
      ctx.log.error({ err, event: 'webhook-record-failed', eventId: d.eventId, endpoint: d.endpoint }, 'could not record a webhook delivery');
    }
    ctx.metrics.inc('ferry_webhook_deliveries_total', 1, { outcome });
    if (nextAttemptAt !== null) wakeAt(nextAttemptAt);
    const entry = {
      event: 'webhook-delivery',
      eventId: d.eventId,
      type: d.type,
      endpoint: d.endpoint,
      attempt,
      status,
      error,
      durationMs: Math.round(performance.now() - started),
      outcome,
      nextAttemptAt: nextAttemptAt === null ? undefined : new Date(nextAttemptAt).toISOString(),
    };
    if (outcome === 'delivered') ctx.log.info(entry, `webhook ${d.type} delivered`);
    else if (outcome === 'retry') ctx.log.warn(entry, `webhook ${d.type} failed (${error}); will retry`);
    else if (status === 410) ctx.log.warn(entry, `webhook ${d.type} dropped: the endpoint answered 410 Gone`);
    else ctx.log.error(entry, `webhook ${d.type} dropped after ${attempt} attempts (${error})`);
  };

  /** A retry due before the next poll is started on time (schedules shorter than the poll interval). */
  const soon = new Set<NodeJS.Timeout>();
  const wakeAt = (at: number): void => {
    const delay = at - ctx.now();
    if (stopped || delay >= pollMs) return;
    // +5 ms: a timer may fire a hair before the wall clock reaches `at`, when the row is not yet due.
    const t = setTimeout(() => {
      soon.delete(t);
      kick();
    }, Math.max(0, delay) + 5);
    t.unref();
    soon.add(t);
  };

  ctx.webhooks = { wake: kick };
  const timer = setInterval(kick, pollMs);
  timer.unref();
  kick(); // what was left due by the last run

  return async () => {
    stopped = true;
    clearInterval(timer);
    for (const t of soon) clearTimeout(t);
    if (ctx.webhooks?.wake === kick) ctx.webhooks = undefined;
    shutdown.abort();
    await passing;
    await Promise.allSettled([...inFlight]);
  };
}
