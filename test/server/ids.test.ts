// Upload and file ids: unguessable, URL-safe, and never mistaken for a command-line option.
import { expect, it } from 'vitest';
import { idPattern, newId } from '../../src/server/ids.js';

it('draws 24 URL-safe characters that never start with "-" or "_"', () => {
  // One id in 32 would start with "-" or "_" if nothing prevented it: 4,000 draws leave no chance to miss it.
  const ids = Array.from({ length: 4000 }, newId);
  for (const id of ids) {
    expect(id).toMatch(idPattern);
    expect(id).toHaveLength(24);
    expect(id).toMatch(/^[A-Za-z0-9]/);
  }
  expect(new Set(ids).size).toBe(ids.length);
});
