/**
 * The action's inputs as the runner gives them (inputs.ts), beside what action.yml declares.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { otherAppNamed } from '../../src/agent/stack-words.ts';
import { readActionInputs } from '../../src/github-action/inputs.ts';
import { REPO_ROOT } from '../support/cli.ts';

describe('the agent command without a request', () => {
  it("asks for the latest build in any repository, whatever its app is called: action.yml's default too", async () => {
    const action = parse(await readFile(join(REPO_ROOT, 'action.yml'), 'utf8')) as {
      inputs: { request: { default: string } };
    };
    const { request } = readActionInputs({ INPUT_COMMAND: 'agent', INPUT_STACK: 'prod' });
    expect(action.inputs.request.default).toBe(request);
    for (const own of [
      { app: 'blog', appPath: 'site' },
      { app: 'sophia-dashboard', appPath: 'apps/sophia-dashboard' },
    ]) {
      expect(otherAppNamed(request, own), own.app).toBeNull();
    }
  });
});
