// What an operator sees at /metrics: request and chunk latency by route and outcome, bytes in and out,
// limits hit, open connections, process metrics; who may read it, and the separate metrics address.
import { rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaTypes, Paths } from '../../src/protocol/index.js';
import { createApiKey } from '../../src/server/auth/api-keys.js';
import { parseServerConfig } from '../../src/server/index.js';
import { limitHit, Metrics } from '../../src/server/metrics.js';
import { randomData, sha256Field } from '../helpers/digest.js';
import { call, create, download, putChunk, type Reply } from '../helpers/http.js';
import { KiB, spawnServer, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

/** The sum of the samples of `name` whose labels include `labels` (Prometheus text format). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

function expectProblem(r: Reply, status: number, type: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toBe(MediaTypes.problem);
  expect(r.body.type).toBe(`urn:ferry:problem:${type}`);
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await call(url, 'GET', '/metrics', { headers });
  expect(r.status, r.text).toBe(200);
  expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return r.text;
}

describe('after an upload and a download', () => {
  let server: TestServer;
  let text: string;
  let fileId: string;
  const data = randomData(48 * KiB);

  beforeAll(async () => {
    server = await startTestServer();
    const created = await create(server.url, { name: 'm.bin', size: data.length, chunkSize: 16 * KiB });
    const uploadId = created.body.uploadId as string;
    expectProblem(await putChunk(server.url, uploadId, 0, data.subarray(0, 16 * KiB), sha256Field(Buffer.from('other'))), 422, 'digest-mismatch');
    for (const i of [0, 1, 2]) {
      const put = await putChunk(server.url, uploadId, i, data.subarray(i * 16 * KiB, (i + 1) * 16 * KiB));
      expect(put.status).toBe(201);
      fileId = put.body.fileId;
    }
    expect((await putChunk(server.url, uploadId, 1, data.subarray(16 * KiB, 32 * KiB))).status).toBe(200);
    expect((await call(server.url, 'GET', Paths.upload(uploadId))).status).toBe(200);
    const got = await download(server.url + Paths.file(fileId));
    expect(got.bytes.equals(data)).toBe(true);
    expectProblem(await call(server.url, 'GET', `/nothing/${fileId}`), 404, 'not-found');
    text = await scrape(server.url);
  });
  afterAll(() => server.dispose());

  it('times requests by route name, method and outcome, never by raw path', () => {
    const count = (labels: Record<string, string>) => sample(text, 'ferry_http_request_duration_seconds_count', labels);
    expect(count({ route: 'uploads', method: 'POST', outcome: '2xx' })).toBe(1);
    expect(count({ route: 'chunk', method: 'PUT', outcome: '2xx' })).toBe(4);
    expect(count({ route: 'chunk', method: 'PUT', outcome: 'digest-mismatch' })).toBe(1);
    expect(count({ route: 'upload', method: 'GET', outcome: '2xx' })).toBe(1);
    expect(count({ route: 'file', method: 'GET', outcome: '2xx' })).toBe(1);
    expect(count({ route: 'none', method: 'other', outcome: 'not-found' })).toBe(1);
    expect(sample(text, 'ferry_http_request_duration_seconds_bucket', { route: 'file', method: 'GET', outcome: '2xx', le: '+Inf' })).toBe(1);
    expect(text).not.toContain(fileId);
  });

  it('times chunks by outcome', () => {
    expect(sample(text, 'ferry_chunk_duration_seconds_count', { outcome: 'stored' })).toBe(3);
    expect(sample(text, 'ferry_chunk_duration_seconds_count', { outcome: 'duplicate' })).toBe(1);
    expect(sample(text, 'ferry_chunk_duration_seconds_count', { outcome: 'digest-mismatch' })).toBe(1);
  });

  it('counts bytes in and out, by route and in chunks and files', () => {
    // Four chunk bodies were read in full (the refused one too), plus their request heads.
    expect(sample(text, 'ferry_http_bytes_received_total', { route: 'chunk' })).toBeGreaterThan(4 * 16 * KiB);
    expect(sample(text, 'ferry_http_bytes_sent_total', { route: 'file' })).toBeGreaterThan(data.length);
    expect(sample(text, 'ferry_chunk_bytes_received_total')).toBe(4 * 16 * KiB);
    expect(sample(text, 'ferry_chunk_bytes_stored_total')).toBe(data.length);
    expect(sample(text, 'ferry_file_bytes_served_total')).toBe(data.length);
    expect(sample(text, 'ferry_chunks_failed_total', { code: 'digest-mismatch' })).toBe(1);
  });

  it('exposes event-loop lag and the Node process metrics', () => {
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_active_handles_total',
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
    ]) {
      expect(sample(text, name), name).toBeGreaterThanOrEqual(0);
    }
  });

  it('shows open connections as they open and close', async () => {
    const open = async () => sample(await scrape(server.url), 'ferry_http_open_connections')!;
    const base = await open();
    const sockets: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = connect(server.port, '127.0.0.1');
      await new Promise((resolve) => s.once('connect', resolve));
      sockets.push(s);
    }
    await expect.poll(open).toBe(base + 3);
    await Promise.all(sockets.map((s) => new Promise((resolve) => s.once('close', resolve).destroy())));
    await expect.poll(open).toBe(base);
  });

  it('counts limits hit by kind, and reads gauges registered by other parts', async () => {
    limitHit(server.ctx, 'rate');
    limitHit(server.ctx, 'rate');
    limitHit(server.ctx, 'connections');
    let buffered = 4096;
    server.ctx.metrics.gauge('ferry_response_buffer_bytes', () => buffered);
    let now = await scrape(server.url);
    expect(sample(now, 'ferry_limits_hit_total', { kind: 'rate' })).toBe(2);
    expect(sample(now, 'ferry_limits_hit_total', { kind: 'connections' })).toBe(1);
    expect(server.ctx.metrics.get('ferry_limits_hit_total')).toBe(3);
    expect(sample(now, 'ferry_response_buffer_bytes')).toBe(4096);
    buffered = 0;
    now = await scrape(server.url);
    expect(sample(now, 'ferry_response_buffer_bytes')).toBe(0);
  });
});

describe('the Metrics registry', () => {
  it('takes labels of any names on any counter, and get() sums the series that carry the given ones', async () => {
    const m = new Metrics();
    m.inc('ferry_limits_hit_total', 1, { kind: 'rate' });
    m.inc('ferry_limits_hit_total', 2, { kind: 'rate', identity: 'alice' });
    m.inc('ferry_limits_hit_total', 4, { kind: 'size' });
    expect(m.get('ferry_limits_hit_total')).toBe(7);
    expect(m.get('ferry_limits_hit_total', { kind: 'rate' })).toBe(3);
    expect(m.get('ferry_limits_hit_total', { identity: 'alice' })).toBe(2);
    const text = await m.render();
    expect(sample(text, 'ferry_limits_hit_total', { kind: 'rate', identity: 'alice' })).toBe(2);
    expect(sample(text, 'ferry_limits_hit_total', { kind: 'size' })).toBe(4);
  });

  it('keeps each server its own counters (several servers in one process)', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.inc('ferry_uploads_created_total', 5);
    expect(b.get('ferry_uploads_created_total')).toBe(0);
    expect(sample(await b.render(), 'ferry_uploads_created_total')).toBe(0);
    expect(sample(await a.render(), 'ferry_uploads_created_total')).toBe(5);
    // The process metrics are there for both.
    expect(sample(await b.render(), 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
  });
});

describe('who may read metrics', () => {
  let server: TestServer;
  let admin: string;
  let user: string;
  beforeAll(async () => {
    server = await startTestServer({ auth: 'token' });
    admin = (await createApiKey(server.ctx.meta, 'root', 'admin', '', Date.now())).key;
    user = (await createApiKey(server.ctx.meta, 'alice', 'user', '', Date.now())).key;
  });
  afterAll(() => server.dispose());

  it('serves them to admins only in token mode', async () => {
    expect(sample(await scrape(server.url, { authorization: `Bearer ${admin}` }), 'ferry_uploads_created_total')).toBe(0);
    expectProblem(await call(server.url, 'GET', '/metrics', { headers: { authorization: `Bearer ${user}` } }), 403, 'forbidden');
    expectProblem(await call(server.url, 'GET', '/metrics'), 401, 'unauthenticated');
  });
});

describe('--metrics-address', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer({ auth: 'token', metricsAddress: '127.0.0.1:0' });
    admin = (await createApiKey(server.ctx.meta, 'root', 'admin', '', Date.now())).key;
  });
  afterAll(() => server.dispose());

  it('serves /metrics there without a credential, and the main address answers 404 for it', async () => {
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.metricsUrl).not.toBe(server.url);
    await call(server.url, 'GET', '/healthz');
    const text = await scrape(server.metricsUrl!);
    expect(sample(text, 'ferry_http_request_duration_seconds_count', { route: 'healthz' })).toBe(1);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expectProblem(await call(server.url, 'GET', '/metrics', { headers: { authorization: `Bearer ${admin}` } }), 404, 'not-found');
  });

  it('answers nothing else there', async () => {
    expectProblem(await call(server.metricsUrl!, 'GET', '/files'), 404, 'not-found');
    const post = await call(server.metricsUrl!, 'POST', '/metrics');
    expectProblem(post, 405, 'method-not-allowed');
    expect(post.headers.allow).toBe('GET');
  });

  it('is validated at start', () => {
    expect(parseServerConfig({ metricsAddress: '[::1]:9464' }).metricsAddress).toBe('[::1]:9464');
    for (const bad of ['9464', 'localhost', 'localhost:70000', ':9464', 'a:b:9464']) {
      expect(() => parseServerConfig({ metricsAddress: bad }), bad).toThrow(/metricsAddress must be host:port/);
    }
  });

  it('is a `ferry serve` option, and the listening line says where metrics are', async () => {
    const dataDir = await tempDir();
    const child = await spawnServer(['--data-dir', dataDir, '--metrics-address', '127.0.0.1:0']);
    try {
      const metricsUrl = String(child.listening.metricsUrl);
      expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(sample(await scrape(metricsUrl), 'process_start_time_seconds')).toBeGreaterThan(0);
      expectProblem(await call(child.url, 'GET', '/metrics'), 404, 'not-found');
    } finally {
      await child.kill();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('stops with the server', async () => {
    const other = await startTestServer({ metricsAddress: '127.0.0.1:0' });
    const url = other.metricsUrl!;
    await scrape(url);
    await other.dispose();
    await expect(call(url, 'GET', '/metrics')).rejects.toThrow(/ECONNREFUSED/);
  });
});
