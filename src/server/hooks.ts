// The pre-create hook: the application may refuse an upload, or annotate it, before it exists.
import { FerryError } from '../protocol/index.js';
import type { ServerContext } from './context.js';

export interface PreCreateRequest {
  /** Who is creating it (the credential's identity). */
  owner: string;
  role: 'user' | 'admin';
  name: string;
  size: number;
  metadata: Record<string, unknown>;
}

/** Allow (optionally replacing the metadata) or refuse with a reason the client sees. */
export type PreCreateDecision = { allow: true; metadata?: Record<string, unknown> } | { allow: false; reason: string };

export type PreCreateHook = (request: PreCreateRequest) => Promise<PreCreateDecision> | PreCreateDecision;

/**
 * Asks every hook in turn; each sees the metadata as the one before left it. Returns the metadata to
 * store, or throws upload-refused (403). A hook that fails (throws, times out) answers 503 and
 * creates nothing: an application that asked to decide is never bypassed.
 */
export async function runPreCreate(ctx: ServerContext, request: PreCreateRequest): Promise<Record<string, unknown>> {
  let metadata = request.metadata;
  for (const hook of ctx.preCreate) {
    let decision: PreCreateDecision;
    try {
      decision = await hook({ ...request, metadata });
    } catch (err) {
      ctx.log.error({ err, event: 'pre-create-failed', owner: request.owner, name: request.name }, 'pre-create hook failed');
      throw new FerryError('service-unavailable', 'The upload could not be approved right now; try again later.', { retryAfter: 5 });
    }
    if (!decision.allow) {
      ctx.log.info({ event: 'pre-create-refused', owner: request.owner, name: request.name, reason: decision.reason }, 'upload refused by hook');
      throw new FerryError('upload-refused', decision.reason);
    }
    if (decision.metadata) metadata = decision.metadata;
  }
  return metadata;
}
