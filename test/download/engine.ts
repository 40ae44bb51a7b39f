// What the download tests import from the engine: the Node entry, and a reader for sidecars.
import { parseIndexRanges } from '../../src/protocol/index.js';
import { parseState } from '../../src/client/download/state.js';

export * from '../../src/client/node/download.js';

/** The sidecar's fields with `done` expanded to indexes; throws when it is not a valid sidecar. */
export function parseStateForTest(text: string) {
  const state = parseState(text);
  if (!state) throw new Error(`not a sidecar: ${text.slice(0, 200)}`);
  return { ...state, done: parseIndexRanges(state.done) };
}
