// The emulated links of the WAN section (issue 19): round trip, each connection's cap, the capacity
// all connections share, and optionally the chaos tests' "medium" faults (cuts and stalls, no flips).
import type { Direction, LinkFaults, LinkOptions } from './link.js';
import { KiB, MiB } from './stats.js';

export interface WanProfile {
  name: string;
  rttMs: number;
  perConnectionBytesPerSecond: number;
  sharedBytesPerSecond: number;
  /** Cuts and stalls at the fault proxy's medium level. */
  lossy: boolean;
}

export const wanProfiles: WanProfile[] = [
  { name: 'continental', rttMs: 60, perConnectionBytesPerSecond: 20 * MiB, sharedBytesPerSecond: 120 * MiB, lossy: false },
  { name: 'far', rttMs: 150, perConnectionBytesPerSecond: 10 * MiB, sharedBytesPerSecond: 200 * MiB, lossy: false },
  { name: 'lossy', rttMs: 60, perConnectionBytesPerSecond: 20 * MiB, sharedBytesPerSecond: 120 * MiB, lossy: true },
];

/** The smoke run's one small, clean link: it proves the section works, nothing about speed. */
export const smokeProfile: WanProfile = { name: 'smoke', rttMs: 20, perConnectionBytesPerSecond: 20 * MiB, sharedBytesPerSecond: 100 * MiB, lossy: false };

/**
 * The "medium" level of test/chaos/scenarios/network.ts, cuts and stalls only (bit flips would corrupt
 * what curl and aria2c write, and the issue asks for cuts and stalls): 80 % of connections are cut after
 * 256 KiB–8 MiB of the file's direction, 3 % stall for 5 s somewhere in their first 8 MiB. Every
 * connection, all along the transfer (no fault budget): a keep-alive connection that outlives its
 * cut offset carries on unharmed, as in the chaos tests.
 */
export const mediumFaults = { cutRate: 0.8, cutAfterBytes: [256 * KiB, 8 * MiB] as [number, number], stallRate: 0.03, stallAfterBytes: [1, 8 * MiB] as [number, number], stallMs: 5_000 };

/** One seed for every run: each contender meets the same schedule, connection by connection. */
const faultSeed = 19;

export function linkOptions(p: WanProfile, fileDirection: Direction): LinkOptions {
  const faults: LinkFaults | null = p.lossy ? { seed: faultSeed, direction: fileDirection, ...mediumFaults } : null;
  return { rttMs: p.rttMs, perConnectionBytesPerSecond: p.perConnectionBytesPerSecond, sharedBytesPerSecond: p.sharedBytesPerSecond, faults };
}

/** The fastest any transfer of `size` bytes can go: the shared capacity, full. */
export function floorSeconds(p: WanProfile, size: number): number {
  return size / p.sharedBytesPerSecond;
}

export function describeProfile(p: WanProfile): string {
  const rate = (n: number) => `${+(n / MiB).toFixed(1)} MiB/s`;
  return `${p.rttMs} ms RTT, ${rate(p.perConnectionBytesPerSecond)} per connection, ${rate(p.sharedBytesPerSecond)} shared${p.lossy ? ', medium cuts and stalls' : ''}`;
}
