// What happened to uploads and files, told to the application: webhook endpoints through the outbox
// in the metadata store (rows written in the same transaction as the change, delivered by
// webhooks/dispatcher.ts), and the embedding application's listeners once the change is committed.
import { Paths, readMetadata, type Metadata } from '../protocol/index.js';
import type { FileRecord, UploadRecord, WebhookDelivery } from '../stores/types.js';
import type { ServerContext } from './context.js';
import { newId } from './ids.js';

export const EventTypes = ['upload.created', 'upload.completed', 'upload.failed', 'upload.expired', 'upload.aborted', 'file.deleted'] as const;
export type FerryEventType = (typeof EventTypes)[number];

export interface FerryEventData {
  uploadId: string;
  fileId: string | null;
  owner: string;
  name: string;
  size: number;
  /** The declared and verified whole-file digest when there is one, else null. */
  fileDigest: string | null;
  /** The file's strong ETag (derived from its chunk digests) once it exists. */
  etag: string | null;
  /** Where the file is downloaded from (needs the owner's credential), once it exists. */
  fileUrl: string | null;
  metadata: Metadata;
}

/** The JSON body of a webhook, and what listeners get: Standard Webhooks' {type, timestamp, data}. */
export interface FerryEvent {
  /** Unique per event; the webhook-id header, the same on every retry (receivers dedupe on it). */
  id: string;
  type: FerryEventType;
  timestamp: string;
  data: FerryEventData;
}

export type EventListener = (event: FerryEvent) => void | Promise<void>;

/** The event's data from an upload and, once it exists, its file. */
export function eventData(ctx: ServerContext, upload: UploadRecord | null, file: FileRecord | null): FerryEventData {
  const base = ctx.baseUrl;
  const source = file ?? upload!;
  return {
    uploadId: file?.uploadId ?? upload!.id,
    fileId: file?.id ?? null,
    owner: source.owner,
    name: source.name,
    size: source.size,
    fileDigest: source.fileDigest,
    etag: file?.etag ?? null,
    fileUrl: file ? base + Paths.file(file.id) : null,
    metadata: readMetadata(source.metadata), // a record from before metadata was limited to strings may hold any JSON
  };
}

/** An event about to happen: its outbox rows go into the store with the change it reports. */
export interface PendingEvent {
  event: FerryEvent;
  /** One per webhook endpoint; pass them to the store call that makes the change. */
  deliveries: WebhookDelivery[];
}

export function prepareEvent(ctx: ServerContext, type: FerryEventType, data: FerryEventData): PendingEvent {
  const now = ctx.now();
  const event: FerryEvent = { id: `evt_${newId()}`, type, timestamp: new Date(now).toISOString(), data };
  const payload = JSON.stringify(event);
  const deliveries = ctx.config.webhooks.map((endpoint) => ({ eventId: event.id, endpoint, type, payload, createdAt: now, attempts: 0, nextAttemptAt: now }));
  return { event, deliveries };
}

/**
 * An upload's created, aborted or expired event; none for a tus partial upload, which never is a file
 * of its own (the final upload made of it is, and reports its own events).
 */
export function uploadEvent(ctx: ServerContext, type: 'upload.created' | 'upload.aborted' | 'upload.expired', upload: UploadRecord): PendingEvent | null {
  return upload.role === 'part' ? null : prepareEvent(ctx, type, eventData(ctx, upload, null));
}

/**
 * After the change (and its outbox rows) committed: wakes the webhook dispatcher, logs, tells the
 * library listeners. A failing listener is logged, never fails the request that caused the event.
 */
export async function announceEvent(ctx: ServerContext, pending: PendingEvent | null): Promise<void> {
  if (!pending) return;
  const { event } = pending;
  if (ctx.config.webhooks.length > 0) ctx.webhooks?.wake();
  ctx.log.info({ event: 'event', eventId: event.id, type: event.type, uploadId: event.data.uploadId, fileId: event.data.fileId }, `event ${event.type}`);
  for (const listener of ctx.listeners) {
    try {
      await listener(event);
    } catch (err) {
      ctx.log.error({ err, eventId: event.id, type: event.type }, 'event listener failed');
    }
  }
}
