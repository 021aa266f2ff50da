/**
 * What the infra server may say (DESIGN §1.1): app@shortCommit, stack names, counts, deploy ids and
 * the public site URL — never a bucket name, an endpoint, a credential or a secret output. Two
 * layers: backend failures (UPSTREAM, unexpected errors) are reduced to a generic sentence with the
 * detail on stderr; and every result, success or failure, is scrubbed of the known sensitive values
 * of every stack this server opened, in case a message somewhere still carries one.
 */
import type { CallToolResult, InputRequiredResult } from '@modelcontextprotocol/server';
import type { DeployTarget } from '../engine/types.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';
import { toolFailure } from './tool-result.ts';

const HIDDEN = '[hidden]';
const CREDENTIAL_ENV = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];

export interface Secrecy {
  /** Remembers a target's sensitive values (bucket names, endpoint, distribution id). */
  learn(target: DeployTarget): void;
  /** Replaces every known sensitive value in text and structured content. */
  scrub<R extends CallToolResult | InputRequiredResult>(result: R): R;
  /** A thrown error as an isError result, backend details kept in the server log. */
  failure(error: unknown): CallToolResult;
}

export function createSecrecy(env: NodeJS.ProcessEnv = process.env): Secrecy {
  const sensitive = new Set<string>();
  for (const name of CREDENTIAL_ENV) {
    const value = env[name];
    if (value && value.length >= 4) sensitive.add(value);
  }
  // Names that are fine to show must never be scrubbed, even where they equal a bucket name.
  const shown = new Set<string>();

  const scrubText = (text: string) => {
    let out = text;
    // Longest first, so a host:port goes before the host it contains.
    for (const value of [...sensitive].sort((a, b) => b.length - a.length)) {
      if (!shown.has(value)) out = out.split(value).join(HIDDEN);
    }
    return out;
  };

  return {
    learn(target) {
      shown.add(target.stack);
      for (const value of [
        target.artifactsBucket,
        target.hostingBucket,
        target.stateBucket,
        target.distributionId,
      ]) {
        if (value) sensitive.add(value);
      }
      if (target.endpoint) {
        sensitive.add(target.endpoint.replace(/\/+$/, ''));
        try {
          const url = new URL(target.endpoint);
          sensitive.add(url.host);
        } catch {
          // not a URL: the raw value above is enough
        }
      }
    },

    scrub(result) {
      if (sensitive.size === 0) return result;
      const text = JSON.stringify(result);
      const clean = scrubText(text);
      return clean === text ? result : (JSON.parse(clean) as typeof result);
    },

    failure(error) {
      if (isFrontendOpsError(error, 'UPSTREAM')) {
        // The engine's UPSTREAM messages may quote S3 (bucket names, keys, the endpoint).
        console.error('[frontendops infra mcp] backend failure:', error.message, error.cause ?? '');
        const code = upstreamCode(error.cause);
        return toolFailure(
          new FrontendOpsError(
            'UPSTREAM',
            `The storage or CDN backend failed${code ? ` (${code})` : ''}; the details are in the server's log. Nothing more was changed by this call; retrying later may help.`,
          ),
        );
      }
      return toolFailure(error);
    },
  };
}

/** The AWS error name (e.g. NoSuchBucket, AccessDenied) — names no resource. */
function upstreamCode(cause: unknown): string | undefined {
  const name = (cause as { name?: unknown; Code?: unknown } | undefined)?.name;
  return typeof name === 'string' && /^[A-Za-z]{2,60}$/.test(name) && name !== 'Error' ? name : undefined;
}
