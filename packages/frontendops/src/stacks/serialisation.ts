/**
 * Whether anything can serialise the deploys of a target. With conditional writes the S3 lock does,
 * whoever deploys from wherever. Without them only a file lock is left, which serialises the
 * processes of this machine: enough for an endpoint on loopback (only this machine reaches it), not
 * for one other machines can reach — there two operators' deploys could interleave, so changes are
 * refused unless the configuration says, knowingly, that every deploy runs on this one machine.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { FrontendOpsError } from '../errors.ts';
import { isLoopbackAddress } from '../loopback.ts';

/** The configuration field that opts in (frontendops.config.json). */
export const OPT_IN_FIELD = 'allowUnserialisedDeploys';

/**
 * Is the endpoint on this machine only? A loopback address (127.0.0.0/8, ::1), or a name every one of
 * whose addresses is loopback. An unknown name, and AWS (no endpoint), are not.
 */
export async function isLoopbackEndpoint(endpoint: string | undefined): Promise<boolean> {
  if (endpoint === undefined) return false;
  let host: string;
  try {
    host = new URL(endpoint).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return false;
  }
  if (isIP(host)) return isLoopbackAddress(host);
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address));
  } catch {
    return false;
  }
}

/** The refusal: what is wrong, why it matters, and both ways out. Names no endpoint (it may reach an agent). */
export function unserialisedError(stack: string): FrontendOpsError {
  return new FrontendOpsError(
    'DENIED',
    `Refused to change ${stack}: its S3 endpoint ignores conditional writes and other machines can reach it, so nothing ` +
      "can keep another operator's deploy from running at the same time as this one (a file lock serialises the " +
      'processes of one machine only) and the two could leave the site half switched. Nothing was changed. Use an ' +
      'S3 endpoint that honours conditional writes (AWS S3, MinIO and Cloudflare R2 do), or, if every deploy to ' +
      `${stack} runs on this one machine, say so with "${OPT_IN_FIELD}": true in frontendops.config.json.`,
  );
}

/** What an operator who opted in is told once a lock is taken. */
export const unserialisedNotice = (stack: string) =>
  `${OPT_IN_FIELD} is set and ${stack}'s S3 endpoint ignores conditional writes: deploys are serialised on this machine only; a deploy from another machine can run at the same time.`;
