// The pre-create hook: the application may refuse an upload, or annotate it, before it exists.
import { FerryError, metadataProblem, type Metadata } from '../protocol/index.js';
import type { ServerContext } from './context.js';

export interface PreCreateRequest {
  /** Who is creating it (the credential's identity). */
  owner: string;
  role: 'user' | 'admin';
  name: string;
  size: number;
  metadata: Metadata;
}

/** Allow (optionally replacing the metadata) or refuse with a reason the client sees. */
export type PreCreateDecision = { allow: true; metadata?: Metadata } | { allow: false; reason: string };

export type PreCreateHook = (request: PreCreateRequest) => Promise<PreCreateDecision> | PreCreateDecision;

/**
 * Asks every hook in turn; each sees the metadata as the one before left it. Returns the metadata to
 * store, or throws upload-refused (403). A hook that fails (throws, times out) answers 503 and
 * creates nothing: an application that asked to decide is never bypassed. So does a hook that answers
 * with metadata a client could not send (not a flat map of strings within the limits): it is stored
 * and served like the client's.
 */
export async function runPreCreate(ctx: ServerContext, request: PreCreateRequest): Promise<Metadata> {
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
    if (decision.metadata) {
      const problem = metadataProblem(decision.metadata);
      if (problem) {
        ctx.log.error({ event: 'pre-create-failed', owner: request.owner, name: request.name, reason: problem }, 'pre-create hook returned unusable metadata');
        throw new FerryError('service-unavailable', 'The upload could not be approved right now; try again later.', { retryAfter: 5 });
      }
      metadata = decision.metadata;
    }
  }
  return metadata;
}
