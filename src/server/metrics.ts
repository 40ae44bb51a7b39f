// What the server did and how it is doing, as prom-client metrics in one registry per server.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Counters: adding one is one line here, then `ctx.metrics.inc(name, by, labels)` with any labels. */
const counters = {
  ferry_chunks_stored_total: 'Chunks verified, made durable and recorded',
  ferry_chunk_bytes_stored_total: 'Bytes of chunks recorded',
  ferry_chunks_duplicate_total: 'Chunk PUTs answered from an already stored chunk (nothing written)',
  ferry_chunk_bytes_received_total: 'Chunk body bytes read from clients, including failed attempts',
  ferry_chunks_failed_total: 'Chunk PUTs that failed, by problem code',
  ferry_uploads_created_total: 'Uploads created',
  ferry_uploads_completed_total: 'Uploads assembled into files',
  ferry_uploads_aborted_total: 'Uploads aborted by clients',
  ferry_uploads_expired_total: 'Uploads expired by the sweeper',
  ferry_uploads_failed_total: 'Uploads whose assembled file or stored bytes did not match what was sent',
  ferry_file_bytes_served_total: 'Bytes of files sent to clients',
  ferry_files_deleted_total: 'Files deleted, by why (deleted by a caller, or retention)',
  ferry_webhook_deliveries_total: 'Webhook delivery attempts, by outcome',
  ferry_requests_refused_total: 'Requests refused for their credential (401) or what it allows (403), by problem code',
  ferry_limits_hit_total: 'Requests or connections refused or cut by a limit, by kind',
  ferry_http_bytes_received_total: 'Bytes read from HTTP connections (headers and bodies), by route',
  ferry_http_bytes_sent_total: 'Bytes written to HTTP connections (headers and bodies), by route',
} as const;

/** Gauges read when /metrics is scraped; a reader is registered with `ctx.metrics.gauge(name, read)`. */
const gauges = {
  ferry_http_open_connections: 'HTTP connections open now',
  ferry_response_buffer_bytes: 'Bytes held by the response-buffer pool',
  ferry_response_buffers_in_use: 'Response buffers lent out by the pool now',
} as const;

// From a few milliseconds (a status check) to the request time limit (a slow chunk or a long download).
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];

const histograms = {
  ferry_http_request_duration_seconds: {
    help: 'HTTP requests from arrival to the end of the response, by route, method and outcome (status class or problem code)',
    labelNames: ['route', 'method', 'outcome'],
  },
  ferry_chunk_duration_seconds: {
    help: 'Chunk PUTs from arrival to their answer, by outcome (stored, duplicate or problem code)',
    labelNames: ['outcome'],
  },
} as const;

export type MetricName = keyof typeof counters;
export type GaugeName = keyof typeof gauges;
export type HistogramName = keyof typeof histograms;
type Labels = Record<string, string>;

interface Series {
  labels: Labels;
  value: number;
}

// Process metrics (CPU, memory, handles, GC, event-loop lag) describe the process, not a server, and
// collecting them starts an event-loop monitor and a GC observer that are never stopped: one set per process.
let processRegistry: Registry | undefined;

export class Metrics {
  /** The Content-Type of render()'s text. */
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly registry = new Registry();
  /** Counter values, so get() answers synchronously; the prom-client counters read them when scraped. */
  private readonly values = new Map<MetricName, Map<string, Series>>();
  private readonly counterLabels = new Map<MetricName, Set<string>>();
  private readonly histograms = new Map<HistogramName, Histogram>();
  private readonly gaugeReaders = new Map<GaugeName, () => number>();

  constructor() {
    for (const name of Object.keys(counters) as MetricName[]) {
      this.values.set(name, new Map());
      this.registerCounter(name, new Set());
    }
    for (const [name, spec] of Object.entries(histograms) as Array<[HistogramName, (typeof histograms)[HistogramName]]>) {
      this.histograms.set(name, new Histogram({ name, help: spec.help, labelNames: spec.labelNames, buckets: durationBuckets, registers: [this.registry] }));
    }
  }

  /** Adds `by` to a counter; labels may have any names (a new name re-declares the counter). */
  inc(name: MetricName, by = 1, labels?: Labels): void {
    const series = this.values.get(name)!;
    const key = keyOf(labels ?? {});
    const found = series.get(key);
    if (found) found.value += by;
    else series.set(key, { labels: { ...labels }, value: by });
    if (labels) {
      const known = this.counterLabels.get(name)!;
      if (Object.keys(labels).some((l) => !known.has(l))) this.registerCounter(name, new Set([...known, ...Object.keys(labels)]));
    }
  }

  /** The sum of a counter over its series that carry all of `labels` (over all its series when none are given). */
  get(name: MetricName, labels: Labels = {}): number {
    let sum = 0;
    for (const s of this.values.get(name)?.values() ?? []) {
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
    return sum;
  }

  /** Records one duration, in seconds, in a histogram. */
  observe(name: HistogramName, value: number, labels: Labels): void {
    this.histograms.get(name)!.observe(labels, Math.max(0, value));
  }

  /** Makes a gauge report `read()` at every scrape (a second call replaces the reader). */
  gauge(name: GaugeName, read: () => number): void {
    const first = !this.gaugeReaders.has(name);
    this.gaugeReaders.set(name, read);
    if (!first) return;
    const readers = this.gaugeReaders;
    new Gauge({
      name,
      help: gauges[name],
      registers: [this.registry],
      collect() {
        this.set(readers.get(name)!());
      },
    });
  }

  /** Everything in Prometheus text format: this server's metrics and the process's. */
  async render(): Promise<string> {
    return Registry.merge([processMetrics(), this.registry]).metrics();
  }

  private registerCounter(name: MetricName, labelNames: Set<string>): void {
    this.counterLabels.set(name, labelNames);
    this.registry.removeSingleMetric(name);
    const series = this.values.get(name)!;
    new Counter({
      name,
      help: counters[name],
      labelNames: [...labelNames],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of series.values()) this.inc(s.labels, s.value);
      },
    });
  }
}

/** Counts a request or connection refused or cut by a limit (kind: the limit's name, e.g. 'rate'). */
export function limitHit(ctx: { metrics: Metrics }, kind: string): void {
  ctx.metrics.inc('ferry_limits_hit_total', 1, { kind });
}

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

function keyOf(labels: Labels): string {
  const names = Object.keys(labels).sort();
  return names.length === 0 ? '' : JSON.stringify(names.map((k) => [k, labels[k]]));
}
