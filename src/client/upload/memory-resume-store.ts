// A resume store that lives as long as the process: the default when nothing durable is configured.
import type { ResumeEntry, ResumeStore } from './io.js';

export class MemoryResumeStore implements ResumeStore {
  private readonly entries = new Map<string, ResumeEntry>();

  async get(key: string): Promise<ResumeEntry | undefined> {
    const e = this.entries.get(key);
    return e ? { ...e } : undefined;
  }

  async set(key: string, entry: ResumeEntry): Promise<void> {
    this.entries.set(key, { ...entry });
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }
}
