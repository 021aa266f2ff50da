/**
 * What the console's API does, over the engine and the shared read models: the live release, the
 * history, one deployment with its audit entry, the audit verification, the plan for the latest
 * build (read/latest.ts: the newest commit of the app, which needs the git host) or a rollback, and
 * carrying out a confirmed plan. A confirmation names the planned deploy id; if what would be applied
 * now is a different deploy, nothing is applied and the new plan is returned (PlanChangedError).
 */
import type { Config } from '../config.ts';
import type { DeployEvent } from '../deploy/apply.ts';
import type { DeployOptions } from '../deploy/deploy.ts';
import { pinRelease, unpinRelease } from '../deploy/pin.ts';
import { touching } from '../engine/text.ts';
import { alsoSaid, alsoSaying, FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { GitHost } from '../ports.ts';
import { boundLiveDeployId, readHistory } from '../read/history.ts';
import { requireLatestPublished } from '../read/latest.ts';
import { readStatus } from '../read/status.ts';
import { readAuditAnchors, readDeployTags, tagOf } from '../read/tags.ts';
import { verifySite } from '../read/verify-site.ts';
import type { HistoryItem, PolicyChangeItem } from '../read/views.ts';
import { forOperation, type Site } from '../site.ts';
import { entryRecording, recordedStateKnown } from '../state/audit.ts';
import { describePin, type PinShown, readPin, samePin } from '../state/pin.ts';
import type { RequestInfo } from '../state/records.ts';
import { type CanaryInput, type PreviewInput, runCanaryAction, runPreview } from './atomic.ts';
import type { ConfigReader } from './config-reader.ts';
import { describeAction, type ReleaseContext, runAction } from './releases.ts';
import type {
  AuditStatusView,
  CanaryAction,
  DeploymentDetails,
  PlanAction,
  PlanView,
  StatusView,
} from './types.ts';
import { toAuditStatus, toDeploymentDetails } from './views.ts';

export interface ConsoleServiceOptions {
  config: Config;
  /** The configuration now (console/config-reader.ts); default: `config` for good. */
  readConfig?: ConfigReader;
  stacks: string[];
  /** Opens one stack under the configuration given (the one read for this request). */
  openSite: (ref: string, config: Config) => Promise<Site>;
  /** Where deploy tags and "the latest" commit are read from. */
  git?: GitHost;
  /** How long a change waits for the CDN to serve it (verifyServed); default verifyServed's. */
  verifyTimeoutMs?: number;
}

export class PlanChangedError extends FrontendOpsError {
  readonly plan: PlanView;
  constructor(
    plan: PlanView,
    /** What the run also said (alsoSaid): a stopped change it finished before it found its plan changed. */
    also = '',
    /** What changed, where its deploy id did not (a promote's pin). */
    what?: string,
  ) {
    super(
      'CONFLICT',
      `${what ? `The plan changed since it was shown: ${what}` : `The plan changed since it was shown (now ${plan.deployId}: ${plan.description}).`} Review the new plan and confirm again.${also ? ` ${also}` : ''}`,
    );
    this.plan = plan;
  }
}

export type ConsoleService = ReturnType<typeof createConsoleService>;

export function createConsoleService(options: ConsoleServiceOptions) {
  const opened = new Map<string, Promise<Site>>();
  /** Stacks opened under a configuration edited since: closed when the console closes. */
  const retired: Promise<Site>[] = [];
  const readConfig = options.readConfig ?? (async () => options.config);
  // The configuration the open stacks were opened with: whether a stack is protected, and who may
  // approve, are decided when it is opened, so an edited configuration opens them again.
  let config = options.config;

  const closeSites = async (sites: Iterable<Promise<Site>>) => {
    for (const site of await Promise.allSettled(sites)) if (site.status === 'fulfilled') site.value.close();
  };

  const open = async (stack: string): Promise<Site> => {
    if (!options.stacks.includes(stack)) {
      throw new FrontendOpsError(
        'NOT_FOUND',
        `The console serves ${options.stacks.join(', ')}; "${stack}" is not one of them. Start it with --stack ${stack} to see that stack.`,
      );
    }
    const now = await readConfig();
    if (now !== config) {
      config = now;
      retired.push(...opened.values());
      opened.clear();
      // Requests still running on them (a deploy may run for minutes) keep them: they are closed with
      // the console, never under a request. (A reader is given only where the service opens its
      // stacks itself: they are its to close.) A configuration edit is rare; each keeps one client.
    }
    let site = opened.get(stack);
    if (!site) {
      site = options.openSite(stack, config);
      // A failed open is not cached: the next request tries again (the stack may come up later).
      site.catch(() => opened.delete(stack));
      opened.set(stack, site);
    }
    // Each request is told its own waits, though the console keeps the stack open for every request.
    return forOperation(await site);
  };

  const latestArtifact = async (site: Site): Promise<Pick<DeployOptions, 'app' | 'commit'>> => {
    if (!options.git) {
      throw new FrontendOpsError(
        'NOT_FOUND',
        `The latest ${config.app} is the newest commit${touching(config.appPath)}, and this console has no git repository to ask. Start it in the repository.`,
      );
    }
    const commit = await requireLatestPublished({
      git: options.git,
      artifacts: site.artifacts,
      app: config.app,
      appPath: config.appPath,
    });
    return { app: config.app, commit: commit.sha };
  };

  const releases: ReleaseContext = {
    get config() {
      return config;
    },
    ...(options.git ? { git: options.git } : {}),
    latest: (site) => latestArtifact(site),
  };

  const planFor = async (stack: string, action: PlanAction, to?: string): Promise<PlanView> => {
    const site = await open(stack);
    const request = consoleRequest('plan', 'console');
    const summary = await runAction(site, releases, action, { request, dryRun: true, ...(to ? { to } : {}) });
    return describeAction(site, releases, summary.plan, action, to, summary);
  };

  return {
    stacks: options.stacks,

    async isProtected(stack: string): Promise<boolean> {
      return (await open(stack)).protected;
    },

    async status(stack: string): Promise<StatusView> {
      const site = await open(stack);
      const status = await readStatus(site, await readDeployTags(options.git));
      return { ...status, notices: [...site.notices] };
    },

    async history(
      stack: string,
      limit = 50,
    ): Promise<{ deployments: HistoryItem[]; policyChanges: PolicyChangeItem[]; unrecorded: number }> {
      const site = await open(stack);
      const page = await readHistory(site, { limit, tags: await readDeployTags(options.git) });
      return {
        deployments: page.deployments,
        policyChanges: page.policyChanges,
        unrecorded: page.unrecorded ?? 0,
      };
    },

    async deployment(stack: string, deployId: string): Promise<DeploymentDetails> {
      const site = await open(stack);
      const record = await site.records.readRecord(deployId);
      if (!record) {
        throw new FrontendOpsError(
          'NOT_FOUND',
          `No deployment ${deployId} is recorded for ${stack}. Pick one from the history.`,
        );
      }
      // The entry that recorded it binds its record (a deploy, a rollback, a canary's promote…):
      // the newest one, as a superseded record may be recorded again.
      // Shown only where it binds the record as read: one rewritten around the log (who asked, what
      // was verified) is not what that entry recorded, and the page says it is not in the log.
      const [pointer, bindings, audit, tags] = await Promise.all([
        site.records.readPointer(),
        recordedStateKnown(site.state, site.target.statePrefix),
        entryRecording(site.state, site.target.statePrefix, deployId, record),
        readDeployTags(options.git),
      ]);
      return toDeploymentDetails(record, {
        // Live only as the chain binds the pointer, as the history says.
        liveDeployId: boundLiveDeployId(pointer?.value ?? null, bindings),
        audit,
        tag: tagOf(tags, site.target.stack, record),
      });
    },

    async audit(stack: string): Promise<AuditStatusView> {
      const site = await open(stack);
      const anchors = options.git ? await readAuditAnchors(options.git, site.target.stack) : [];
      // As `frontendops audit verify` runs it: on atomic stacks, what the CDN serves too.
      return toAuditStatus(await verifySite(site, anchors));
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
      input: {
        deployId: string;
        to?: string;
        /** A promote: the pin its plan showed (null: none), the only one it may lift. */
        pin?: PinShown | null;
        request: RequestInfo;
        onEvent: (event: DeployEvent) => void;
      },
    ) {
      const site = await open(stack);
      const seen: { changed: boolean; pin?: string } = { changed: false };
      const onEvent = (event: DeployEvent) => {
        if (event.type === 'plan' && event.plan.deployId !== input.deployId) {
          seen.changed = true;
          throw new FrontendOpsError('CONFLICT', 'plan changed');
        }
        input.onEvent(event);
      };
      // A promote lifts the pin, which is no part of its deploy id: under the lock, before anything
      // is written (or, of the live release, before the pin goes), the pin must be the one shown.
      const shown = action === 'promote' ? input.pin : undefined;
      const authorize =
        shown === undefined
          ? undefined
          : async () => {
              const pin = await readPin(site);
              if (samePin(pin, shown)) return undefined;
              seen.changed = true;
              seen.pin = pin
                ? `${stack} is now pinned to ${describePin(pin)}, ${shown ? `not the pin that was shown (${shown.deployId}, set ${shown.at})` : 'which was set after the plan was shown'}: the promote would lift it. Nothing was changed.`
                : `${stack} is no longer pinned. Nothing was changed.`;
              throw new FrontendOpsError('CONFLICT', seen.pin);
            };
      try {
        return await runAction(site, releases, action, {
          request: input.request,
          onEvent,
          ...(authorize ? { authorize } : {}),
          ...(input.to ? { to: input.to } : {}),
          ...(options.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: options.verifyTimeoutMs } : {}),
        });
      } catch (error) {
        // The new plan as the first one is made (planFor: a dry run now, with the stopped change its
        // run finishes, or finishes first, and the refusal it gives); the answer says what this run
        // finished before it found its plan changed (refusedAfterFinishing), as its refusals do.
        // A new plan that cannot be made says that finish too.
        if (seen.changed) {
          const also = isFrontendOpsError(error) ? alsoSaid(error) : '';
          const plan = await planFor(stack, action, input.to).catch((planError: unknown) => {
            throw also && isFrontendOpsError(planError) ? alsoSaying(planError, also) : planError;
          });
          throw new PlanChangedError(plan, also, seen.pin);
        }
        throw error;
      }
    },

    /**
     * Atomic stacks: starts, promotes or aborts the canary (console/atomic.ts), bound to the deploy
     * id the page showed when one is given.
     */
    async canary(stack: string, action: CanaryAction, input: CanaryInput) {
      return runCanaryAction(
        await open(stack),
        stack,
        action,
        {
          ...input,
          ...(options.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: options.verifyTimeoutMs } : {}),
        },
        releases,
      );
    },

    /** The stack's target: what a deploy tag made for it hides (console/releases.ts tagChange). */
    async target(stack: string) {
      return (await open(stack)).target;
    },

    /** Atomic stacks: a signed, expiring link to a release, for the one who asked. */
    async preview(stack: string, input: PreviewInput) {
      const site = await open(stack);
      return runPreview(site, stack, input, config);
    },

    /**
     * Pins the live release (pinned: false when it already was); `shown`, the live deploy id the page
     * showed: another live by now is refused, CONFLICT, nothing pinned.
     */
    async pin(stack: string, request: RequestInfo, shown?: string) {
      const { pin, created } = await pinRelease(await open(stack), {
        request,
        waitMs: 10_000,
        ...(shown ? { to: shown } : {}),
      });
      return { pin, changed: created };
    },

    /** Lifts the pin (changed: false when there was none). */
    async unpin(stack: string, request: RequestInfo, shown?: PinShown) {
      const { cleared } = await unpinRelease(await open(stack), {
        request,
        waitMs: 10_000,
        ...(shown ? { shown } : {}),
      });
      return { pin: cleared, changed: cleared !== null };
    },

    git: options.git,

    close: async () => {
      await closeSites([...opened.values(), ...retired.splice(0)]);
      opened.clear();
    },
  };
}

export function consoleRequest(text: string, actor: string): RequestInfo {
  return { text, actor, planner: 'console', at: new Date().toISOString() };
}
