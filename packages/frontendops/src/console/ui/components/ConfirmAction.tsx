import { useEffect, useState } from 'react';
import { CANARY_SHARE, CANARY_SHARE_RULE, isCanaryShare } from '../../../engine/canary-share.ts';
import { PIN_EFFECT } from '../../../read/pin-words.ts';
import type {
  ActionResult,
  CanaryResult,
  LiveView,
  PinResult,
  PlanAction,
  PlanView,
  StatusView,
} from '../../types.ts';
import type { Asked, Outcome } from '../actions.ts';
import { ApiFailure, getJson, newRunId, postJson, stackPath } from '../api.ts';
import { plural, shortSha, timeAgo } from '../format.ts';
import { PlanSummary } from './PlanSummary.tsx';
import { ReleaseContents } from './ReleaseContents.tsx';

/** What the canary dialog is for; every other ask is planned first. */
type CanaryAsked = Extract<Asked, { action: 'canary-promote' | 'canary-abort' }>;
type PlannedAsked = Exclude<Asked, CanaryAsked>;
const isCanary = (asked: Asked): asked is CanaryAsked =>
  asked.action === 'canary-promote' || asked.action === 'canary-abort';

type State =
  | { state: 'loading' }
  | { state: 'confirm'; plan: PlanView | null; changed: boolean }
  | { state: 'running'; plan: PlanView | null }
  | { state: 'failed'; message: string; plan: PlanView | null };

const CONFIRM: Record<PlanAction | 'pin' | 'unpin', string> = {
  'deploy-latest': 'Confirm deploy',
  rollback: 'Confirm rollback',
  redeploy: 'Confirm redeploy',
  promote: 'Confirm promote',
  pin: 'Pin',
  unpin: 'Unpin',
};

function titleOf(asked: PlannedAsked, stack: string): string {
  const named = 'to' in asked && asked.to ? shortSha(asked.to) : null;
  switch (asked.action) {
    case 'deploy-latest':
      return 'Deploy the latest build?';
    case 'rollback':
      return named ? `Roll back to ${named}?` : 'Roll back?';
    case 'redeploy':
      return `Redeploy ${named}?`;
    case 'promote':
      return named ? `Promote ${named}?` : 'Promote the latest build?';
    case 'pin':
      return `Pin ${stack}?`;
    case 'unpin':
      return `Unpin ${stack}?`;
  }
}

interface DialogProps {
  stack: string;
  /** The stack as the page shows it (mode, canary, protection); null while it cannot be read. */
  status: StatusView | null;
  onClose: () => void;
  onDone: (outcome: Outcome) => void;
}

/**
 * One confirmation for every change the console makes: it plans the change, shows what is in it (the
 * commits, the files by kind, the CDN refresh), what it does to the pin, and asks. The confirmation
 * carries the planned deploy id: if another deploy landed meanwhile, nothing is applied and the new
 * plan is shown to confirm again. The canary's promote and abort say what the one key write does.
 */
export function ConfirmAction(props: DialogProps & { asked: Asked }) {
  const { asked, ...rest } = props;
  if (isCanary(asked)) return <ConfirmCanary {...rest} action={asked.action} />;
  return <ConfirmPlanned {...rest} asked={asked} />;
}

function ConfirmPlanned(props: DialogProps & { asked: PlannedAsked }) {
  const { asked, stack } = props;
  const [state, setState] = useState<State>({ state: 'loading' });
  const [message, setMessage] = useState('');
  // Atomic stacks: a new build may go to a share of the visitors first (a canary).
  const [share, setShare] = useState(false);
  const [percent, setPercent] = useState('10');
  const sharePercent = Number(percent);
  const shareValid = isCanaryShare(sharePercent);
  const isPin = asked.action === 'pin' || asked.action === 'unpin';
  const to = 'to' in asked ? asked.to : undefined;
  // A pin holds the release live when the dialog opened: if another goes live meanwhile, the server
  // refuses it and nothing is pinned.
  const [shownLive] = useState(props.status?.live ?? null);
  // An unpin clears the pin shown when the dialog opened: if someone pins again meanwhile, the server
  // refuses it and the new pin stays.
  const [shownPin] = useState(
    props.status?.pin ? { deployId: props.status.pin.deployId, at: props.status.pin.at } : null,
  );

  useEffect(() => {
    if (isPin) {
      setState({ state: 'confirm', plan: null, changed: false });
      return;
    }
    let current = true;
    const query = new URLSearchParams({ action: asked.action, ...(to ? { to } : {}) });
    getJson<PlanView>(`${stackPath(stack, 'plan')}?${query}`).then(
      (plan) => current && setState({ state: 'confirm', plan, changed: false }),
      (error: unknown) =>
        current && setState({ state: 'failed', message: (error as Error).message, plan: null }),
    );
    return () => {
      current = false;
    };
  }, [stack, asked.action, to, isPin]);

  const confirm = async (plan: PlanView | null) => {
    setState({ state: 'running', plan });
    const why = message.trim() ? { message: message.trim() } : {};
    try {
      if (asked.action === 'pin' || asked.action === 'unpin') {
        const shown =
          asked.action === 'pin'
            ? shownLive
              ? { deployId: shownLive.deployId }
              : {}
            : shownPin
              ? { pin: shownPin }
              : {};
        const result = await postJson<PinResult>(stackPath(stack, asked.action), { ...shown, ...why });
        props.onDone({ kind: 'pin', action: asked.action, result });
        return;
      }
      if (offersShare && share && plan) {
        const result = await postJson<CanaryResult>('/api/canary/start', {
          stack,
          deployId: plan.deployId,
          commit: plan.commit,
          percent: sharePercent,
          runId: newRunId(),
          ...why,
        });
        props.onDone({ kind: 'canary', action: 'canary-start', result });
        return;
      }
      // A promote lifts the pin its plan showed, and no other: one set since is refused with the new plan.
      const pin =
        asked.action === 'promote' && plan
          ? { pin: plan.pin ? { deployId: plan.pin.deployId, at: plan.pin.at } : null }
          : {};
      const result = await postJson<ActionResult>(stackPath(stack, asked.action), {
        deployId: plan?.deployId,
        runId: newRunId(),
        ...(to ? { to } : {}),
        ...pin,
        ...why,
      });
      props.onDone({ kind: 'release', action: asked.action, result });
    } catch (error) {
      if (error instanceof ApiFailure && error.body.plan) {
        setState({ state: 'confirm', plan: error.body.plan, changed: true });
      } else {
        setState({ state: 'failed', message: (error as Error).message, plan });
      }
    }
  };

  const title = titleOf(asked, stack);
  const plan = state.state === 'loading' ? null : state.plan;
  const offersShare =
    asked.action === 'deploy-latest' &&
    props.status?.mode === 'atomic' &&
    !props.status.canary &&
    plan !== null &&
    !plan.noop;
  return (
    <div className="overlay">
      <div className="dialog" role="dialog" aria-modal="true" aria-label={title}>
        <h2>{title}</h2>
        {state.state === 'loading' && <p className="muted">Planning…</p>}
        {state.state === 'failed' && <p className="error-text">{state.message}</p>}
        {state.state === 'confirm' && state.changed && (
          <p className="warn-text" role="alert">
            The plan changed since it was shown (another deploy landed). Nothing was changed. Review the new
            plan.
          </p>
        )}
        {isPin ? (
          <PinExplanation action={asked.action as 'pin' | 'unpin'} stack={stack} live={shownLive} />
        ) : null}
        {plan && (
          <>
            {plan.protected && (
              <p className="warn-text">{plan.stack} is protected: confirming is your approval.</p>
            )}
            <PinEffect plan={plan} />
            <PlanSummary plan={plan} />
            <ReleaseContents commits={plan.commits} contents={plan.contents} />
            {offersShare && state.state === 'confirm' && (
              <fieldset className="share-option" aria-label="Deploy to a share first">
                <label>
                  <input type="checkbox" checked={share} onChange={(e) => setShare(e.target.checked)} />{' '}
                  Deploy to a share first…
                </label>
                {share && (
                  <>
                    <label className="share-percent">
                      Share of visitors (%)
                      <input
                        type="number"
                        min={CANARY_SHARE.min}
                        max={CANARY_SHARE.max}
                        step={1}
                        value={percent}
                        onChange={(e) => setPercent(e.target.value)}
                      />
                    </label>
                    {shareValid ? (
                      <p className="note">
                        A canary: {sharePercent}% of visitors get {shortSha(plan.commit)} (each keeps theirs,
                        by a cookie); the other {100 - sharePercent}% keep{' '}
                        {plan.fromCommit ? shortSha(plan.fromCommit) : 'the live release'}. Its files are
                        uploaded now; then you promote it (everyone gets it) or abort it, each one key write.
                      </p>
                    ) : (
                      <p className="error-text">The share is {CANARY_SHARE_RULE}.</p>
                    )}
                  </>
                )}
              </fieldset>
            )}
            <details className="engine-detail">
              <summary>Plan details</summary>
              <p>
                Plan <code>{plan.deployId}</code> · {plural(plan.filesToCopy, 'file')} to copy ·{' '}
                {plural(plan.unchanged, 'file')} unchanged · {plural(plan.toPrune, 'old file')} to remove ·
                paths: {plan.invalidationPaths.join(', ') || 'none'}
              </p>
            </details>
          </>
        )}
        {(state.state === 'confirm' || (state.state === 'failed' && isPin)) && (
          <label className="why">
            Why (recorded with the {isPin ? asked.action : 'deployment'})
            <input value={message} maxLength={500} onChange={(e) => setMessage(e.target.value)} />
          </label>
        )}
        <div className="actions">
          {state.state === 'confirm' && (
            <button
              type="button"
              className="primary"
              disabled={
                (plan?.noop === true && !plan.finishes && asked.action !== 'promote') ||
                (offersShare && share && !shareValid)
              }
              onClick={() => void confirm(plan)}
            >
              {offersShare && share
                ? `Start canary at ${shareValid ? sharePercent : '…'}%`
                : CONFIRM[asked.action]}
            </button>
          )}
          <WhileRunning running={state.state === 'running'} onClose={props.onClose} />
        </div>
      </div>
    </div>
  );
}

/** The end of a dialog's action row: Cancel until the change runs, then where its progress is. */
function WhileRunning({ running, onClose }: { running: boolean; onClose: () => void }) {
  return running ? (
    <span className="muted">Working… progress is shown below.</span>
  ) : (
    <button type="button" onClick={onClose}>
      Cancel
    </button>
  );
}

/** What the change does to the pin, said before it is confirmed. */
function PinEffect({ plan }: { plan: PlanView }) {
  const { pin } = plan;
  if (plan.action === 'rollback') {
    return (
      <p className="note">
        A rollback pins {plan.stack} to this release: {PIN_EFFECT}.
      </p>
    );
  }
  if (plan.action === 'promote') {
    return (
      <p className="note">
        {pin
          ? `This makes it live for everyone and clears the pin (set ${timeAgo(pin.at)} by ${pin.by} on ${shortSha(pin.commit)}).`
          : 'This makes it live for everyone. Nothing is pinned.'}
      </p>
    );
  }
  // A deploy past the pin: PlanSummary says the refusal its run gives, in its words (refusedBy).
  return null;
}

function PinExplanation({
  action,
  stack,
  live,
}: {
  action: 'pin' | 'unpin';
  stack: string;
  live: LiveView | null;
}) {
  return action === 'pin' ? (
    <p>
      {/* The pin keeps the release this page showed live when the dialog opened: it says which. */}
      {live ? (
        <>
          Pins {live.app}@{shortSha(live.commit)} ({live.deployId}), the release live when this opened: it
          stays live
        </>
      ) : (
        'The release live now stays live'
      )}
      : {PIN_EFFECT}. No file changes.
    </p>
  ) : (
    <p>Deploys to {stack} go through again. What is live does not change.</p>
  );
}

type CanaryState = { state: 'confirm' } | { state: 'running' } | { state: 'failed'; message: string };

/**
 * Promote or abort the canary: what the one key write does, in words, for the canary the page showed
 * when the button was pressed (the confirmation names it: if another one runs by then, nothing
 * changes and the dialog says so).
 */
function ConfirmCanary(props: DialogProps & { action: 'canary-promote' | 'canary-abort' }) {
  const { stack, action } = props;
  const [shown] = useState(props.status);
  const canary = shown?.canary ?? null;
  const live = shown?.live ?? null;
  const [state, setState] = useState<CanaryState>(
    canary
      ? { state: 'confirm' }
      : { state: 'failed', message: `No canary runs on ${stack} now. Nothing was changed.` },
  );
  const [message, setMessage] = useState('');
  const promote = action === 'canary-promote';
  const title = promote ? 'Promote the canary?' : 'Abort the canary?';

  const confirm = async () => {
    if (!canary) return;
    setState({ state: 'running' });
    try {
      const result = await postJson<CanaryResult>(`/api/canary/${promote ? 'promote' : 'abort'}`, {
        stack,
        deployId: canary.deployId,
        runId: newRunId(),
        ...(message.trim() ? { message: message.trim() } : {}),
      });
      props.onDone({ kind: 'canary', action, result });
    } catch (error) {
      setState({ state: 'failed', message: (error as Error).message });
    }
  };

  const what = canary && `${canary.app}@${shortSha(canary.commit)}`;
  const liveWhat = live ? `${live.app}@${shortSha(live.commit)}` : 'the live release';
  return (
    <div className="overlay">
      <div className="dialog" role="dialog" aria-modal="true" aria-label={title}>
        <h2>{title}</h2>
        {canary &&
          (promote ? (
            <div className="plan">
              <p className="plan-description">
                Everyone gets <code>{what}</code>: the {canary.percent}% of visitors who have it now, and the
                other {100 - canary.percent}%, who get <code>{liveWhat}</code> today.
              </p>
              <ul className="plan-facts">
                <li>one key write at the edge</li>
                <li>no CDN invalidation: nothing to refresh</li>
                <li>no file to copy: the canary's files are in place</li>
                <li>
                  recorded as deployment <code>{canary.deployId}</code>, with a deploy tag
                </li>
              </ul>
            </div>
          ) : (
            <div className="plan">
              <p className="plan-description">
                Everyone goes back to the live release, <code>{liveWhat}</code>: the {canary.percent}% of
                visitors on <code>{what}</code> get it on their next page.
              </p>
              <ul className="plan-facts">
                <li>one key write at the edge</li>
                <li>no CDN invalidation: nothing to refresh</li>
                <li>the canary's files are removed once no edge can serve them</li>
                <li>the live release and the history stay as they are</li>
              </ul>
            </div>
          ))}
        {canary && shown?.protected && (
          <p className="warn-text">{stack} is protected: confirming is your approval.</p>
        )}
        {state.state === 'failed' && <p className="error-text">{state.message}</p>}
        {state.state === 'confirm' && (
          <label className="why">
            Why (recorded in the audit log)
            <input value={message} maxLength={500} onChange={(e) => setMessage(e.target.value)} />
          </label>
        )}
        <div className="actions">
          {state.state === 'confirm' && (
            <button type="button" className="primary" onClick={() => void confirm()}>
              {promote ? 'Confirm promote canary' : 'Confirm abort canary'}
            </button>
          )}
          <WhileRunning running={state.state === 'running'} onClose={props.onClose} />
        </div>
      </div>
    </div>
  );
}
