import { switchedBack } from '../../../deploy/switch-back-words.ts';
import { capitalise } from '../../../engine/text.ts';
import { CANARY_EFFECT, notPinned, PIN_EFFECT, unpinnedSentence } from '../../../read/pin-words.ts';
import type { PlanView, StatusView } from '../../types.ts';
import type { Asked, Outcome } from '../actions.ts';
import { plural, shortSha, timeAgo } from '../format.ts';
import { PlanSummary } from './PlanSummary.tsx';

/**
 * What can be done now. Normally: the plan for the latest build, Deploy latest, Roll back, Pin. When
 * the stack is pinned (after a rollback), the latest build is not offered: the pin, who set it and why,
 * and the two ways forward — Promote (live for everyone, pin cleared) and Unpin. While a canary runs
 * (atomic stacks), deploys and rollbacks are refused: the canary and its two ways forward — Promote canary
 * (everyone gets it) and Abort canary (everyone back on the live release).
 */
export function ReleaseActions(props: {
  status: StatusView | null;
  plan: PlanView | null;
  planError: string | null;
  outcome: Outcome | null;
  busy: boolean;
  onAsk: (asked: Asked) => void;
}) {
  const { status, plan } = props;
  const pin = status?.pin ?? null;
  const canRollBack = (status?.releases.length ?? 0) > 1;
  // The same action pinned or not: back to the release retained before.
  const rollBack = (
    <button
      type="button"
      disabled={!canRollBack || props.busy}
      onClick={() => props.onAsk({ action: 'rollback' })}
    >
      Roll back
    </button>
  );
  const canary = status?.mode === 'atomic' ? status.canary : null;
  return (
    <section className="card plan-card" aria-label="Plan">
      {canary ? (
        <>
          <h2>A canary runs: promote it or abort it</h2>
          <div className="canary-banner" role="note" aria-label="Canary">
            <p>
              <strong>
                <code>
                  {canary.app}@{shortSha(canary.commit)}
                </code>{' '}
                gets {canary.percent}% of visitors
              </strong>{' '}
              (since {timeAgo(canary.startedAt)}, by {canary.by}); the other {100 - canary.percent}% get the
              live release
              {status?.live ? (
                <>
                  {' '}
                  <code>{shortSha(status.live.commit)}</code>
                </>
              ) : null}
              . Each visitor keeps theirs, by a cookie.
            </p>
            <p>{capitalise(CANARY_EFFECT)}. Either is one key write at the edge.</p>
          </div>
          <div className="actions">
            <button
              type="button"
              className="primary"
              disabled={props.busy}
              onClick={() => props.onAsk({ action: 'canary-promote' })}
            >
              Promote canary
            </button>
            <button
              type="button"
              disabled={props.busy}
              onClick={() => props.onAsk({ action: 'canary-abort' })}
            >
              Abort canary
            </button>
          </div>
        </>
      ) : pin ? (
        <>
          <h2>Deploys are held: the stack is pinned</h2>
          <div className="pin-banner" role="note" aria-label="Pinned">
            <p>
              <strong>
                Pinned to <code>{shortSha(pin.commit)}</code>
              </strong>{' '}
              {timeAgo(pin.at)} by {pin.by}
              {pin.cause === 'rollback' && ', when rolling back'}
              {pin.reason && <>: “{pin.reason}”</>}.
            </p>
            <p>{capitalise(PIN_EFFECT)}: a promote makes a release live for everyone and clears the pin.</p>
          </div>
          {plan && plan.commit !== pin.commit && (
            <p className="muted">
              The latest build is <code>{shortSha(plan.commit)}</code>
              {plan.commits?.commits.length
                ? ` (${plural(plan.commits.commits.length, 'commit')} ahead)`
                : ''}
              .
            </p>
          )}
          <div className="actions">
            <button
              type="button"
              className="primary"
              disabled={!plan || props.busy}
              onClick={() => props.onAsk({ action: 'promote' })}
            >
              Promote latest{plan ? ` (${shortSha(plan.commit)})` : ''}
            </button>
            <button type="button" disabled={props.busy} onClick={() => props.onAsk({ action: 'unpin' })}>
              Unpin
            </button>
            {rollBack}
          </div>
        </>
      ) : (
        <>
          <h2>Deploy the latest build</h2>
          {props.planError && <p className="muted">{props.planError}</p>}
          {plan && <PlanSummary plan={plan} />}
          <div className="actions">
            <button
              type="button"
              className="primary"
              // A plan whose run finishes a stopped change has that to do, though its build is live.
              disabled={!plan || (plan.noop && !plan.finishes) || props.busy}
              onClick={() => props.onAsk({ action: 'deploy-latest' })}
            >
              Deploy latest
            </button>
            {rollBack}
            <button
              type="button"
              disabled={!status?.live || props.busy}
              title={`Keep what is live: ${PIN_EFFECT}`}
              onClick={() => props.onAsk({ action: 'pin' })}
            >
              Pin
            </button>
          </div>
        </>
      )}
      {props.outcome && <OutcomeLine outcome={props.outcome} />}
    </section>
  );
}

const VERB = {
  'deploy-latest': 'Deploy',
  redeploy: 'Redeploy',
  rollback: 'Rollback',
  promote: 'Promote',
} as const;

function OutcomeLine({ outcome }: { outcome: Outcome }) {
  if (outcome.kind === 'canary') {
    const { result } = outcome;
    const what = `${result.app}@${shortSha(result.commit)}`;
    // A failed step says nothing of who gets what: the switch back after it does.
    const words =
      result.outcome === 'failed'
        ? `${outcome.action === 'canary-start' ? 'Canary' : `Canary ${outcome.action.slice('canary-'.length)}`} failed: ${what}.`
        : {
            'canary-start': `Canary ${result.outcome}: ${result.percent ?? 0}% of visitors get ${what}; promote or abort it when you have seen enough.`,
            'canary-promote': `Canary promote ${result.outcome}: everyone gets ${what}.`,
            'canary-abort': `Canary abort ${result.outcome}: everyone is back on the live release.`,
          }[outcome.action];
    return (
      <p
        className={result.error ? 'error-text' : 'ok-text'}
        role="status"
        title={`deployment ${result.deployId}`}
      >
        {words}
        {result.tag && ` · tagged ${result.tag}`}
        {result.error && ` — ${result.error.message}`}
        {result.rolledBackTo && ` ${capitalise(switchedBack(result.rolledBackTo))}.`}
      </p>
    );
  }
  if (outcome.kind === 'pin') {
    const { result } = outcome;
    // An unpin in the words the CLI and the infra server use (read/pin-words.ts).
    const words =
      outcome.action === 'pin'
        ? result.changed
          ? `Pinned${result.pin ? `: ${shortSha(result.pin.commit)}` : ''}.`
          : 'It was already pinned; nothing changed.'
        : result.changed && result.pin
          ? unpinnedSentence(result.stack, result.pin)
          : notPinned(result.stack);
    return (
      <p className="ok-text" role="status">
        {words}
      </p>
    );
  }
  const { result, action } = outcome;
  return (
    <p
      className={result.error ? 'error-text' : 'ok-text'}
      role="status"
      title={`deployment ${result.deployId}`}
    >
      {VERB[action]} {result.outcome}: {shortSha(result.commit)} · {plural(result.copied, 'file')} copied ·{' '}
      {plural(result.pruned, 'old file')} removed
      {result.tag && ` · tagged ${result.tag}`}
      {result.pinned && ' · the stack is now pinned to it'}
      {result.unpinned && ' · the pin is cleared'}
      {result.error && ` — ${result.error.message}`}
      {result.rolledBackTo && ` ${capitalise(switchedBack(result.rolledBackTo))}.`}
    </p>
  );
}
