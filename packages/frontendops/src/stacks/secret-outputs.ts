/**
 * Separates secret stack outputs from plain ones without ever decrypting anything. A secret output's
 * value is dropped on the spot; only its name survives, so no later code can leak it.
 */

/** Pulumi's "special object" marker key (sdk/go/common/resource/sig: sig.Key). */
export const PULUMI_SIG_KEY = '4dabf18193072939515e22adb298388d';
/** The signature of a secret value (sig.Secret): `{ [sig.Key]: SECRET, ciphertext | plaintext }`. */
export const PULUMI_SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';
/** An output value wrapper (sig.OutputValue), which may carry `secret: true`. */
export const PULUMI_OUTPUT_VALUE_SIG = 'd0e6a833031e9bbcd3f4e8bde6ca49a4';
/** What `pulumi stack output --json` prints in place of a secret without --show-secrets. */
export const CLI_SECRET_MARKER = '[secret]';

export interface SeparatedOutputs {
  outputs: Record<string, unknown>;
  secretNames: string[];
}

/** Any output that holds a secret anywhere inside it is secret as a whole. */
export function separateSecretOutputs(values: Record<string, unknown>): SeparatedOutputs {
  const outputs: Record<string, unknown> = {};
  const secretNames: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    if (containsSecret(value)) secretNames.push(name);
    else outputs[name] = value;
  }
  return { outputs, secretNames: secretNames.sort() };
}

/**
 * True for Pulumi's secret envelope, an output-value wrapper marked secret, the CLI's "[secret]" mask, and
 * (defensively) any signed object carrying ciphertext or plaintext whatever its signature says.
 */
export function containsSecret(value: unknown, depth = 0): boolean {
  if (depth > 64) return true; // absurdly deep: refuse to return rather than risk missing a secret
  if (value === CLI_SECRET_MARKER) return true;
  if (Array.isArray(value)) return value.some((item) => containsSecret(item, depth + 1));
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  if (PULUMI_SIG_KEY in record) {
    const sig = record[PULUMI_SIG_KEY];
    if (sig === PULUMI_SECRET_SIG || 'ciphertext' in record || 'plaintext' in record) return true;
    if (sig === PULUMI_OUTPUT_VALUE_SIG && record.secret === true) return true;
  }
  return Object.values(record).some((item) => containsSecret(item, depth + 1));
}
