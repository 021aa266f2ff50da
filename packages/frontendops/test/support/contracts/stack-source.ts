/**
 * The StackSource contract: what every place a stack's outputs come from (an outputs file, Pulumi
 * state in a directory or a bucket, Pulumi Cloud, the pulumi CLI, the embedded environment) must do,
 * as ports.ts promises it and as stacks/resolve.ts and stacks/open.ts rely on it: the outputs, with
 * secret values never read into a result; NOT_FOUND for an unknown stack, saying what to do, with
 * nothing created; BAD_INPUT for a malformed source; no credential in any error. One suite, run by
 * each source's test file, so the sources cannot drift apart; where one genuinely differs, a
 * capability says so here, in the open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ErrorCode, FrontendOpsError } from '../../../src/errors.ts';
import type { SiteAccess, StackOutputs, StackSource } from '../../../src/ports.ts';
import { PULUMI_SECRET_SIG, PULUMI_SIG_KEY } from '../../../src/stacks/secret-outputs.ts';

export interface StackSourceFixture {
  source: StackSource;
  /** A stack the source holds, with at least one secret output when the source can hold secrets. */
  stack: string;
  /** What reading `stack` returns. */
  expected: { outputs: Record<string, unknown>; secretNames: string[]; access?: SiteAccess };
  /** The secret values behind `stack` (ciphertext, plaintext, the CLI's mask): never in a result. */
  secretValues: string[];
  /** Credentials the source reads with: never in an error. */
  credentials: string[];
  /** A well-formed stack name the source does not hold. */
  unknownStack: string;
  /** Everything that would show the backend changed (its files, objects, or requests that write). */
  backendState(): Promise<unknown>;
  /** Sources made wrongly (configuration, file): each is BAD_INPUT, when made or when read. */
  malformed: Array<{ what: string; open: () => StackSource | Promise<StackSource> }>;
  /** The same source with a wrong credential, for sources that take one. */
  wrongCredential?: { credential: string; open: () => StackSource };
  cleanup(): Promise<void>;
}

export interface StackSourceCapabilities {
  /**
   * Stack names are Pulumi names, used in paths, URLs and command lines, so a name that is not one is
   * BAD_INPUT before anything runs. A source that only compares the name with the one it holds (an
   * outputs file, the embedded environment) answers any other name NOT_FOUND.
   */
  checksStackNames: boolean;
  /**
   * The source is configured or written by hand, so it can be malformed. The embedded environment's
   * one file is written by `frontendops dev`: a damaged one means no environment runs (NOT_FOUND).
   */
  canBeMalformed: boolean;
  /** The source reads with a credential of its own (a token, a key) that can be wrong. */
  takesCredential: boolean;
}

/** Names that must never reach a path, URL or command line as they are. */
const NOT_STACK_NAMES = ['../../etc/passwd', 'a/b', '..', 'stack name', 'prod;touch /tmp/pwned', '$(id)', ''];

export function stackSourceContract(
  name: string,
  setup: () => Promise<StackSourceFixture>,
  capabilities: StackSourceCapabilities,
): void {
  describe(`StackSource contract: ${name}`, () => {
    let fixture: StackSourceFixture;
    beforeAll(async () => {
      fixture = await setup();
    });
    afterAll(() => fixture?.cleanup());

    /** Every error the tests provoke, to check at the end that none names a credential. */
    const errors: FrontendOpsError[] = [];
    const refusal = async (read: () => Promise<unknown>, code: ErrorCode): Promise<FrontendOpsError> => {
      const error = await Promise.resolve()
        .then(read)
        .then(
          (value) => value,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(FrontendOpsError);
      errors.push(error as FrontendOpsError);
      expect((error as FrontendOpsError).code).toBe(code);
      return error as FrontendOpsError;
    };

    it('reads the outputs; secret values are never read into the result, only their names', async () => {
      const { source, stack, expected } = fixture;
      const read = await source.readOutputs(stack);
      expect(read).toEqual({
        stack,
        outputs: expected.outputs,
        secretNames: expected.secretNames,
        source: expect.stringMatching(/\w/),
        ...(expected.access ? { access: expected.access } : {}),
      } satisfies StackOutputs);
      expect(read.secretNames).toEqual([...read.secretNames].sort());
      for (const secret of read.secretNames) expect(read.outputs).not.toHaveProperty(secret);
      const json = JSON.stringify(read);
      for (const value of [...fixture.secretValues, PULUMI_SECRET_SIG, PULUMI_SIG_KEY, '[secret]']) {
        expect(json).not.toContain(value);
      }
    });

    it('reads without writing: the same answer again, the backend unchanged', async () => {
      const before = await fixture.backendState();
      const first = await fixture.source.readOutputs(fixture.stack);
      expect(await fixture.source.readOutputs(fixture.stack)).toEqual(first);
      expect(await fixture.backendState()).toEqual(before);
    });

    it('an unknown stack is NOT_FOUND, naming it and what to do; nothing is created', async () => {
      const before = await fixture.backendState();
      const error = await refusal(() => fixture.source.readOutputs(fixture.unknownStack), 'NOT_FOUND');
      expect(error.message).toContain(fixture.unknownStack);
      expect(error.message).toContain('Nothing was created.');
      expect(error.message).toMatch(/\b(Check|Start|Pass|Run|Set|Add|Use)\b/);
      expect(await fixture.backendState()).toEqual(before);
    });

    it(`a name that is not a stack name is ${capabilities.checksStackNames ? 'BAD_INPUT' : 'NOT_FOUND'}, used for nothing`, async () => {
      const before = await fixture.backendState();
      for (const bad of NOT_STACK_NAMES) {
        await refusal(
          () => fixture.source.readOutputs(bad),
          capabilities.checksStackNames ? 'BAD_INPUT' : 'NOT_FOUND',
        );
      }
      expect(await fixture.backendState()).toEqual(before);
    });

    it.runIf(capabilities.canBeMalformed)(
      'a malformed source is BAD_INPUT, when made or when read',
      async () => {
        expect(fixture.malformed.length).toBeGreaterThan(0);
        for (const { what, open } of fixture.malformed) {
          const error = await refusal(async () => (await open()).readOutputs(fixture.stack), 'BAD_INPUT');
          expect(error.message, what).toMatch(/\w/);
        }
      },
    );

    it.runIf(capabilities.takesCredential)('a wrong credential is UPSTREAM and never repeated', async () => {
      const wrong = fixture.wrongCredential;
      expect(wrong).toBeDefined();
      if (!wrong) return;
      const error = await refusal(() => wrong.open().readOutputs(fixture.stack), 'UPSTREAM');
      expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(
        wrong.credential,
      );
    });

    it('no error names a credential or a secret value', async () => {
      // The errors of the tests above, and one more of each kind in case this test runs alone.
      await refusal(() => fixture.source.readOutputs(fixture.unknownStack), 'NOT_FOUND');
      const hidden = [...fixture.credentials, ...fixture.secretValues];
      for (const error of errors) {
        const shown = JSON.stringify({ message: error.message, details: error.details });
        for (const value of hidden) expect(shown).not.toContain(value);
      }
    });
  });
}
