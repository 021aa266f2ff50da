/**
 * Which approval a change needs is said once, in the tool contract: the infra server asks for it
 * (runApproved, run_sync) and the agent's gate and `--yes` name it from there. Every tool that
 * changes what is served names one; no other tool does; the model planner's changes are these.
 */
import { describe, expect, it } from 'vitest';
import { CHANGE_TOOLS } from '../../src/agent/model-planner.ts';
import { toolOfApproved } from '../../src/cli/commands/approve.ts';
import { approvalOf, TOOLS, type ToolName } from '../../src/contract/tools.ts';
import { APPROVAL_ACTIONS } from '../../src/ports.ts';

describe('the approval each tool needs, in the contract', () => {
  it('every destructive tool names its approval, and only they do', () => {
    const named = Object.fromEntries(
      (Object.keys(TOOLS) as ToolName[]).flatMap((name) =>
        TOOLS[name].approval ? [[name, TOOLS[name].approval]] : [],
      ),
    );
    expect(named).toEqual({
      run_sync: 'deploy',
      rollback: 'rollback',
      promote_release: 'promote',
      start_canary: 'canary',
      promote_canary: 'promote',
      abort_canary: 'abort',
    });
    for (const name of Object.keys(TOOLS) as ToolName[]) {
      expect(TOOLS[name].impact === 'destructive', name).toBe(TOOLS[name].approval !== undefined);
    }
    expect([...CHANGE_TOOLS].sort()).toEqual(Object.keys(named).sort());
    expect(() => approvalOf('get_status')).toThrow(/makes no change that needs an approval/);
  });

  it('`approve` names, as the next call, a tool that needs the action it approved', () => {
    for (const action of APPROVAL_ACTIONS) {
      for (const to of [undefined, '3f2c1a9']) {
        const next = toolOfApproved({ action, to }) as ToolName;
        expect(TOOLS[next].approval, `${action} ${to ?? ''}`).toBe(action);
      }
    }
  });
});
