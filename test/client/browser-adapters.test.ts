// The browser adapters, run in Node (Blob and crypto.subtle are global here): Blob source,
// WebCrypto hasher (same digests as node:crypto), localStorage resume store.
import { describe, expect, it } from 'vitest';
import { createSource } from '../../src/client/browser/blob-source.js';
import { createHasher as createSubtleHasher } from '../../src/client/browser/hasher.js';
import { createResumeStore, type KeyValueStorage } from '../../src/client/browser/resume-store.js';
import { bytesSource } from '../../src/client/upload/bytes-source.js';
import type { ResumeEntry } from '../../src/client/upload/io.js';
import { createHasher as createNodeHasher } from '../../src/client/node/hasher.js';

describe('blob source', () => {
  const bytes = new Uint8Array(1000).map((_, i) => i % 251);
  it('reads ranges of a Blob', async () => {
    const src = createSource(new Blob([bytes]));
    expect(src.size).toBe(1000);
    expect(src.name).toBe('blob');
    expect(src.fingerprint).toBeNull();
    expect(await src.read(10, 20)).toEqual(bytes.subarray(10, 20));
    expect(await src.read(1000, 1000)).toEqual(new Uint8Array(0));
    await expect(src.read(0, 1001)).rejects.toThrow(RangeError);
  });

  it('fingerprints a File by name, size and lastModified', () => {
    const file = new File([bytes], 'photo.jpg', { lastModified: 1234 });
    const src = createSource(file);
    expect(src.name).toBe('photo.jpg');
    expect(src.fingerprint).toEqual(['photo.jpg', 1000, 1234]);
  });
});

describe('bytes source', () => {
  it('serves subarrays and is not resumable unless given a fingerprint', async () => {
    const src = bytesSource(new Uint8Array([1, 2, 3, 4]), { name: 'x' });
    expect(await src.read(1, 3)).toEqual(new Uint8Array([2, 3]));
    expect(src.fingerprint).toBeNull();
    expect(bytesSource(new Uint8Array(1), { fingerprint: ['abc'] }).fingerprint).toEqual(['abc']);
  });
});

describe('hashers', () => {
  it('WebCrypto and node:crypto give the same "sha-256=:B64:" text', async () => {
    const data = new TextEncoder().encode('hello ferry');
    const a = await createSubtleHasher().digest(data, 'sha-256');
    const b = await createNodeHasher().digest(data, 'sha-256');
    expect(a).toBe(b);
    expect(a).toMatch(/^sha-256=:[A-Za-z0-9+/]{43}=:$/);
    expect(await createNodeHasher().digest(new Uint8Array(0), 'sha-256')).toBe('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:');
  });

  it('the node hasher hashes incrementally', async () => {
    const data = new TextEncoder().encode('hello ferry');
    const h = createNodeHasher().createHash!('sha-256');
    h.update(data.subarray(0, 5));
    h.update(data.subarray(5));
    expect(await h.digest()).toBe(await createNodeHasher().digest(data, 'sha-256'));
    expect(createSubtleHasher().createHash).toBeUndefined();
  });
});

describe('localStorage resume store', () => {
  const entry: ResumeEntry = { uploadId: 'u', uploadUrl: 'http://s/uploads/u', serverUrl: 'http://s', name: 'a', size: 1, chunkSize: 1, totalChunks: 1, createdAt: 0, expiresAt: 1 };
  function memoryStorage(): KeyValueStorage & { map: Map<string, string> } {
    const map = new Map<string, string>();
    return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
  }

  it('gets, sets and deletes under a prefix', async () => {
    const storage = memoryStorage();
    const store = createResumeStore({ storage });
    await store.set('k', entry);
    expect([...storage.map.keys()]).toEqual(['ferry:upload:k']);
    expect(await store.get('k')).toEqual(entry);
    await store.delete('k');
    expect(await store.get('k')).toBeUndefined();
  });

  it('ignores garbage and works without storage', async () => {
    const storage = memoryStorage();
    storage.setItem('ferry:upload:k', '{oops');
    expect(await createResumeStore({ storage }).get('k')).toBeUndefined();
    const none = createResumeStore({ storage: null });
    await none.set('k', entry);
    expect(await none.get('k')).toBeUndefined();
  });
});
