/**
 * The runbook planner: each intent is a fixed sequence of tool calls through the policy gate — the
 * seed's deploy workflow (latest commit → deploy target → approval → sync → invalidate → tag) and
 * its siblings. A failed step stops the sequence; its words become the answer.
 */
import type { Intent } from './intents.ts';
import type { GateCall, PolicyGate } from './policy-gate.ts';
import type { AgentOutcome } from './types.ts';

export interface RunbookContext {
  gate: PolicyGate;
  /** The request's words (they go into the deploy tag). */
  text: string;
  stack: string;
  app: string;
  appPath: string;
  dryRun: boolean;
  now: Date;
}

export interface PlannerOutcome {
  outcome: AgentOutcome;
  message: string;
  deployId?: string;
  commit?: string;
  tag?: string;
  filesChanged?: number;
  invalidationIds?: string[];
  siteUrl?: string;
  data?: Record<string, unknown>;
}

/** Thrown inside a sequence when a step did not succeed; becomes the outcome. */
class StepStopped extends Error {
  constructor(readonly call: GateCall) {
    super(call.record.summary);
  }
}

export async function runRunbook(intent: Intent, ctx: RunbookContext): Promise<PlannerOutcome> {
  try {
    switch (intent.kind) {
      case 'deploy':
        return await (ctx.dryRun ? planDeploySteps(ctx, intent.ref, true) : deploy(ctx, intent.ref));
      case 'plan':
        return await planDeploySteps(ctx, intent.ref, false);
      case 'rollback':
        return await rollback(ctx, intent.to);
      case 'status':
        return await status(ctx);
      case 'history':
        return await history(ctx, intent.limit);
      case 'invalidate':
        return await invalidate(ctx, intent.deployId);
      case 'refuse':
        return { outcome: 'refused', message: intent.reason };
    }
  } catch (error) {
    if (!(error instanceof StepStopped)) throw error;
    const { call } = error;
    if (call.declined) {
      return {
        outcome: 'declined',
        message: `Nothing was changed: ${call.record.tool} on ${ctx.stack} was not approved. Run it again with --yes to approve, or answer "y" when asked.`,
      };
    }
    return { outcome: 'failed', message: `${call.record.tool} failed: ${call.text || call.record.summary}` };
  }
}

/** Picks the release that was live at the end of yesterday: the newest successful one finished before today. */
export function pickYesterdaysRelease(
  deployments: ReadonlyArray<Record<string, unknown>>,
  now: Date,
): Record<string, unknown> | null {
  const startOfToday = new Date(now);
  startOfToday.setHours(0, 0, 0, 0);
  return (
    [...deployments]
      .filter((d) => d.outcome === 'succeeded' && typeof d.finishedAt === 'string')
      .filter((d) => Date.parse(String(d.finishedAt)) < startOfToday.getTime())
      .sort((a, b) => String(b.finishedAt).localeCompare(String(a.finishedAt)))[0] ?? null
  );
}

// ── intents ──────────────────────────────────────────────────────────────────────────────────────

async function deploy(ctx: RunbookContext, ref: string | null): Promise<PlannerOutcome> {
  const commit = await resolveCommit(ctx, ref);
  const target = await step(ctx, 'get_deploy_target', { stack: ctx.stack, app: ctx.app, commit: commit.sha });
  if (target.noop === true) {
    return {
      outcome: 'noop',
      commit: commit.sha,
      message: `${ctx.app} ${short(commit.sha)} is already live on ${ctx.stack}; nothing to do.`,
    };
  }
  const sync = await step(ctx, 'run_sync', { handle: String(target.handle) });
  const deployId = String(sync.deployId);
  const cdn = await step(ctx, 'invalidate_cdn', { deployId, stack: ctx.stack });
  const digest = target.artifactDigest ?? sync.artifactDigest;
  const tag =
    typeof digest === 'string'
      ? await step(ctx, 'create_deploy_tag', {
          deployId,
          commit: commit.sha,
          artifactDigest: digest,
          request: ctx.text,
        })
      : null;
  const siteUrl = await readSiteUrl(ctx);
  const invalidationIds = strings(cdn.invalidationIds);
  const copied = count(sync.copied);
  return {
    outcome: 'succeeded',
    deployId,
    commit: commit.sha,
    ...(tag ? { tag: String(tag.name) } : {}),
    filesChanged: copied + count(sync.pruned),
    invalidationIds,
    ...(siteUrl ? { siteUrl } : {}),
    message: [
      `Deployed ${ctx.app} ${short(commit.sha)} ("${commit.subject}") to ${ctx.stack} as ${deployId}.`,
      `Files: ${copied} copied, ${count(sync.unchanged)} unchanged, ${count(sync.pruned)} pruned.`,
      `Invalidation: ${invalidationIds.length ? invalidationIds.join(', ') : 'none needed'}${verificationNote(cdn)}.`,
      tag ? `Tag: ${String(tag.name)}.` : 'Tag: not created (the infra server returned no artifact digest).',
      siteUrl ? `Live at ${siteUrl}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}

/** --dry-run of a deploy, and "what would change": read-only calls only, the rest listed. */
async function planDeploySteps(
  ctx: RunbookContext,
  ref: string | null,
  listWrites: boolean,
): Promise<PlannerOutcome> {
  const commit = await resolveCommit(ctx, ref);
  const plan = await step(ctx, 'plan_deploy', { stack: ctx.stack, app: ctx.app, commit: commit.sha });
  if (listWrites) {
    ctx.gate.skip(
      'get_deploy_target',
      { stack: ctx.stack, app: ctx.app, commit: commit.sha },
      'Dry run: would get a deploy handle.',
    );
    ctx.gate.skip(
      'run_sync',
      { handle: '<from get_deploy_target>' },
      'Dry run: would sync (after approval on protected stacks).',
    );
    ctx.gate.skip(
      'invalidate_cdn',
      { deployId: '<from run_sync>', stack: ctx.stack },
      'Dry run: would invalidate changed paths.',
    );
    ctx.gate.skip(
      'create_deploy_tag',
      {
        deployId: '<from run_sync>',
        commit: commit.sha,
        artifactDigest: '<from the target>',
        request: ctx.text,
      },
      'Dry run: would tag the deployed commit.',
    );
  }
  return {
    outcome: 'planned',
    commit: commit.sha,
    data: plan,
    message:
      typeof plan.description === 'string'
        ? `${plan.noop === true ? 'Nothing would change: ' : 'Would '}${plan.description}`
        : `Planned a deploy of ${short(commit.sha)} to ${ctx.stack}.`,
  };
}

async function rollback(
  ctx: RunbookContext,
  to: Extract<Intent, { kind: 'rollback' }>['to'],
): Promise<PlannerOutcome> {
  const before = await step(ctx, 'get_status', { stack: ctx.stack });
  const live = (before.live ?? null) as Record<string, unknown> | null;
  let target: string | undefined;
  if (to.type === 'deploy') target = to.deployId;
  if (to.type === 'commit')
    target = /^[0-9a-f]{40}$/.test(to.ref) ? to.ref : (await resolveCommit(ctx, to.ref)).sha;
  if (to.type === 'yesterday') {
    const past = await step(ctx, 'get_history', { stack: ctx.stack, limit: 100 });
    const release = pickYesterdaysRelease(records(past.deployments), ctx.now);
    if (!release)
      return {
        outcome: 'failed',
        message: `No release of ${ctx.stack} finished before today; nothing to roll back to.`,
      };
    if (live && release.deployId === live.deployId) {
      return {
        outcome: 'noop',
        message: `Yesterday's release ${String(release.deployId)} is still live; nothing to do.`,
      };
    }
    target = String(release.deployId);
  }
  const releases = records(before.releases);
  // Name the release a person approves: "the previous release" is the one after the live one.
  const destination = target
    ? (releases.find((r) => r.deployId === target || r.commit === target) ?? null)
    : (releases[1] ?? null);
  const args = { stack: ctx.stack, ...(target ? { to: target } : {}) };
  const approvalSummary = `roll back ${ctx.stack} from ${describeLive(live)} to ${
    destination ? describeLive(destination) : (target ?? 'the previous release')
  }`;
  if (ctx.dryRun) {
    ctx.gate.skip(
      'rollback',
      args,
      `Dry run: would roll back ${ctx.stack} to ${target ?? 'the previous release'}.`,
    );
    return {
      outcome: 'planned',
      message: `Would roll back ${ctx.stack} from ${describeLive(live)} to ${target ?? 'the previous release'}.`,
    };
  }
  const result = await step(ctx, 'rollback', args, { approvalSummary });
  const deployId = String(result.deployId);
  const commit = typeof result.commit === 'string' ? result.commit : undefined;
  const tag =
    commit && typeof result.artifactDigest === 'string'
      ? await step(ctx, 'create_deploy_tag', {
          deployId,
          commit,
          artifactDigest: result.artifactDigest,
          request: ctx.text,
        })
      : null;
  const siteUrl = await readSiteUrl(ctx);
  const invalidationIds = strings(result.invalidationIds);
  return {
    outcome: result.outcome === 'noop' ? 'noop' : 'succeeded',
    deployId,
    ...(commit ? { commit } : {}),
    ...(tag ? { tag: String(tag.name) } : {}),
    filesChanged: count(result.copied) + count(result.pruned),
    invalidationIds,
    ...(siteUrl ? { siteUrl } : {}),
    message: [
      `Rolled back ${ctx.stack} from ${describeLive(live)} to ${commit ? short(commit) : '?'} as ${deployId}.`,
      `Files: ${count(result.copied)} copied, ${count(result.pruned)} pruned. Invalidation: ${invalidationIds.join(', ') || 'none needed'}.`,
      tag ? `Tag: ${String(tag.name)}.` : '',
      siteUrl ? `Live at ${siteUrl}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  };
}

async function status(ctx: RunbookContext): Promise<PlannerOutcome> {
  const result = await step(ctx, 'get_status', { stack: ctx.stack });
  const live = (result.live ?? null) as Record<string, unknown> | null;
  const siteUrl = typeof result.siteUrl === 'string' ? result.siteUrl : undefined;
  return {
    outcome: 'answered',
    data: result,
    ...(live ? { deployId: String(live.deployId), commit: String(live.commit) } : {}),
    ...(siteUrl ? { siteUrl } : {}),
    message: live
      ? `Live on ${ctx.stack}: ${describeLive(live)}, released ${String(live.releasedAt)}` +
        `${result.pending === true ? ' (a deploy is in progress)' : ''}.${siteUrl ? ` Site: ${siteUrl}` : ''}`
      : `Nothing is live on ${ctx.stack} yet.`,
  };
}

async function history(ctx: RunbookContext, limit: number): Promise<PlannerOutcome> {
  const result = await step(ctx, 'get_history', { stack: ctx.stack, limit });
  const rows = records(result.deployments);
  const lines = rows.map((d) => {
    const request = (d.request ?? {}) as Record<string, unknown>;
    const who = typeof request.actor === 'string' ? ` by ${request.actor}` : '';
    return `${String(d.startedAt ?? '?')}  ${String(d.kind ?? 'deploy')}  ${short(String(d.commit ?? ''))}  ${String(d.deployId)}  ${String(d.outcome)}${who}`;
  });
  return {
    outcome: 'answered',
    data: result,
    message: rows.length
      ? [`Last ${rows.length} deployment(s) of ${ctx.stack}:`, ...lines].join('\n')
      : `No deployments of ${ctx.stack} yet.`,
  };
}

async function invalidate(ctx: RunbookContext, deployId: string | null): Promise<PlannerOutcome> {
  let id = deployId;
  if (!id) {
    const current = await step(ctx, 'get_status', { stack: ctx.stack });
    const live = (current.live ?? null) as Record<string, unknown> | null;
    if (!live)
      return {
        outcome: 'failed',
        message: `Nothing is live on ${ctx.stack}; there is nothing to invalidate.`,
      };
    id = String(live.deployId);
  }
  if (ctx.dryRun) {
    ctx.gate.skip(
      'invalidate_cdn',
      { deployId: id, stack: ctx.stack },
      `Dry run: would invalidate the paths of ${id}.`,
    );
    return {
      outcome: 'planned',
      deployId: id,
      message: `Would invalidate the CDN paths of ${id} on ${ctx.stack}.`,
    };
  }
  const result = await step(ctx, 'invalidate_cdn', { deployId: id, stack: ctx.stack });
  const ids = strings(result.invalidationIds);
  return {
    outcome: 'succeeded',
    deployId: id,
    invalidationIds: ids,
    message: `Invalidated ${strings(result.paths).length} path(s) for ${id}: ${ids.join(', ') || 'nothing needed'}${verificationNote(result)}.`,
  };
}

// ── private helpers ──────────────────────────────────────────────────────────────────────────────

async function step(
  ctx: RunbookContext,
  tool: string,
  args: Record<string, unknown>,
  hints: { approvalSummary?: string } = {},
): Promise<Record<string, unknown>> {
  const call = await ctx.gate.call(tool, args, hints);
  if (!call.ok) throw new StepStopped(call);
  return call.structured ?? {};
}

async function resolveCommit(
  ctx: RunbookContext,
  ref: string | null,
): Promise<{ sha: string; subject: string }> {
  const result = ref
    ? await step(ctx, 'get_commit', { ref })
    : await step(ctx, 'latest_commit', { path: ctx.appPath });
  const commit = (result.commit ?? null) as Record<string, unknown> | null;
  if (!commit || typeof commit.sha !== 'string') {
    const call = ctx.gate.refuse(
      ref ? 'get_commit' : 'latest_commit',
      {},
      ref ? `no commit named ${ref}.` : `no commit touches ${ctx.appPath}.`,
    );
    throw new StepStopped(call);
  }
  return { sha: commit.sha, subject: String(commit.message ?? '').split('\n')[0] ?? '' };
}

async function readSiteUrl(ctx: RunbookContext): Promise<string | undefined> {
  const call = await ctx.gate.call('get_status', { stack: ctx.stack });
  const url = call.structured?.siteUrl;
  return typeof url === 'string' ? url : undefined;
}

function verificationNote(result: Record<string, unknown>): string {
  const v = result.verification as { ok?: boolean; detail?: string } | null | undefined;
  if (!v) return '';
  return v.ok ? ' (the CDN serves the new release)' : ` (verification failed: ${v.detail ?? 'unknown'})`;
}

function describeLive(live: Record<string, unknown> | null): string {
  return live ? `${short(String(live.commit))} (${String(live.deployId)})` : 'nothing';
}

const short = (sha: string) => sha.slice(0, 7);
const count = (value: unknown) =>
  Array.isArray(value) ? value.length : typeof value === 'number' ? value : 0;
const strings = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
const records = (value: unknown) =>
  Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => Boolean(v) && typeof v === 'object')
    : [];
