// Every probe of `npm run abuse`, one per row of issue 15's table, at the issue's sizes.
import type { ProbeSpec } from '../support/harness.js';
import { connectionsProbe } from './connections.js';
import { createsProbe } from './creates.js';
import { digestsProbe } from './digests.js';
import { hostProbe } from './host.js';
import { manifestProbe } from './manifest.js';
import { metadataProbe } from './metadata.js';
import { namesProbe } from './names.js';
import { requestIdProbe } from './request-id.js';
import { slowBodyProbe } from './slow-body.js';
import { slowReadersProbe } from './slow-readers.js';
import { statusProbe } from './status.js';

/** In the order; the runner runs them one at a time. */
export const probes: ProbeSpec[] = [
  metadataProbe,
  manifestProbe(),
  statusProbe(),
  slowReadersProbe(),
  createsProbe(),
  slowBodyProbe(),
  connectionsProbe(),
  hostProbe,
  namesProbe,
  digestsProbe,
  requestIdProbe,
];
