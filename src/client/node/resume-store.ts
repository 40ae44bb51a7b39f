// Resume entries in a small JSON file under the user's state directory, replaced atomically
// (write a temporary file, fsync, rename) so a crash never leaves it half written.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { ResumeEntry, ResumeStore } from '../upload/io.js';

export interface FileResumeStoreOptions {
  /** The directory holding uploads.json (default: see stateDir). */
  dir?: string;
  /** The file itself; overrides dir. */
  file?: string;
  /** Environment to read FERRY_STATE_DIR / XDG_STATE_HOME from (default process.env). */
  env?: Record<string, string | undefined>;
}

/** $FERRY_STATE_DIR, else $XDG_STATE_HOME/ferry, else ~/.local/state/ferry. */
export function stateDir(env: Record<string, string | undefined> = process.env): string {
  if (env.FERRY_STATE_DIR) return env.FERRY_STATE_DIR;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'ferry');
  return join(homedir(), '.local', 'state', 'ferry');
}

const Entry = z.object({
  uploadId: z.string(),
  uploadUrl: z.string(),
  serverUrl: z.string(),
  name: z.string(),
  size: z.number(),
  chunkSize: z.number(),
  totalChunks: z.number(),
  createdAt: z.number(),
  expiresAt: z.number(),
}) satisfies z.ZodType<ResumeEntry>;

const FileFormat = z.object({ version: z.literal(1), uploads: z.record(z.string(), z.unknown()) });
type Entries = Record<string, ResumeEntry>;

export function createResumeStore(options: FileResumeStoreOptions = {}): FileResumeStore {
  return new FileResumeStore(options.file ?? join(options.dir ?? stateDir(options.env), 'uploads.json'));
}

export class FileResumeStore implements ResumeStore {
  /** Writes of this process, one after another (each reads the file afresh, then replaces it). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string): Promise<ResumeEntry | undefined> {
    await this.queue.catch(() => {});
    return (await this.load())[key];
  }

  set(key: string, entry: ResumeEntry): Promise<void> {
    return this.update((entries) => {
      entries[key] = entry;
    });
  }

  delete(key: string): Promise<void> {
    return this.update((entries) => {
      if (!(key in entries)) return false;
      delete entries[key];
    });
  }

  /** All entries (for a CLI listing). */
  async list(): Promise<Entries> {
    await this.queue.catch(() => {});
    return this.load();
  }

  private update(change: (entries: Entries) => void | false): Promise<void> {
    const run = this.queue.catch(() => {}).then(async () => {
      const entries = await this.load();
      if (change(entries) === false) return;
      const now = this.now();
      for (const [k, e] of Object.entries(entries)) if (e.expiresAt < now) delete entries[k];
      await this.save(entries);
    });
    this.queue = run;
    return run;
  }

  /** Unreadable or foreign content counts as empty: losing resume state only costs a re-upload. */
  private async load(): Promise<Entries> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
    let parsed: z.infer<typeof FileFormat>;
    try {
      parsed = FileFormat.parse(JSON.parse(text));
    } catch {
      return {};
    }
    const entries: Entries = {};
    for (const [k, v] of Object.entries(parsed.uploads)) {
      const e = Entry.safeParse(v);
      if (e.success) entries[k] = e.data;
    }
    return entries;
  }

  private async save(entries: Entries): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify({ version: 1, uploads: entries }, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }
}
