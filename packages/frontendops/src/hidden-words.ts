/**
 * A stack's sensitive values (bucket names, the endpoint, the distribution id, where its state
 * lives) and how words are shown with them hidden: what every MCP answer hides (mcp/secrecy.ts) and
 * what every deploy tag says of a request (git/deploy-tag.ts tagRequest), whoever wrote the words and
 * whoever makes the tag. The git server cannot hide them (it does not know the stack), and it hands
 * a tag's words back to the agent (create_deploy_tag, list_deploy_tags). Said once here.
 */
import { basename } from 'node:path';
import type { Config } from './config.ts';
import { defaultStatePrefix } from './engine/target.ts';
import type { DeployTarget } from './engine/types.ts';
import { configuredBackend, isStateBackendUrl, parseBackendUrl } from './stacks/backend-url.ts';
import { isOutputsFileRef } from './stacks/outputs-file.ts';

/** What a hidden value is shown as. */
export const HIDDEN = '[hidden]';

/** Values shorter than this are never hidden: they would match ordinary words. */
const SHORTEST_HIDDEN = 4;

/** The target's values never to show; its stack name is shown (targetHidden). */
export type HiddenTarget = Pick<
  DeployTarget,
  | 'stack'
  | 'artifactsBucket'
  | 'hostingBucket'
  | 'stateBucket'
  | 'distributionId'
  | 'releaseStoreArn'
  | 'statePrefix'
  | 'endpoint'
>;

/** The target's sensitive values: its buckets, CDN, state location and endpoint (with its host). */
export function targetSecrets(target: HiddenTarget): string[] {
  const values = [
    target.artifactsBucket,
    target.hostingBucket,
    target.stateBucket,
    target.distributionId,
    target.releaseStoreArn,
    // Where the state lives within its bucket: a TAMPERED answer names the damaged object's key.
    target.statePrefix.replace(/\/+$/, ''),
  ];
  if (target.endpoint) {
    values.push(target.endpoint.replace(/\/+$/, ''));
    try {
      values.push(new URL(target.endpoint).host);
    } catch {
      // not a URL: the raw value above is enough
    }
  }
  return values.filter((v): v is string => typeof v === 'string' && v.length >= SHORTEST_HIDDEN);
}

/**
 * Where the configuration keeps its stacks, never to show: each outputs file (its path and its
 * name, as an error names it), each state directory and state bucket (read from its backend URL as
 * the state reader reads it, an `env:` one from `env`, a relative directory against `cwd`), each
 * stack's state prefix as its name gives it, and a default stack given as an outputs file. A stack
 * that cannot be opened is refused in words that may name them, before any target of it is known;
 * a stack read but never opened by name (a `buildsFrom`) is named by its state prefix (where its
 * publish log is), and in the usual set-up (one state bucket) that prefix is all that tells it.
 */
export function configuredLocations(
  config: Pick<Config, 'stacks' | 'defaultStack'>,
  where: { cwd: string; env: NodeJS.ProcessEnv },
): string[] {
  const values: string[] = [];
  const file = (path: string) => values.push(path, basename(path));
  for (const [name, stack] of Object.entries(config.stacks)) {
    values.push(defaultStatePrefix(name).replace(/\/+$/, ''));
    if (stack.file) file(stack.file);
    const location = stateLocation(stack.backend, where);
    if (location?.kind === 'file') values.push(location.directory);
    if (location?.kind === 's3') values.push(location.bucket);
  }
  if (config.defaultStack !== undefined && isOutputsFileRef(config.defaultStack)) file(config.defaultStack);
  return values.filter((v) => v.length >= SHORTEST_HIDDEN);
}

/** Where a stack's backend keeps its state, if it is a state backend that can be read. */
function stateLocation(backend: string, where: { cwd: string; env: NodeJS.ProcessEnv }) {
  try {
    const url = configuredBackend(backend, where.env);
    return isStateBackendUrl(url) ? parseBackendUrl(url, where.cwd) : null;
  } catch {
    return null; // refused when the stack is opened, in words that name no location
  }
}

/**
 * `words` with each of `hidden` shown as HIDDEN (longest first, so a host:port goes before the host
 * it contains; as JSON escapes it, so the same holds inside JSON text), but those in `shown`.
 */
export function hiddenIn(words: string, hidden: Iterable<string>, shown: ReadonlySet<string>): string {
  let out = words;
  for (const value of [...hidden].sort((a, b) => b.length - a.length)) {
    if (!shown.has(value)) out = out.split(JSON.stringify(value).slice(1, -1)).join(HIDDEN);
  }
  return out;
}

/** The words of a stack's request with its sensitive values hidden, as every MCP answer hides them. */
export function targetHidden(target: HiddenTarget): (words: string) => string {
  const hidden = targetSecrets(target);
  const shown = new Set([target.stack]);
  return (words) => hiddenIn(words, hidden, shown);
}
