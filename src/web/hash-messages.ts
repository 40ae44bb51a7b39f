// The messages between the page and the hashing worker (shared so both sides agree on the shape).
import type { DigestAlgorithm } from '../protocol/digest.js';

export interface HashRequest {
  id: number;
  algorithm: DigestAlgorithm;
  bytes: Uint8Array;
}

export type HashReply = { id: number; digest: string } | { id: number; error: string };
