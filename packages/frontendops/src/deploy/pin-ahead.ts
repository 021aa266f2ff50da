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
import type { DeploySummary } from './types.ts';

/**
 * The refusal (PINNED) a deploy's run gives, as its dry run `summary` planned it, or null when the
 * pin lets it through. In place the run judges the pin as it is before it finishes a stopped change
 * (deployInPlace): refused then, it finishes nothing, and says so; on atomic releases it finishes that change first (runLocked), of this release
 * (finishes) or another (finishesFirst), and says so in its refusal. Either way a
 * stopped rollback it finishes pins that rollback's release (pinRolledBack), in place of any pin,
 * and a deploy of another release is then refused, saying what it finished: said here as "would
 * first finish …".
 */
export async function pinRefusalAhead(
  site: Site,
  summary: Pick<DeploySummary, 'kind' | 'commit' | 'finishes' | 'finishesFirst'>,
): Promise<FrontendOpsError | null> {
  if (summary.kind !== 'deploy') return null;
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
  // What the run finishes before this plan: another release's change (finishesFirst), or this
  // release's (finishes), which on atomic releases the run finishes before it judges the pin too.
  const first = summary.finishesFirst ?? (site.mode === 'atomic' ? summary.finishes : undefined);
  if (site.mode !== 'atomic' || !first) {
    const now = refusal(await readPinAsRecorded(site));
    // In place, refused before it finishes what the dry run names (finishes, finishesFirst): said.
    const unfinished = summary.finishesFirst ?? summary.finishes;
    if (now && unfinished)
      return saidWith(now, `would be refused before it would ${describeFinish(unfinished, stack)}`);
    if (now || !first) return now;
  }
  const after = first.pins
    ? refusal(stoppedRollbackPin(stack, first))
    : site.mode === 'atomic'
      ? refusal(await readPinAsRecorded(site))
      : null;
  return after && saidWith(after, `would first ${describeFinish(first, stack)}`);
}

/** A refusal said with what its run finishes, or does not, first (refusedAfterFinishing). */
const saidWith = (refusal: FrontendOpsError, finishing: string): FrontendOpsError => {
  const said = refusedAfterFinishing(refusal, finishing);
  return said instanceof FrontendOpsError ? said : refusal;
};

/** A refusal as a plan carries it (the tools' plan view, the CLI's --json): its code and words. */
export const refusedByView = (error: FrontendOpsError | null) =>
  error ? { code: error.code, message: error.message } : null;
