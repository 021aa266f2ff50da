/**
 * What a pin does to other changes is one sentence (read/pin-words.ts PIN_EFFECT), said by every
 * surface that describes a pin: the pin_release tool, the status view's pin field, the model
 * planner's instructions, the CLI's `pin --help` and the console's pinned banner. Before, each wrote
 * its own "until someone promotes a release or unpins" words.
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { expect, it } from 'vitest';
import { systemPrompt } from '../../src/agent/model-planner.ts';
import type { StatusView } from '../../src/console/types.ts';
import { ReleaseActions } from '../../src/console/ui/components/ReleaseActions.tsx';
import { TOOLS } from '../../src/contract/tools.ts';
import { capitalise } from '../../src/engine/text.ts';
import { PIN_EFFECT, unpinnedSentence } from '../../src/read/pin-words.ts';
import { statusView } from '../../src/read/views.ts';
import { cli } from '../support/run-cli.ts';

/** The words as each surface writes them, on one line. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ');

it('the pin_release tool, the status view, the model planner and the CLI say PIN_EFFECT', async () => {
  expect(TOOLS.pin_release.description).toContain(PIN_EFFECT);
  expect(statusView.shape.pin.description).toContain(PIN_EFFECT);
  expect(
    systemPrompt({ stack: 'prod', app: 'sophia-dashboard', appPath: 'apps/dashboard', dryRun: false }),
  ).toContain(PIN_EFFECT);
  const help = await cli(['pin', '--help']);
  expect(help.code, help.stderr).toBe(0);
  expect(oneLine(help.stdout)).toContain(PIN_EFFECT);
});

const pin = {
  stack: 'prod',
  deployId: 'a1a1a1a-0123456789',
  app: 'sophia-dashboard',
  commit: 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
  by: 'alice',
  reason: null,
  at: new Date().toISOString(),
  cause: 'rollback',
};

it("the console's pinned banner says it", () => {
  const status = { pin, releases: [], mode: 'in-place', canary: null, live: null } as unknown as StatusView;
  const html = renderToStaticMarkup(
    createElement(ReleaseActions, {
      status,
      plan: null,
      planError: null,
      outcome: null,
      busy: false,
      onAsk: () => undefined,
    }),
  );
  expect(oneLine(html)).toContain(`${capitalise(PIN_EFFECT)}`);
});

it("the console's unpin line says the pin it lifted as unpinnedSentence words it", () => {
  const html = renderToStaticMarkup(
    createElement(ReleaseActions, {
      status: null,
      plan: null,
      planError: null,
      outcome: { kind: 'pin', action: 'unpin', result: { stack: 'prod', changed: true, pin } } as never,
      busy: false,
      onAsk: () => undefined,
    }),
  );
  expect(html).toContain('Unpinned prod (it was pinned to sophia-dashboard@a1a1a1a by alice).');
  expect(html).toContain(unpinnedSentence('prod', pin));
});
