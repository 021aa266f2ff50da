/**
 * The console says a PINNED refusal in the page's words (releases.ts pinnedForThePage). Rebuilt from
 * the pin, it must still say what else went wrong: a deploy refused by the pin whose lock then could
 * not be let go says both, as the CLI does.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { pinnedForThePage } from '../../src/console/releases.ts';
import { pinNotLiveForThePage } from '../../src/console/routes.ts';
import { pinNotLiveError } from '../../src/deploy/pin.ts';
import { FrontendOpsError, holding } from '../../src/errors.ts';
import type { HeldLock } from '../../src/ports.ts';
import { PIN_EFFECT, pinnedRefusal } from '../../src/read/pin-words.ts';
import { describePin, type PinRecord, pinnedError } from '../../src/state/pin.ts';

const pin: PinRecord = {
  stack: 'dashboard-hosting-prod',
  deployId: 'a1a1a1a-0123456789',
  app: 'sophia-dashboard',
  commit: 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1',
  by: 'alice',
  reason: 'totals are wrong',
  at: '2026-12-04T00:00:00Z',
  cause: 'rollback',
};

const lock = (release: () => Promise<void>): HeldLock => ({
  owner: 'alice',
  assertHeld: async () => {},
  release,
});

describe("a PINNED refusal in the page's words", () => {
  it('names the pin and the buttons, not CLI commands', async () => {
    const refused = await holding(
      lock(async () => {}),
      () => Promise.reject(pinnedError(pin.stack, pin)),
    ).catch((e: unknown) => e);
    const shown = pinnedForThePage(refused) as FrontendOpsError;
    expect(shown.code).toBe('PINNED');
    expect(shown.message).toBe(pinnedRefusal(`This stack is pinned to ${describePin(pin)}`));
  });

  it('says the pin rule in the words the CLI, the tools and the README say it with (PIN_EFFECT)', async () => {
    // Before, the refusal, the page and the README each said the rule in words of their own.
    const shown = (pinnedForThePage(pinnedError(pin.stack, pin)) as FrontendOpsError).message;
    const cli = pinnedError(pin.stack, pin).message;
    for (const said of [shown, cli]) {
      expect(said).toContain(`pinned to ${describePin(pin)}: ${PIN_EFFECT}`);
      expect(said.match(/nothing was changed/gi)).toHaveLength(1);
    }
    expect(cli).toMatch(/`frontendops promote \[<commit>\]`.*`frontendops unpin`/);
    const readme = await readFile(new URL('../../../../README.md', import.meta.url), 'utf8');
    expect(readme.replace(/\s+/g, ' ')).toContain(PIN_EFFECT);
  });

  it('keeps what the refusal added: letting the lock go failed too', async () => {
    const refused = await holding(
      lock(() => Promise.reject(new FrontendOpsError('LOCKED', 'Another deploy took the lock over.'))),
      () => Promise.reject(pinnedError(pin.stack, pin)),
    ).catch((e: unknown) => e);
    const shown = pinnedForThePage(refused) as FrontendOpsError;
    expect(shown.code).toBe('PINNED');
    expect(shown.message).toMatch(/^This stack is pinned to sophia-dashboard@a1a1a1a /);
    expect(shown.message).toBe(
      `${pinnedRefusal(`This stack is pinned to ${describePin(pin)}`)} Letting the lock go failed too: Another deploy took the lock over.`,
    );
    expect(shown.message).not.toMatch(/frontendops /);
  });
});

describe("a pin of a release no longer live, in the page's words", () => {
  const refused = (kept: boolean) =>
    pinNotLiveError({
      stack: pin.stack,
      shown: 'b2b2b2b-0123456789',
      live: { deployId: pin.deployId, app: pin.app, commit: pin.commit },
      kept,
    });

  for (const kept of [true, false]) {
    it(`${kept ? 'kept' : 'no longer kept'}: the history's button is the way back, not a CLI command (the CLI's says it)`, () => {
      expect(refused(kept).message).toMatch(/`frontendops rollback --to b2b2b2b-0123456789`/);
      const shown = pinNotLiveForThePage(refused(kept)) as FrontendOpsError;
      expect(shown.code).toBe('CONFLICT');
      expect(shown.message).toMatch(
        /^b2b2b2b-0123456789 is not the live release of dashboard-hosting-prod \(live: sophia-dashboard@a1a1a1a, a1a1a1a-0123456789; .*\)\. Nothing was pinned\. A pin keeps what is live: to pin a1a1a1a-0123456789, look at it and pin again;/,
      );
      expect(shown.message).toContain('reload the page and use "Roll back to this" on b2b2b2b-0123456789');
      expect(shown.message).not.toMatch(/frontendops |--to/);
    });
  }

  it('keeps what the refusal added: letting the lock go failed too', async () => {
    const failed = await holding(
      lock(() => Promise.reject(new FrontendOpsError('LOCKED', 'Another deploy took the lock over.'))),
      () => Promise.reject(refused(true)),
    ).catch((e: unknown) => e);
    expect((pinNotLiveForThePage(failed) as FrontendOpsError).message).toMatch(
      /a rollback pins\. Letting the lock go failed too: Another deploy took the lock over\.$/,
    );
  });
});
