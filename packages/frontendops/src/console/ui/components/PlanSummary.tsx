import type { PlanView } from '../../types.ts';
import { plural, shortSha } from '../format.ts';

/**
 * The plan in a few facts: what goes live over what, how many commits and files, the CDN refresh;
 * and the refusal its run gives (the pin, or the one a stopped rollback it finishes first sets).
 */
export function PlanSummary({ plan }: { plan: PlanView }) {
  return (
    <div className="plan">
      <p className="plan-description">{plan.description}</p>
      {plan.refusedBy && (
        <p className="warn-text" role="alert">
          This deploy would be refused: {plan.refusedBy.message}
        </p>
      )}
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
        {plan.commits && plan.commits.direction === 'forward' && (
          <li>{plural(plan.commits.commits.length, 'new commit')}</li>
        )}
        <li>{plural(plan.filesToCopy, 'file')} to copy</li>
        <li>{plural(plan.unchanged, 'file')} unchanged</li>
        <li>{plural(plan.invalidationPaths.length, 'path')} to refresh on the CDN</li>
      </ul>
    </div>
  );
}
