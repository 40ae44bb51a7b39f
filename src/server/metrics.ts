// Counters of what the server did, served as Prometheus text at /metrics.

const help = {
  ferry_chunks_stored_total: 'Chunks verified, made durable and recorded',
  ferry_chunk_bytes_stored_total: 'Bytes of chunks recorded',
  ferry_chunks_duplicate_total: 'Chunk PUTs answered from an already stored chunk (nothing written)',
  ferry_chunk_bytes_received_total: 'Chunk body bytes read from clients, including failed attempts',
  ferry_chunks_failed_total: 'Chunk PUTs that failed, by problem code',
  ferry_uploads_created_total: 'Uploads created',
  ferry_uploads_completed_total: 'Uploads assembled into files',
  ferry_uploads_aborted_total: 'Uploads aborted by clients',
  ferry_uploads_expired_total: 'Uploads expired by the sweeper',
  ferry_file_bytes_served_total: 'Bytes of files sent to clients',
  ferry_files_deleted_total: 'Files deleted, by why (deleted by a caller, or retention)',
  ferry_webhook_deliveries_total: 'Webhook delivery attempts, by outcome',
  ferry_requests_refused_total: 'Requests refused for their credential (401) or what it allows (403), by problem code',
} as const;

export type MetricName = keyof typeof help;

export class Metrics {
  private readonly values = new Map<string, number>();

  inc(name: MetricName, by = 1, label?: Record<string, string>): void {
    const key = keyOf(name, label);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  get(name: MetricName, label?: Record<string, string>): number {
    return this.values.get(keyOf(name, label)) ?? 0;
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, text] of Object.entries(help)) {
      lines.push(`# HELP ${name} ${text}`, `# TYPE ${name} counter`);
      let any = false;
      for (const [key, value] of this.values) {
        if (key === name || key.startsWith(`${name}{`)) {
          lines.push(`${key} ${value}`);
          any = true;
        }
      }
      if (!any && !name.endsWith('failed_total')) lines.push(`${name} 0`);
    }
    return lines.join('\n') + '\n';
  }
}

function keyOf(name: string, label: Record<string, string> | undefined): string {
  if (!label) return name;
  return `${name}{${Object.entries(label).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}
