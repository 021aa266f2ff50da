/**
 * What the console's API does, over the deploy engine's own functions: read the live release, the
 * history, one deployment with its audit entry, the audit verification, the plan for the latest
 * artifact or a rollback, and carry out a confirmed plan. A confirmation names the planned deploy
 * id; if what would be applied now is a different deploy, nothing is applied and the new plan is
 * returned instead (PlanChangedError).
 */
import type { Config } from '../config.ts';
import type { DeployEvent } from '../deploy/apply.ts';
import { type DeployOptions, deployArtifact, rollbackRelease } from '../deploy/deploy.ts';
import { readLatestPublished } from '../deploy/publish.ts';
import type { Environment } from '../environment.ts';
import { FrontendOpsError } from '../errors.ts';
import { listDeployTags } from '../git/deploy-tag.ts';
import type { GitHost } from '../ports.ts';
import { readAudit, verifyAudit } from '../state/audit.ts';
import type { RequestInfo } from '../state/records.ts';
import type {
  AuditStatusView,
  DeploymentDetails,
  HistoryItem,
  PlanAction,
  PlanView,
  StatusView,
} from './types.ts';
import { toAuditStatus, toDeploymentDetails, toHistoryItem, toLiveView, toPlanView } from './views.ts';

export interface ConsoleServiceOptions {
  config: Config;
  stacks: string[];
  openStack: (ref: string) => Promise<Environment>;
  /** Where deploy tags are read from; without it the console shows no tags. */
  git?: GitHost;
}

export class PlanChangedError extends FrontendOpsError {
  readonly plan: PlanView;
  constructor(plan: PlanView) {
    super(
      'CONFLICT',
      `The plan changed since it was shown (now ${plan.deployId}: ${plan.description}). Review the new plan and confirm again.`,
    );
    this.plan = plan;
  }
}

export type ConsoleService = ReturnType<typeof createConsoleService>;

export function createConsoleService(options: ConsoleServiceOptions) {
  const opened = new Map<string, Promise<Environment>>();
  const isProtected = (stack: string) => options.config.protected.includes(stack);

  const environment = (stack: string): Promise<Environment> => {
    if (!options.stacks.includes(stack)) {
      throw new FrontendOpsError(
        'NOT_FOUND',
        `The console serves ${options.stacks.join(', ')}; "${stack}" is not one of them. Start it with --stack ${stack} to see that stack.`,
      );
    }
    let env = opened.get(stack);
    if (!env) {
      env = options.openStack(stack);
      // A failed open is not cached: the next request tries again (the stack may come up later).
      env.catch(() => opened.delete(stack));
      opened.set(stack, env);
    }
    return env;
  };

  const tagsByDeployId = async (): Promise<Map<string, string>> => {
    if (!options.git) return new Map();
    try {
      const tags = await listDeployTags(options.git);
      return new Map(tags.flatMap((t) => (t.deployId ? [[t.deployId, t.name] as const] : [])));
    } catch (error) {
      // Tags are a nicety here; the console still works when the git host is unreachable.
      console.error('[frontendops console] could not list deploy tags:', (error as Error).message);
      return new Map();
    }
  };

  const planFor = async (stack: string, action: PlanAction, to?: string): Promise<PlanView> => {
    const env = await environment(stack);
    const request = consoleRequest('plan', 'console');
    const summary =
      action === 'rollback'
        ? await rollbackRelease(env, { request, dryRun: true, ...(to ? { to } : {}) })
        : await deployArtifact(env, {
            ...(await latestArtifact(env, options.config)),
            request,
            dryRun: true,
          });
    return toPlanView(summary.plan, action, isProtected(env.target.stack));
  };

  return {
    stacks: options.stacks,
    isProtected,

    async status(stack: string): Promise<StatusView> {
      const env = await environment(stack);
      const [pointer, pending] = await Promise.all([env.records.readPointer(), env.records.readPending()]);
      const live = pointer?.value ?? null;
      const [record, tags] = live
        ? await Promise.all([env.records.readRecord(live.deployId), tagsByDeployId()])
        : [null, new Map<string, string>()];
      return {
        stack: env.target.stack,
        protected: isProtected(env.target.stack),
        siteUrl: env.target.siteUrl ?? null,
        live: live && toLiveView(live, record, tags.get(live.deployId) ?? null),
        releases: (live?.releases ?? []).map((r) => ({
          deployId: r.deployId,
          commit: r.commit,
          releasedAt: r.releasedAt,
        })),
        pending: pending !== null,
        notices: [...env.notices],
      };
    },

    async history(stack: string, limit = 50): Promise<HistoryItem[]> {
      const env = await environment(stack);
      const [records, pointer] = await Promise.all([
        env.records.listRecords(limit),
        env.records.readPointer(),
      ]);
      return records.map((r) => toHistoryItem(r, pointer?.value.deployId ?? null));
    },

    async deployment(stack: string, deployId: string): Promise<DeploymentDetails> {
      const env = await environment(stack);
      const record = await env.records.readRecord(deployId);
      if (!record) {
        throw new FrontendOpsError(
          'NOT_FOUND',
          `No deployment ${deployId} is recorded for ${stack}. Pick one from the history.`,
        );
      }
      const [pointer, entries, tags] = await Promise.all([
        env.records.readPointer(),
        readAudit(env.state, env.target.statePrefix),
        tagsByDeployId(),
      ]);
      const audit = entries.find((e) => e.data.deployId === deployId && e.type === record.kind) ?? null;
      return toDeploymentDetails(record, {
        liveDeployId: pointer?.value.deployId ?? null,
        audit,
        tag: tags.get(deployId) ?? null,
      });
    },

    async audit(stack: string): Promise<AuditStatusView> {
      const env = await environment(stack);
      return toAuditStatus(await verifyAudit(env.state, env.target.statePrefix));
    },

    plan: planFor,

    /**
     * Applies the plan the user confirmed. The deploy engine announces its plan (under the lock,
     * before the first write); if that is not the confirmed deploy id, throwing there stops it
     * with nothing changed.
     */
    async apply(
      stack: string,
      action: PlanAction,
      input: { deployId: string; to?: string; request: RequestInfo; onEvent: (event: DeployEvent) => void },
    ) {
      const env = await environment(stack);
      const seen: { changed?: DeployPlan } = {};
      const onEvent = (event: DeployEvent) => {
        if (event.type === 'plan' && event.plan.deployId !== input.deployId) {
          seen.changed = event.plan;
          throw new FrontendOpsError('CONFLICT', 'plan changed');
        }
        input.onEvent(event);
      };
      try {
        return action === 'rollback'
          ? await rollbackRelease(env, {
              request: input.request,
              onEvent,
              ...(input.to ? { to: input.to } : {}),
            })
          : await deployArtifact(env, {
              ...(await latestArtifact(env, options.config)),
              request: input.request,
              onEvent,
            });
      } catch (error) {
        if (seen.changed)
          throw new PlanChangedError(toPlanView(seen.changed, action, isProtected(env.target.stack)));
        throw error;
      }
    },

    close: async () => {
      const envs = await Promise.allSettled(opened.values());
      for (const env of envs) if (env.status === 'fulfilled') env.value.close();
      opened.clear();
    },
  };
}

export function consoleRequest(text: string, actor: string): RequestInfo {
  return { text, actor, planner: 'console', at: new Date().toISOString() };
}

async function latestArtifact(
  env: Environment,
  config: Config,
): Promise<Pick<DeployOptions, 'app' | 'commit'>> {
  const commit = await readLatestPublished(env.artifacts, config.app);
  if (!commit) {
    throw new FrontendOpsError(
      'NOT_FOUND',
      `No build of ${config.app} has been published yet, so there is nothing to deploy. Publish one first (frontendops publish <dir> --commit <sha>).`,
    );
  }
  return { app: config.app, commit };
}

type DeployPlan = Extract<DeployEvent, { type: 'plan' }>['plan'];
