// Everything a section needs: where things are, what is installed, how big and how many times.
import type { Env } from '../contenders/common.js';
import type { Contender, Log } from './contender.js';
import type { Tools } from './prereqs.js';
import type { WorkDir } from './workdir.js';

export interface BenchOptions {
  /** Size of the generated file (default 1 GiB). */
  size: number;
  /** Rounds of alternation for throughput sections. */
  rounds: number;
  /** Rounds for the scaling measurements (each has a 4 × size upload). */
  scalingRounds: number;
  sections: Set<SectionName>;
  /** A fast run for the test suite: tiny sizes, few contenders; nothing asserted on timings. */
  smoke: boolean;
  /** Markdown output (default docs/benchmarks.md). */
  out: string;
  /** Try apt-get install of missing tools (root only). */
  install: boolean;
  /** Only these contender ids (for investigating one comparison); null for all. */
  only: Set<string> | null;
  /**
   * Another checkout with a built dist/ (e.g. `git worktree add /tmp/base main~3 && cd /tmp/base &&
   * npm ci`): its `ferry upload`/`ferry download` run as extra rows beside this build's, alternated.
   */
  baseline: string | null;
  /** File size for the WAN section (default 256 MiB; smoke: 12 MiB). */
  wanSize: number;
  /** Alternation rounds on each emulated link (default 3; smoke: 1). */
  wanRounds: number;
  /** The link profiles to run (bench/lib/wan-profiles.ts); the smoke run has its own one. */
  wanProfiles: Set<string>;
}

export type SectionName = 'sha' | 'upload' | 'tus' | 'download' | 'memory' | 'scaling' | 'cluster' | 'wan';
export const allSections: SectionName[] = ['sha', 'upload', 'tus', 'download', 'memory', 'scaling', 'cluster', 'wan'];

export interface BenchContext {
  repo: string;
  work: WorkDir;
  tools: Tools;
  options: BenchOptions;
  env: Env;
  log: Log;
  /** The generated source file (options.size bytes). */
  file: string;
}

/** The contenders `--only` keeps (all when it is not given). */
export function pick(ctx: BenchContext, contenders: Contender[]): Contender[] {
  const only = ctx.options.only;
  return only ? contenders.filter((c) => only.has(c.id)) : contenders;
}
