/** The argument fields tools share, each defined once (patterns from engine/ids.ts). */
import * as z from 'zod';
import { CANARY_SHARE, CANARY_SHARE_FULL, CANARY_SHARE_RULE } from '../engine/canary-share.ts';
import {
  APP_NAME,
  ARTIFACT_DIGEST,
  COMMIT_REF,
  DEPLOY_ID,
  STACK_NAME,
  STACK_NAME_RULE,
} from '../engine/ids.ts';
import { problemWithText, WORDS_MAX } from '../engine/text.ts';

export const stackName = z
  .string()
  .regex(STACK_NAME, { message: `expected a stack name such as "prod" (${STACK_NAME_RULE})` })
  .refine((name) => !/\.json$/i.test(name), {
    message: 'expected a stack name, not a file name; the server operator chooses outputs files',
  });

export const appName = z.string().regex(APP_NAME, {
  message: 'expected an app name such as "sophia-dashboard" (lower-case letters, digits, . _ -)',
});

export const commitRef = z.string().regex(COMMIT_REF, {
  message: 'expected a commit sha: 7 to 64 lower-case hex digits, e.g. "3f2c1a9"',
});

export const deployId = z.string().regex(DEPLOY_ID, {
  message: 'expected a deploy id as the infra server returns them, e.g. "3f2c1a9-0123456789"',
});

/** A release named by its deploy id or its commit; either wrong is said as both expected. */
export const releaseRef = z.union([deployId, commitRef], {
  error:
    'expected a deploy id (e.g. "3f2c1a9-0123456789") or a commit sha (7 to 64 lower-case hex digits, e.g. "3f2c1a9")',
});

/** A canary's share of visitors (engine/canary-share.ts). */
export const canaryPercent = z
  .number()
  .int(`expected ${CANARY_SHARE_RULE}`)
  .min(CANARY_SHARE.min, `expected ${CANARY_SHARE_RULE}`)
  .max(CANARY_SHARE.max, `expected ${CANARY_SHARE_RULE}: ${CANARY_SHARE_FULL}`);

export const artifactDigest = z
  .string()
  .regex(ARTIFACT_DIGEST, { message: 'expected "sha256:" followed by 64 lower-case hex digits' });

export const handle = z
  .string()
  .min(1)
  .max(2000)
  .regex(/^[A-Za-z0-9._~-]+$/, { message: 'expected the handle get_deploy_target returned, unchanged' });

/** Branch, tag or commit: letters, digits and the punctuation refs use; never an option ("-…"). */
export const gitRef = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/~^@{}+-]*$/, {
    message: 'expected a branch, tag or commit sha such as "main" or "3f2c1a9" (must not start with "-")',
  });

export const repoPath = z
  .string()
  .min(1)
  .max(500)
  .regex(/^[\w.@+ -][\w.@+/ -]*$/, {
    message: 'expected a relative path inside the repository such as "apps/sophia-dashboard"',
  });

/**
 * Text a person (or a client speaking for one) wrote, recorded for others to read: newlines and tabs
 * allowed; no control characters, nor invisible characters that change how it reads (engine/text.ts).
 * The issue names the character. Use: z.string()….superRefine(plainText('the message')).
 */
export const plainText =
  (what: string) =>
  (text: string, ctx: z.RefinementCtx): void => {
    const problem = problemWithText(text);
    if (problem !== null) {
      ctx.addIssue({
        code: 'custom',
        message: `${what} may contain newlines and tabs but no other control characters: ${problem}`,
      });
    }
  };

/** Words a person wrote: printable text (newlines allowed), no other control characters. */
export const requestText = z.string().min(1).max(WORDS_MAX).superRefine(plainText('request text'));

/** Who asked and in what words: recorded with the deployment, as the client's claim. */
export const requestArgs = {
  request: requestText.optional().describe('The words of the request that started this (recorded)'),
  requestedBy: z
    .string()
    .min(1)
    .max(200)
    .superRefine(plainText('the name'))
    .optional()
    .describe('Who asked, as the client claims (recorded)'),
  planner: z
    .string()
    .regex(/^[a-z][A-Za-z0-9:._/-]{0,99}$/, { message: 'expected e.g. "runbook" or "model:openai:gpt-4.1"' })
    .optional()
    .describe('What planned this call, e.g. "runbook" or "model:<provider:model>" (recorded)'),
};

export const REQUEST_ARG_NAMES = ['request', 'requestedBy', 'planner'] as const;
