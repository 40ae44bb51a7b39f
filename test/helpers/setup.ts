// Runs around every test file: no child process a test started outlives the test.
import { afterEach } from 'vitest';
import { killStragglers } from './children.js';

afterEach(() => killStragglers());
