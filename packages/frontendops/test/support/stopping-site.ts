/**
 * A site as a process sees it that stops at a given write, as one killed or cut off there would: that
 * write (a put, or a delete of such a key) and every later one fail; the writes before it land.
 */
import type { ObjectStore } from '../../src/ports.ts';
import type { Site } from '../../src/site.ts';
import { createStateRecords } from '../../src/state/records.ts';

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
