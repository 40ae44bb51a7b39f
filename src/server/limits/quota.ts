// Upload reservations at create: uploads in progress and their declared bytes per identity, in all,
// and room on the disk for what they have yet to receive.
import type { IncomingMessage } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import { passedLimit, reservedBytes } from '../../stores/reservations.js';
import type { ReservationLimits, Reservations, UploadRecord, WebhookDelivery } from '../../stores/types.js';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { limitHit } from '../metrics.js';
import { quotaKey } from './limit-key.js';

/**
 * What a client refused for its own uploads in progress is told to wait: they end by finishing, being
 * aborted or expiring, none of which a short wait brings about, and an eager retry loop helps nobody.
 */
const ownRetryAfterSeconds = 60;
/** For lack of room on the server (as for a full disk on a chunk): others' uploads finish, space is freed. */
const roomRetryAfterSeconds = 10;

/** The free space kept on the data volume: --min-free-space, else 1 GiB or 5% of the volume if that is less. */
export function minFreeSpace(config: ServerContext['config'], volumeBytes: number): number {
  return config.minFreeSpace ?? Math.min(1024 ** 3, Math.floor(volumeBytes * 0.05));
}

/**
 * Refuses early what cannot fit now, before the pre-create hook is asked and storage is begun: a
 * flood of creates past a limit costs a query each. Returns the limits for createWithinReservations(), the authority.
 */
export async function checkReservations(ctx: ServerContext, who: Principal, req: IncomingMessage, size: number): Promise<ReservationLimits> {
  const c = ctx.config;
  // Larger than a limit on its own: it would never fit, so not "retry later" but "too large".
  for (const [max, what] of [
    [c.maxReservedBytes, 'per identity'],
    [c.maxReservedBytesTotal, 'in all'],
  ] as const) {
    if (max !== undefined && size > max) {
      throw new FerryError('file-too-large', `This server reserves at most ${max} bytes for uploads in progress ${what}; this one declares ${size}.`, {
        maxReservedBytes: max,
      });
    }
  }
  const limits = await reservationLimits(ctx, who, req);
  const reserved = await ctx.meta.reservations(limits.key);
  const limit = passedLimit(reserved, size, limits);
  if (limit) throw refusal(ctx, who, size, limits, limit, reserved);
  return limits;
}

/**
 * Stores the upload only if it fits every reservation limit (those checkReservations() returned: the
 * disk is asked once per create), atomically with the check; else throws the refusal.
 */
export async function createWithinReservations(ctx: ServerContext, who: Principal, limits: ReservationLimits, upload: UploadRecord, events: WebhookDelivery[]): Promise<void> {
  const result = await ctx.meta.createUploadWithin(upload, limits, events);
  if (!result.ok) throw refusal(ctx, who, reservedBytes(upload), limits, result.limit, result.reserved);
}

/** The limits in force for `who` now (the disk's free space read at this moment). */
async function reservationLimits(ctx: ServerContext, who: Principal, req: IncomingMessage): Promise<ReservationLimits> {
  const c = ctx.config;
  const space = (await ctx.blobs.freeSpace?.()) ?? null;
  return {
    key: quotaKey(who, req, ctx.config.trustProxy),
    maxUploads: c.maxOpenUploads,
    maxBytes: c.maxReservedBytes,
    maxTotalBytes: c.maxReservedBytesTotal ?? null,
    maxPendingBytes: space ? Math.max(0, space.available - minFreeSpace(c, space.total)) : null,
  };
}

function refusal(ctx: ServerContext, who: Principal, size: number, limits: ReservationLimits, limit: NonNullable<ReturnType<typeof passedLimit>>, r: Reservations): FerryError {
  const whose = who.via === 'open' ? 'This client address has' : `Identity "${who.identity}" has`;
  const kinds = { uploads: 'open-uploads', bytes: 'reserved-bytes', 'total-bytes': 'reserved-total', 'pending-bytes': 'disk-space' } as const;
  limitHit(ctx, kinds[limit]);
  ctx.log.info({ event: 'limit', limit: kinds[limit], key: limits.key, size, reserved: r }, `create refused: ${kinds[limit]}`);
  const retryAfter = limit === 'uploads' || limit === 'bytes' ? ownRetryAfterSeconds : roomRetryAfterSeconds;
  switch (limit) {
    case 'uploads':
      return new FerryError('too-many-uploads', `${whose} ${r.uploads} uploads in progress, the most this server allows; finish or abort one first.`, {
        maxOpenUploads: limits.maxUploads,
        openUploads: r.uploads,
        retryAfter,
      });
    case 'bytes':
      return new FerryError(
        'quota-exceeded',
        `${whose} uploads in progress declaring ${r.bytes} bytes; with this one (${size}) that would pass the limit of ${limits.maxBytes}. Finish or abort one first.`,
        { maxReservedBytes: limits.maxBytes, reservedBytes: r.bytes, retryAfter },
      );
    case 'total-bytes':
      return new FerryError('insufficient-storage', `Uploads in progress already reserve ${r.totalBytes} of the ${limits.maxTotalBytes} bytes this server allows them; this one declares ${size}.`, {
        retryAfter,
      });
    case 'pending-bytes': {
      const room = Math.max(0, limits.maxPendingBytes! - r.pendingBytes);
      return new FerryError('insufficient-storage', `The server has room on disk for ${room} more bytes of uploads; this one declares ${size}.`, {
        availableBytes: room,
        retryAfter,
      });
    }
  }
}
