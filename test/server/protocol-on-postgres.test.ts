// The core protocol flows (uploads, bad input, downloads) on a PostgreSQL metadata store: the same
// assertions as on SQLite (the *-suite.ts files), each suite's server on a fresh database.
import { describe } from 'vitest';
import type { ServerConfigInput } from '../../src/server/index.js';
import { postgresSkipReason } from '../helpers/postgres.js';
import { startTestServer } from '../helpers/server.js';
import { describeBadInput } from './bad-input-suite.js';
import { describeDownloads } from './download-suite.js';
import { describeUploadFlow } from './upload-flow-suite.js';

// Outside CI a machine where embedded PostgreSQL cannot start skips these (with the reason); in CI this throws.
const skip = await postgresSkipReason();
const onPostgres = (config?: ServerConfigInput) => startTestServer(config, { meta: 'postgres' });

describe.skipIf(skip !== null)('on PostgreSQL', () => {
  describe('upload flow', () => describeUploadFlow(onPostgres));
  describe('bad input', () => describeBadInput(onPostgres));
  describe('downloads', () => describeDownloads(onPostgres));
});
