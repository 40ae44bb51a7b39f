// Every kind of bad request gets the documented status and problem type, and stored data is untouched.
// On SQLite; the tests are in bad-input-suite.ts, and protocol-on-postgres.test.ts runs them on PostgreSQL.
import { startTestServer } from '../helpers/server.js';
import { describeBadInput } from './bad-input-suite.js';

describeBadInput((config) => startTestServer(config));
