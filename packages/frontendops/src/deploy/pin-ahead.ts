/**
 * What the pin does to a deploy, said by its dry run as its run will say it: the CLI's
 * `deploy --dry-run`, plan_deploy and get_deploy_target read it here, once, from the dry run's
 * summary (finishes, finishesFirst) and the pin as the audit chain records it.
 */
import { describeFinish } from '../engine/describe.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import type { Site } from '../site.ts';
import { assertDeployAllowed, type PinAhead } from '../state/pin.ts';
import { stoppedRollbackPin } from '../state/pin-words.ts';
import { readPinAsRecorded } from '../state/recorded-state.ts';
import { refusedAfterFinishing } from './atomic-apply.ts';
import type { DeploySummary, StoppedChange } from './types.ts';

/** What the pin does to a deploy's run, as its dry run plans it (pinnedAhead). */
export interface PinnedAhead {
  /** The refusal (PINNED) the run gives, in its words, or null when the pin lets it through. */
  refusal: FrontendOpsError | null;
  /**
   * In place, refused before it finishes the stopped change its dry run names (finishes,
   * finishesFirst): the run finishes nothing, so its surfaces do not say it would (asItRuns).
   */
  finishesNothing: boolean;
}

/**
 * What the pin does to a deploy's run, as its dry run `summary` planned it. On atomic releases the
 * run finishes a stopped change first (runLocked), of this release (finishes) or another
 * (finishesFirst), then judges the pin, and its refusal says what it finished. In place it judges the
 * pin as it is before it finishes anything (deployInPlace): refused then, it finishes nothing, and
 * its refusal names the change it leaves; let through, it finishes a stopped change of another
 * release and judges the pin again. Either way a stopped rollback it finishes pins that rollback's
 * release (pinRolledBack), in place of any pin, and a deploy of another release is then refused.
 */
export async function pinnedAhead(
  site: Site,
  summary: Pick<DeploySummary, 'kind' | 'commit' | 'finishes' | 'finishesFirst'>,
): Promise<PinnedAhead> {
  const through: PinnedAhead = { refusal: null, finishesNothing: false };
  if (summary.kind !== 'deploy') return through;
  const stack = site.target.stack;
  const refusal = (pin: PinAhead | null): FrontendOpsError | null => {
    try {
      assertDeployAllowed(pin, stack, summary.commit, summary.finishes);
      return null;
    } catch (error) {
      if (isFrontendOpsError(error, 'PINNED')) return error;
      throw error;
    }
  };
  const stopped = summary.finishesFirst ?? summary.finishes;
  // Judged once `finished` is finished, by the pin that leaves: a stopped rollback's own, else the
  // pin as the chain records it; a refusal then says the finish.
  const afterFinishing = async (finished: StoppedChange | undefined): Promise<PinnedAhead> => {
    const refused = refusal(
      finished?.pins ? stoppedRollbackPin(stack, finished) : await readPinAsRecorded(site),
    );
    return {
      refusal:
        refused && finished
          ? saidWith(refused, `would first ${describeFinish(finished, stack)}`, 'would finish')
          : refused,
      finishesNothing: false,
    };
  };
  if (site.mode === 'atomic') return afterFinishing(stopped);
  // In place: the pin as it is, before anything is finished.
  const now = refusal(await readPinAsRecorded(site));
  if (now && stopped) {
    const unfinished = `would be refused before it would ${describeFinish(stopped, stack)}`;
    return { refusal: saidWith(now, unfinished, 'would not finish'), finishesNothing: true };
  }
  if (now) return { refusal: now, finishesNothing: false };
  return summary.finishesFirst?.pins ? afterFinishing(summary.finishesFirst) : through;
}

/** The refusal a deploy's run gives, as its dry run planned it (pinnedAhead), or null. */
export const pinRefusalAhead = async (
  site: Site,
  summary: Pick<DeploySummary, 'kind' | 'commit' | 'finishes' | 'finishesFirst'>,
): Promise<FrontendOpsError | null> => (await pinnedAhead(site, summary)).refusal;

/**
 * A dry run's summary as its run does it: what `finishes`/`finishesFirst` name is what the run
 * finishes, so a run refused in place before it finishes anything (finishesNothing) names neither;
 * its refusal names the change it leaves unfinished.
 */
export function asItRuns<T extends Pick<DeploySummary, 'finishes' | 'finishesFirst'>>(
  summary: T,
  ahead: PinnedAhead | null,
): T {
  if (!ahead?.finishesNothing) return summary;
  const { finishes: _finishes, finishesFirst: _first, ...rest } = summary;
  return rest as T;
}

/** A refusal said with what its run finishes, or does not, first (refusedAfterFinishing). */
const saidWith = (
  refusal: FrontendOpsError,
  finishing: string,
  as: Parameters<typeof refusedAfterFinishing>[2],
): FrontendOpsError => {
  const said = refusedAfterFinishing(refusal, finishing, as);
  return said instanceof FrontendOpsError ? said : refusal;
};

/** A refusal as a plan carries it (the tools' plan view, the CLI's --json): its code and words. */
export const refusedByView = (error: FrontendOpsError | null) =>
  error ? { code: error.code, message: error.message } : null;
