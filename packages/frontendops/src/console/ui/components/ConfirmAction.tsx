import { useEffect, useState } from 'react';
import type { ActionResult, PinResult, PlanAction, PlanView } from '../../types.ts';
import type { Asked } from '../App.tsx';
import { ApiFailure, getJson, newRunId, postJson, stackPath } from '../api.ts';
import { plural, shortSha, timeAgo } from '../format.ts';
import { PlanSummary } from './ReleaseActions.tsx';
import { ReleaseContents } from './ReleaseContents.tsx';

export type Outcome =
  | { kind: 'release'; action: PlanAction; result: ActionResult }
  | { kind: 'pin'; action: 'pin' | 'unpin'; result: PinResult };

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

function titleOf(asked: Asked, stack: string): string {
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

/**
 * One confirmation for every change the console makes: it plans the change, shows what is in it (the
 * commits, the files by kind, the CDN refresh), what it does to the pin, and asks. The confirmation
 * carries the planned deploy id: if another deploy landed meanwhile, nothing is applied and the new
 * plan is shown to confirm again.
 */
export function ConfirmAction(props: {
  stack: string;
  asked: Asked;
  onClose: () => void;
  onDone: (outcome: Outcome) => void;
}) {
  const { asked, stack } = props;
  const [state, setState] = useState<State>({ state: 'loading' });
  const [message, setMessage] = useState('');
  const isPin = asked.action === 'pin' || asked.action === 'unpin';
  const to = 'to' in asked ? asked.to : undefined;

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
        const result = await postJson<PinResult>(stackPath(stack, asked.action), why);
        props.onDone({ kind: 'pin', action: asked.action, result });
        return;
      }
      const result = await postJson<ActionResult>(stackPath(stack, asked.action), {
        deployId: plan?.deployId,
        runId: newRunId(),
        ...(to ? { to } : {}),
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
        {isPin ? <PinExplanation action={asked.action as 'pin' | 'unpin'} stack={stack} /> : null}
        {plan && (
          <>
            {plan.protected && (
              <p className="warn-text">{plan.stack} is protected: confirming is your approval.</p>
            )}
            <PinEffect plan={plan} />
            <PlanSummary plan={plan} />
            <ReleaseContents commits={plan.commits} contents={plan.contents} />
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
              disabled={plan?.noop === true && asked.action !== 'promote'}
              onClick={() => void confirm(plan)}
            >
              {CONFIRM[asked.action]}
            </button>
          )}
          {state.state === 'running' && <span className="muted">Working… progress is shown below.</span>}
          {state.state !== 'running' && (
            <button type="button" onClick={props.onClose}>
              Cancel
            </button>
          )}
        </div>
      </div>
    </div>
  );
}

/** What the change does to the pin, said before it is confirmed. */
function PinEffect({ plan }: { plan: PlanView }) {
  const { pin } = plan;
  if (plan.action === 'rollback') {
    return (
      <p className="note">
        A rollback pins {plan.stack} to this release: the latest build is not deployed until someone promotes
        a release or unpins.
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
  if (pin) {
    return (
      <p className="warn-text">
        {plan.stack} is pinned to {shortSha(pin.commit)}: this deploy would be refused. Promote it instead.
      </p>
    );
  }
  return null;
}

function PinExplanation({ action, stack }: { action: 'pin' | 'unpin'; stack: string }) {
  return action === 'pin' ? (
    <p>
      The release live now stays live: deploys of other releases are refused until someone promotes a release
      or unpins. No file changes.
    </p>
  ) : (
    <p>Deploys to {stack} go through again. What is live does not change.</p>
  );
}
