/**
 * A tool's error answer starts with its code ("PINNED: …"): the infra server writes it
 * (describeToolError) and the agent's runbook reads it back, each through errors.ts codedText and
 * codeOf, one format. Before, the runbook matched its own patterns (/^(NOT_FOUND|BAD_INPUT|CONFLICT): /,
 * startsWith('PINNED: ')…) against what the server wrote.
 */
import { expect, it } from 'vitest';
import { codedText, codeOf, type ErrorCode, FrontendOpsError } from '../../src/errors.ts';
import { describeToolError } from '../../src/mcp/tool-result.ts';

const CODES: ErrorCode[] = ['BAD_INPUT', 'NOT_FOUND', 'CONFLICT', 'PINNED', 'APPROVAL_REQUIRED', 'LOCKED'];

it('what the server writes for each code, the agent reads back: the code and the message after it', () => {
  for (const code of CODES) {
    const text = describeToolError(new FrontendOpsError(code, 'The stack is busy.'), 'run_sync');
    expect(codeOf(text), text).toEqual({ code, message: text.slice(code.length + 2) });
    expect(text.startsWith(codedText(code, 'The stack is busy.'))).toBe(true);
  }
  // Words that only look like a code are not one.
  expect(codeOf('Deployed: sophia-dashboard@1111111')).toBeNull();
  expect(codeOf('NOT_A_CODE: x')).toBeNull();
});
