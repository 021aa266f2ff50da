/**
 * What a FrontendOps MCP server may say: app@shortCommit, stack names, counts, deploy ids and the
 * public site URL — never a bucket name, an endpoint, a credential, a secret output or a local path
 * (an outputs file, the repository). Two layers: errors are described by describeForClient (backend
 * detail goes to stderr), and every result, success or failure, is scrubbed of every sensitive value
 * the server has learnt, in case a message somewhere still carries one.
 */
import type { DeployTarget } from '../engine/types.ts';
import { hiddenIn, targetSecrets } from '../hidden-words.ts';
import { type ToolAnswer, toolFailure } from './tool-result.ts';

/**
 * Every secret variable a server may hold: the ones FrontendOps reads (the cloud's and the git host's
 * credentials, Pulumi Cloud's token, the MCP bearer token, the receipt key, a job's OIDC request
 * token), the one the pulumi CLI it runs reads (the stack configuration's passphrase), and the ones
 * an agent that started the server passes on to it (the model's key, the approver key's passphrase).
 * None is ever repeated in an answer, whatever error quotes it.
 */
const CREDENTIAL_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'GITHUB_TOKEN',
  'PULUMI_ACCESS_TOKEN',
  'PULUMI_CONFIG_PASSPHRASE',
  'FRONTENDOPS_MCP_TOKEN',
  'FRONTENDOPS_RECEIPT_KEY',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'FRONTENDOPS_APPROVER_PASSPHRASE',
  'FRONTENDOPS_MODEL_API_KEY',
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
];

export interface Secrecy {
  /** Remembers values never to show (a local path, a token). */
  learn(...values: Array<string | undefined>): void;
  /** Remembers a target's sensitive values (bucket names, endpoint, distribution id). */
  learnTarget(target: DeployTarget): void;
  /** Replaces every known sensitive value in text and structured content. */
  scrub<R extends ToolAnswer>(result: R): R;
  /** Replaces every known sensitive value in words. */
  text(words: string): string;
  /** Runs a tool handler: a thrown error becomes an isError result; the answer is scrubbed either way. */
  guard(run: () => Promise<ToolAnswer>): Promise<ToolAnswer>;
}

export function createSecrecy(env: NodeJS.ProcessEnv = process.env): Secrecy {
  const sensitive = new Set<string>();
  // Names that are fine to show must never be scrubbed, even where they equal a bucket name.
  const shown = new Set<string>();
  const learn = (...values: Array<string | undefined>) => {
    for (const value of values) if (value && value.length >= 4) sensitive.add(value);
  };
  learn(...CREDENTIAL_ENV.map((name) => env[name]));

  const scrubText = (text: string) => hiddenIn(text, sensitive, shown);
  const scrub = <R extends ToolAnswer>(result: R): R => {
    if (sensitive.size === 0) return result;
    const text = JSON.stringify(result);
    const clean = scrubText(text);
    return clean === text ? result : (JSON.parse(clean) as R);
  };

  return {
    learn,
    learnTarget(target) {
      shown.add(target.stack);
      learn(...targetSecrets(target));
    },
    scrub,
    text: scrubText,
    async guard(run) {
      try {
        return scrub(await run());
      } catch (error) {
        return scrub(toolFailure(error));
      }
    },
  };
}
