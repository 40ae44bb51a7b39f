// Runs around every test file: no child process a test started outlives the test.
import { afterEach } from 'vitest';
import { killStragglers } from './children.js';

// The tests talk to servers on loopback: a proxy set on the machine running them (HTTP_PROXY, …)
// must not route those requests through it (the Node client honours these variables). Tests of
// proxying set them for their own child processes.
for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy']) delete process.env[name];

afterEach(() => killStragglers());
