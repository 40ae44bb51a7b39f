// ferry/grants: the short-lived signed grants an application's backend issues and Ferry verifies
// (JWT, HS256, through jose). The browser carries the grant; only the backend and Ferry hold the secret.
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { z } from 'zod';
import { parseSpan } from '../protocol/span.js';

export { parseSpan };

/** What a grant lets its holder upload: a budget across all its uploads, optionally narrowed. */
export interface UploadAllowance {
  /** Declared bytes of all uploads created with this grant together. */
  maxBytes: number;
  /** How many uploads it may create (default: no limit but the bytes). */
  maxFiles?: number;
  /** File names it may create, as patterns where * stands for any characters ("*.pdf"). */
  names?: string[];
  /** Media types (the upload's metadata.type) it may create, "image/*" style. */
  types?: string[];
}

export interface GrantScope {
  /** Create uploads (and continue, inspect, abort its own). */
  upload?: UploadAllowance;
  /** Read these files (download, manifest), whoever owns them. */
  read?: string[];
  /** The identity's own files: 'read' lists and downloads them; 'write' also deletes and shares them. */
  files?: 'read' | 'write';
}

export interface GrantKey {
  /** Key id, sent in the token's header so the verifier picks the right secret (rotation). */
  kid: string;
  /** Shared secret, at least 32 characters. */
  secret: string;
}

export interface IssueGrantOptions extends GrantKey {
  /** Who the holder acts as: uploads and files it creates belong to this identity. */
  identity: string;
  /** Lifetime: seconds, or a span such as "15m", "2h", "7d". */
  expiresIn: number | string;
  scope: GrantScope;
}

/** A verified grant. */
export interface Grant {
  /** The token's unique id (jti): budgets are counted per grant. */
  id: string;
  identity: string;
  /** Epoch ms. */
  expiresAt: number;
  scope: GrantScope;
  kid: string;
}

/** Why a token was refused: 'expired' (a good token, too late) or 'invalid' (anything else). */
export class GrantError extends Error {
  constructor(
    readonly reason: 'expired' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'GrantError';
  }
}

const Audience = 'ferry';
const Algorithm = 'HS256';

const Scope = z
  .object({
    upload: z
      .object({
        maxBytes: z.number().int().nonnegative(),
        maxFiles: z.number().int().positive().optional(),
        names: z.array(z.string().min(1)).optional(),
        types: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
    read: z.array(z.string().min(1)).optional(),
    files: z.enum(['read', 'write']).optional(),
  })
  .strict();

const Claims = z.object({
  sub: z.string().min(1).max(200),
  jti: z.string().min(8),
  exp: z.number(),
  ferry: Scope,
});

function keyBytes(secret: string): Uint8Array {
  if (secret.length < 32) throw new RangeError('A grant secret needs at least 32 characters.');
  return new TextEncoder().encode(secret);
}

/** Signs a grant. Call it in the application's backend; hand the token to the page or the script. */
export async function issueGrant(options: IssueGrantOptions): Promise<string> {
  const scope = Scope.parse(options.scope);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ferry: scope } as JWTPayload)
    .setProtectedHeader({ alg: Algorithm, kid: options.kid, typ: 'JWT' })
    .setSubject(options.identity)
    .setAudience(Audience)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.floor(parseSpan(options.expiresIn)))
    .setJti(randomId())
    .sign(keyBytes(options.secret));
}

/** Verifies a token against the secrets in force (any of them, by kid); throws GrantError. */
export async function verifyGrant(token: string, keys: readonly GrantKey[], now: number = Date.now()): Promise<Grant> {
  let payload: JWTPayload;
  let kid: string;
  try {
    const verified = await jwtVerify(
      token,
      (header) => {
        const key = keys.find((k) => k.kid === header.kid);
        if (!key) throw new GrantError('invalid', `The grant is signed with an unknown key id "${String(header.kid).slice(0, 40)}".`);
        return keyBytes(key.secret);
      },
      { algorithms: [Algorithm], audience: Audience, currentDate: new Date(now), requiredClaims: ['sub', 'exp', 'jti'] },
    );
    payload = verified.payload;
    kid = verified.protectedHeader.kid!;
  } catch (error) {
    if (error instanceof GrantError) throw error;
    if (error instanceof errors.JWTExpired) throw new GrantError('expired', 'The grant has expired.');
    throw new GrantError('invalid', `The grant is not valid (${(error as Error).message}).`);
  }
  const claims = Claims.safeParse(payload);
  if (!claims.success) throw new GrantError('invalid', 'The grant does not carry a valid Ferry scope.');
  return { id: claims.data.jti, identity: claims.data.sub, expiresAt: claims.data.exp * 1000, scope: claims.data.ferry, kid };
}

/** Whether `text` looks like a grant (a compact JWT) rather than an API key. */
export function looksLikeGrant(text: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text);
}

/** Whether `value` matches one of `patterns` ("*" = any run of characters; case-insensitive). */
export function matchesAny(value: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => {
    const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'is');
    return re.test(value);
  });
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
