// GET /files/{id}: single ranges, 416, If-Range, If-None-Match, ETag, Repr-Digest, manifests.
// On SQLite; the tests are in download-suite.ts, and protocol-on-postgres.test.ts runs them on PostgreSQL.
import { startTestServer } from '../helpers/server.js';
import { describeDownloads } from './download-suite.js';

describeDownloads((config) => startTestServer(config));
