// The pre-create hook as an HTTP endpoint: a signed POST per upload about to be created; 2xx allows, 4xx refuses.
import { Webhook } from 'standardwebhooks';
import type { Metadata } from '../../protocol/index.js';
import type { PreCreateDecision, PreCreateHook, PreCreateRequest } from '../hooks.js';
import { newId } from '../ids.js';
import { signedPost } from './signed-post.js';

/** The body of the hook's request. */
export interface PreCreateMessage {
  /** The same as the webhook-id header; fresh for every request (a retried create asks again). */
  id: string;
  type: 'upload.pre-create';
  timestamp: string;
  data: PreCreateRequest;
}

/** Enough for metadata (itself limited to 16 KiB) and a reason; a longer reply is not read. */
const maxReplyBytes = 64 * 1024;
/** The refusal reason is shown to the client: keep it a sentence, not a page. */
const maxReasonLength = 1_000;

/**
 * A hook that asks `url`. 2xx allows, and a JSON body with an object `metadata` replaces the upload's
 * metadata; 4xx refuses, with the body's `detail` or `reason` as the reason. Anything else (5xx, 408
 * and 429, which say "later" rather than "no", a redirect, no reply within `timeoutMs`, a reply that is
 * too long or unusable) throws, which runPreCreate answers with 503: the application is never bypassed.
 */
export function httpPreCreateHook(url: string, secret: string, timeoutMs: number): PreCreateHook {
  const signer = new Webhook(secret);
  return async (request: PreCreateRequest): Promise<PreCreateDecision> => {
    const message: PreCreateMessage = { id: `pre_${newId()}`, type: 'upload.pre-create', timestamp: new Date().toISOString(), data: request };
    const reply = await signedPost(url, signer, message.id, JSON.stringify(message), { timeoutMs, maxBodyBytes: maxReplyBytes });
    const { status } = reply;
    if (status >= 200 && status < 300) {
      if (reply.body === null) throw new Error(`pre-create hook ${url}: reply longer than ${maxReplyBytes} bytes`);
      const metadata = jsonObject(reply.body)?.metadata;
      if (!isPlainObject(metadata)) return { allow: true };
      // Checked (string values, the client's limits) by runPreCreate, as any hook's metadata is.
      return { allow: true, metadata: metadata as Metadata };
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      const body = reply.body === null ? undefined : jsonObject(reply.body);
      const given = typeof body?.detail === 'string' ? body.detail : typeof body?.reason === 'string' ? body.reason : '';
      const reason = given.trim().slice(0, maxReasonLength) || `refused by the application (HTTP ${status})`;
      return { allow: false, reason };
    }
    throw new Error(`pre-create hook ${url} answered HTTP ${status}`);
  };
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined; // not JSON: an empty 204, or a plain-text page
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
