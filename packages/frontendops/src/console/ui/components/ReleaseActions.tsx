import { useState } from 'react';
import type { ActionResult, PlanAction, PlanView } from '../../types.ts';
import { ApiFailure, getJson, newRunId, postJson, stackPath } from '../api.ts';
import { plural, shortSha } from '../format.ts';

type Dialog =
  | { state: 'loading'; action: PlanAction }
  | { state: 'confirm'; action: PlanAction; plan: PlanView; changed: boolean }
  | { state: 'running'; action: PlanAction; plan: PlanView }
  | { state: 'failed'; action: PlanAction; message: string };

/** The plan for the latest artifact, and the two buttons; each asks to confirm the plan first. */
export function ReleaseActions(props: {
  stack: string;
  plan: PlanView | null;
  planError: string | null;
  canRollBack: boolean;
  onDone: () => void;
}) {
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [last, setLast] = useState<{ action: PlanAction; result: ActionResult } | null>(null);

  const open = async (action: PlanAction) => {
    setDialog({ state: 'loading', action });
    try {
      const plan = await getJson<PlanView>(`${stackPath(props.stack, 'plan')}?action=${action}`);
      setDialog({ state: 'confirm', action, plan, changed: false });
    } catch (error) {
      setDialog({ state: 'failed', action, message: (error as Error).message });
    }
  };

  const confirm = async (action: PlanAction, plan: PlanView) => {
    setDialog({ state: 'running', action, plan });
    try {
      const result = await postJson<ActionResult>(stackPath(props.stack, action), {
        deployId: plan.deployId,
        runId: newRunId(),
      });
      setLast({ action, result });
      setDialog(null);
    } catch (error) {
      if (error instanceof ApiFailure && error.body.plan) {
        setDialog({ state: 'confirm', action, plan: error.body.plan, changed: true });
      } else {
        setDialog({ state: 'failed', action, message: (error as Error).message });
      }
    } finally {
      props.onDone();
    }
  };

  const { plan } = props;
  return (
    <section className="card plan-card" aria-label="Plan">
      <h2>Deploy the latest build</h2>
      {props.planError && <p className="muted">{props.planError}</p>}
      {plan && <PlanSummary plan={plan} />}
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={!plan || plan.noop || dialog !== null}
          onClick={() => open('deploy-latest')}
        >
          Deploy latest
        </button>
        <button
          type="button"
          disabled={!props.canRollBack || dialog !== null}
          onClick={() => open('rollback')}
        >
          Roll back
        </button>
      </div>
      {last && (
        <p className={last.result.error ? 'error-text' : 'ok-text'} role="status">
          {last.action === 'rollback' ? 'Rollback' : 'Deploy'} {last.result.outcome}:{' '}
          {shortSha(last.result.commit)} ({last.result.deployId}) · {plural(last.result.copied, 'file')}{' '}
          copied · {plural(last.result.pruned, 'object')} pruned
          {last.result.error && ` — ${last.result.error.message}`}
        </p>
      )}
      {dialog && (
        <ConfirmDialog
          dialog={dialog}
          onCancel={() => setDialog(null)}
          onConfirm={(action, p) => void confirm(action, p)}
        />
      )}
    </section>
  );
}

function PlanSummary({ plan }: { plan: PlanView }) {
  return (
    <div className="plan">
      <p className="plan-description">{plan.description}</p>
      <ul className="plan-facts">
        <li>
          commit <code>{shortSha(plan.commit)}</code>
          {plan.fromCommit && (
            <>
              {' '}
              (live <code>{shortSha(plan.fromCommit)}</code>)
            </>
          )}
        </li>
        <li>{plural(plan.filesToCopy, 'file')} to copy</li>
        <li>{plural(plan.unchanged, 'file')} unchanged</li>
        <li>{plural(plan.toPrune, 'object')} to prune</li>
        <li>
          {plural(plan.invalidationPaths.length, 'path')} to invalidate
          {plan.invalidationPaths.length > 0 && `: ${plan.invalidationPaths.slice(0, 5).join(', ')}`}
        </li>
      </ul>
    </div>
  );
}

function ConfirmDialog(props: {
  dialog: Dialog;
  onCancel: () => void;
  onConfirm: (action: PlanAction, plan: PlanView) => void;
}) {
  const { dialog } = props;
  const title = dialog.action === 'rollback' ? 'Roll back?' : 'Deploy the latest build?';
  return (
    <div className="overlay">
      <div className="dialog" role="dialog" aria-modal="true" aria-label={title}>
        <h2>{title}</h2>
        {dialog.state === 'loading' && <p className="muted">Planning…</p>}
        {dialog.state === 'failed' && <p className="error-text">{dialog.message}</p>}
        {(dialog.state === 'confirm' || dialog.state === 'running') && (
          <>
            {dialog.state === 'confirm' && dialog.changed && (
              <p className="warn-text" role="alert">
                The plan changed since it was shown. Review the new plan.
              </p>
            )}
            {dialog.plan.protected && (
              <p className="warn-text">{dialog.plan.stack} is protected: confirming is your approval.</p>
            )}
            <PlanSummary plan={dialog.plan} />
            <p className="muted">
              Plan <code>{dialog.plan.deployId}</code>
            </p>
          </>
        )}
        <div className="actions">
          {dialog.state === 'confirm' && (
            <button
              type="button"
              className="primary"
              disabled={dialog.plan.noop}
              onClick={() => props.onConfirm(dialog.action, dialog.plan)}
            >
              {dialog.action === 'rollback' ? 'Confirm rollback' : 'Confirm deploy'}
            </button>
          )}
          {dialog.state === 'running' && <span className="muted">Working… progress is shown below.</span>}
          {dialog.state !== 'running' && (
            <button type="button" onClick={props.onCancel}>
              Cancel
            </button>
          )}
        </div>
      </div>
    </div>
  );
}
