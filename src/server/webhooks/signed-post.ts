// One signed POST to an application endpoint (Standard Webhooks headers), with a time limit and a bounded reply.
import type { Webhook } from 'standardwebhooks';

export interface SignedReply {
  status: number;
  /** The reply body as text, or null when it was longer than the limit (it is then not read further). */
  body: string | null;
}

export interface SignedPostOptions {
  /** The whole exchange (connect, send, status and body) must finish within this. */
  timeoutMs: number;
  /** Bytes of reply body read at most. */
  maxBodyBytes: number;
  /** Aborts the exchange early (the server is shutting down). */
  signal?: AbortSignal;
}

/** Why an exchange did not produce a reply: the time limit, the caller's signal, or the network. */
export class PostFailed extends Error {
  constructor(
    message: string,
    readonly reason: 'timeout' | 'aborted' | 'network',
  ) {
    super(message);
  }
}

/**
 * POSTs `payload` exactly as given, signed by `signer` for `msgId` at this moment. Rejects with a
 * PostFailed when no reply arrives in time or the connection fails; any status is a reply.
 */
export async function signedPost(url: string, signer: Webhook, msgId: string, payload: string, options: SignedPostOptions): Promise<SignedReply> {
  const at = new Date();
  // Aborted with the reason, so the catch below tells a timeout from a shutdown from a network failure.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new PostFailed(`no reply within ${options.timeoutMs} ms`, 'timeout')), options.timeoutMs);
  const onAbort = () => controller.abort(new PostFailed('aborted: the server is shutting down', 'aborted'));
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': msgId,
        // The library signs whole seconds; the header carries the same value.
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signer.sign(msgId, at, payload),
      },
      body: payload,
      // A redirect is not an answer: following it would send the signed event somewhere unconfigured.
      redirect: 'manual',
      signal: controller.signal,
    });
    return { status: res.status, body: await readBounded(res, options.maxBodyBytes) };
  } catch (err) {
    if (controller.signal.aborted) throw controller.signal.reason as PostFailed;
    throw new PostFailed(describeNetworkError(err), 'network');
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** The body as text if it fits in `limit` bytes; otherwise null, and the rest is left unread. */
async function readBounded(res: Response, limit: number): Promise<string | null> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    parts.push(value);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** fetch's "fetch failed" says nothing; its cause (ECONNREFUSED, a reset, a DNS failure) does. */
function describeNetworkError(err: unknown): string {
  const error = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = error.cause;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  return cause?.message ?? error.message ?? String(err);
}
