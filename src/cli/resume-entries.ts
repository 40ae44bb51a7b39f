// This machine's unfinished uploads: the entries of the Node client's resume store (the state directory's
// uploads.json), which `ferry upload` resumes from.
import type { ResumeEntry } from '../client/node/index.js';

export interface LocalUpload extends ResumeEntry {
  /** The store's key (a fingerprint of the file and the server). */
  key: string;
}

async function store() {
  // Loaded here: the client is not needed by the commands that only list or abort.
  const { createResumeStore } = await import('../client/node/index.js');
  return createResumeStore();
}

/** Every entry, oldest first. */
export async function localUploads(): Promise<LocalUpload[]> {
  const entries = await (await store()).list();
  return Object.entries(entries)
    .map(([key, entry]) => ({ ...entry, key }))
    .sort((a, b) => a.createdAt - b.createdAt);
}

/** Removes the entries of upload `uploadId` (ids are random and long: no two servers share one); how many there were. */
export async function forgetUpload(uploadId: string): Promise<number> {
  const resume = await store();
  const entries = await resume.list();
  let forgotten = 0;
  for (const [key, entry] of Object.entries(entries)) {
    if (entry.uploadId !== uploadId) continue;
    await resume.delete(key);
    forgotten++;
  }
  return forgotten;
}
