// The upload protocol end to end over real HTTP: create, chunks in any order, status, assembly, download.
// On SQLite; the tests are in upload-flow-suite.ts, and protocol-on-postgres.test.ts runs them on PostgreSQL.
import { startTestServer } from '../helpers/server.js';
import { describeUploadFlow } from './upload-flow-suite.js';

describeUploadFlow((config) => startTestServer(config));
