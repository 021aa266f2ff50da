/** What is live on a site: the read model behind `status`, get_status and the console's card. */
import type { Site } from '../site.ts';
import { createAtomicRecords, EMPTY_ATOMIC_STATE } from '../state/atomic.ts';
import { readPin } from '../state/pin.ts';
import { type StatusView, toPinView, toReleaseView, toRequestView } from './views.ts';

/** `tags`: deploy id → deploy tag name, when the reader knows the git host (the console, the CLI). */
export async function readStatus(
  site: Site,
  tags: ReadonlyMap<string, string> = new Map(),
): Promise<StatusView> {
  const [pointer, pending, pin, atomic] = await Promise.all([
    site.records.readPointer(),
    site.records.readPending(),
    readPin(site),
    site.mode === 'atomic'
      ? createAtomicRecords(site.state, site.target.statePrefix).readState()
      : EMPTY_ATOMIC_STATE,
  ]);
  const now = Date.now();
  const live = pointer?.value ?? null;
  const record = live ? await site.records.readRecord(live.deployId) : null;
  return {
    stack: site.target.stack,
    protected: site.protected,
    siteUrl: site.target.siteUrl ?? null,
    live: live && {
      ...toReleaseView(live),
      kind: record?.kind ?? null,
      request: record ? toRequestView(record.request) : null,
      tag: tags.get(live.deployId) ?? null,
    },
    releases: (live?.releases ?? []).map(toReleaseView),
    pending: pending && {
      deployId: pending.plan.deployId,
      commit: pending.plan.commit,
      startedAt: pending.startedAt,
      pointerMoved: pending.pointerMoved,
    },
    pin: pin && toPinView(pin),
    mode: site.mode,
    canary: atomic.canary && {
      deployId: atomic.canary.deployId,
      app: atomic.canary.app,
      commit: atomic.canary.commit,
      percent: atomic.canary.weight,
      startedAt: atomic.canary.startedAt,
      by: atomic.canary.request.actor,
    },
    previews: atomic.previews
      .filter((preview) => Date.parse(preview.expiresAt) > now)
      .map((preview) => ({
        app: preview.app,
        commit: preview.commit,
        expiresAt: preview.expiresAt,
        by: preview.actor,
      })),
  };
}
