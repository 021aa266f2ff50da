/**
 * A site as a process sees it that stops at a given write, as one killed or cut off there would: that
 * write (a put, or a delete of such a key) and every later one fail; the writes before it land. And
 * what an atomic operation stopped so left (stoppedAtomic).
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import type { AtomicPending } from '../../src/state/atomic.ts';
import { verifyAudit } from '../../src/state/audit.ts';
import { createStateRecords, type RequestInfo } from '../../src/state/records.ts';
import { type AtomicEnv, startDeployedAtomicEnv, storedAtomicPending } from './atomic-env.ts';
import { requestBy, startShippedDeployEnv } from './deploy-env.ts';

export function stoppingSite(
  site: Site,
  hit: (key: string, body?: unknown) => boolean,
  message = 'the process stopped',
): Site {
  let stopped = false;
  const guard = (now: boolean) => {
    if (stopped || now) {
      stopped = true;
      throw new Error(message);
    }
  };
  const state: ObjectStore = {
    ...site.state,
    put: async (key, body, ...rest) => {
      guard(hit(key, body));
      return site.state.put(key, body, ...rest);
    },
    delete: async (keys) => {
      guard(keys.some((key) => hit(key)));
      return site.state.delete(keys);
    },
    deleteIf: async (key, etag) => {
      guard(hit(key));
      return site.state.deleteIf(key, etag);
    },
  };
  return { ...site, state, records: createStateRecords(state, site.target.statePrefix) };
}

/** An audit entry's key (audit/<seq>.json under a state prefix). */
const AUDIT_ENTRY = /\/audit\/\d{10}\.json$/;

/**
 * A site that stops at the first audit entry written after a write `wrote` matches (that write lands):
 * an operation stopped between writing an object and the entry that records it.
 */
export function stoppedAtEntryAfter(site: Site, wrote: (key: string, body?: unknown) => boolean): Site {
  let written = false;
  return stoppingSite(site, (key, body) => {
    if (!written && wrote(key, body)) {
      written = true;
      return false;
    }
    return written && AUDIT_ENTRY.test(key);
  });
}

/**
 * A deploy of app@commit that stopped between writing its deployment record and the audit entry
 * binding it, as a genuine crash there leaves it (it must stop there): the record no entry binds yet.
 */
export async function deployStoppedAfterRecord(
  site: Site,
  deploy: { app: string; commit: string; request: RequestInfo },
): Promise<void> {
  const records = `${site.target.statePrefix}deployments/`;
  const stopping = stoppedAtEntryAfter(site, (key) => key.startsWith(records));
  await expect(deployArtifact(stopping, deploy)).rejects.toThrow('the process stopped');
}

/**
 * A deploy of app@commit caught just after its crash-recovery record (`record`: pending.json or
 * atomic/pending.json) was written saying `marked` (its switch made), as seen while it waits on the
 * CDN: every later state write fails. Returns the site a reader holding no lock sees across that
 * switch: its first read of the live pointer answered as it was before the deploy, later ones as stored.
 */
export async function readAcrossSwitch(
  site: Site,
  deploy: { app: string; commit: string; request: RequestInfo },
  record: string,
  marked: RegExp,
): Promise<() => Site> {
  const before = await site.records.readPointer();
  let reached = false;
  const running = stoppingSite(site, (key, body) => {
    if (reached) return true;
    reached = key.endsWith(record) && marked.test(Buffer.from(body as never).toString());
    return false;
  });
  await expect(deployArtifact(running, deploy)).rejects.toThrow(/stopped/);
  expect(reached).toBe(true);
  return () => {
    let stale = true;
    const readPointer = async () => {
      if (!stale) return site.records.readPointer();
      stale = false;
      return before;
    };
    return { ...site, records: { ...site.records, readPointer } };
  };
}

/** The builds the mid-switch cases publish (midSwitchFor): v1 and v2 deployed, v3's deploy caught. */
export const MID_SWITCH = {
  app: 'sophia-dashboard',
  commits: ['a1a1a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2b2b2', 'c3c3c3c3c3c3c3c3c3c3'],
} as const;

/**
 * For the tests of the calling file: a stack named `stack` (in place, or atomic) with MID_SWITCH's
 * three builds published and the first two deployed, then the deploy of the third caught just after
 * its switch, its crash-recovery record marked (readAcrossSwitch); started before the tests, stopped
 * after them. The returned function gives the stack's site and, per call, a site whose first pointer
 * read straddles that switch (answered as before it).
 */
export function midSwitchFor(stack: string, mode: 'in-place' | 'atomic'): () => MidSwitch {
  const { app, commits } = MID_SWITCH;
  let env: { site: Site; stop(): Promise<void> } | undefined;
  let straddling: (() => Site) | undefined;
  beforeAll(async () => {
    env =
      mode === 'atomic'
        ? await startDeployedAtomicEnv({ stack }, commits, 2)
        : await startShippedDeployEnv({ stack, app, publish: commits, ship: 2 });
    // The in-place deploy moves live.json, then marks pending.json moved; the atomic one switches
    // the release store and the pointer, then marks atomic/pending.json switched.
    straddling = await readAcrossSwitch(
      env.site,
      { app, commit: commits[2], request: requestBy('ship v3') },
      mode === 'atomic' ? '/atomic/pending.json' : '/pending.json',
      mode === 'atomic' ? /"switched":\s*true/ : /"pointerMoved":\s*true/,
    );
  }, 180_000);
  afterAll(() => env?.stop());
  return () => {
    if (!env || !straddling) throw new Error('the stack starts in beforeAll: ask for it inside a test');
    return { site: env.site, straddling };
  };
}

export interface MidSwitch {
  site: Site;
  /** A new site as a reader holding no lock sees it across the switch (its first pointer read stale). */
  straddling: () => Site;
}

/** What an atomic operation stopped part-way left under the stack's state prefix, as stored. */
export interface StoppedAtomic {
  /** Its crash-recovery record (atomic/pending.json). */
  stopped: AtomicPending;
  /** atomic/state.json, the text stored. */
  written: string;
  /** Writes atomic/state.json: `state` as JSON, or with none the `written` text back. */
  putState(state?: unknown): Promise<void>;
}

/**
 * Runs `run`, an atomic operation on a stopping site, which must stop; returns what it left (its
 * record and atomic/state.json) once `audit verify` (with the release store) finds none of it
 * tampered: an attack test then edits that state, and what verify says next is the edit's doing.
 */
export async function stoppedAtomic(t: AtomicEnv, run: Promise<unknown>): Promise<StoppedAtomic> {
  await expect(run).rejects.toThrow(/stopped/);
  const prefix = t.target.statePrefix;
  const stateKey = `${prefix}atomic/state.json`;
  const stopped = await storedAtomicPending(t.site);
  const written = (await t.site.state.get(stateKey))?.body.toString('utf8') ?? '';
  const verdict = await verifyAudit(t.site.state, prefix, { releaseStore: t.site.releases });
  expect(verdict.problems.map((p) => p.kind)).not.toContain('tampered');
  const putState = async (state?: unknown) => {
    await t.site.state.put(stateKey, state === undefined ? written : JSON.stringify(state), {
      contentType: 'application/json',
    });
  };
  return { stopped, written, putState };
}
