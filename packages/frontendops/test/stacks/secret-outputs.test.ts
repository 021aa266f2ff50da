import { describe, expect, it } from 'vitest';
import {
  containsSecret,
  PULUMI_OUTPUT_VALUE_SIG,
  PULUMI_SECRET_SIG,
  PULUMI_SIG_KEY,
  separateSecretOutputs,
} from '../../src/stacks/secret-outputs.ts';

const secretEnvelope = { [PULUMI_SIG_KEY]: PULUMI_SECRET_SIG, ciphertext: 'v1:abc:def' };

describe('containsSecret', () => {
  it.each([
    ['the secret envelope with ciphertext', secretEnvelope],
    [
      'the secret envelope with plaintext (--show-secrets export)',
      { [PULUMI_SIG_KEY]: PULUMI_SECRET_SIG, plaintext: '"x"' },
    ],
    [
      'an envelope with an unexpected signature but ciphertext',
      { [PULUMI_SIG_KEY]: 'other', ciphertext: 'v1:x' },
    ],
    [
      'an output value marked secret',
      { [PULUMI_SIG_KEY]: PULUMI_OUTPUT_VALUE_SIG, value: 'x', secret: true },
    ],
    ['the CLI mask', '[secret]'],
    ['a secret inside an object', { a: { b: secretEnvelope } }],
    ['a secret inside a list', ['x', 1, secretEnvelope]],
    ['the CLI mask inside a list', ['[secret]']],
  ])('finds %s', (_name, value) => {
    expect(containsSecret(value)).toBe(true);
  });

  it.each([
    ['a string', 'sophia-dashboard-hosting-prod'],
    ['a number', 3],
    ['null', null],
    ['a plain object', { team: 'platform', list: [1, 2] }],
    ['an output value not marked secret', { [PULUMI_SIG_KEY]: PULUMI_OUTPUT_VALUE_SIG, value: 'x' }],
    ['an asset', { [PULUMI_SIG_KEY]: 'c44067f5952c0a294b673a41bacd8c17', path: './index.html' }],
    ['a string merely mentioning secrets', 'the [secret] word'],
  ])('does not flag %s', (_name, value) => {
    expect(containsSecret(value)).toBe(false);
  });

  it('treats absurdly deep values as secret rather than risk missing one', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100; i++) deep = { deep };
    expect(containsSecret(deep)).toBe(true);
  });
});

describe('separateSecretOutputs', () => {
  it('keeps plain outputs, returns secret names sorted, and drops secret values entirely', () => {
    const result = separateSecretOutputs({ b: secretEnvelope, plain: 'v', a: '[secret]', obj: { k: 1 } });
    expect(result).toEqual({ outputs: { plain: 'v', obj: { k: 1 } }, secretNames: ['a', 'b'] });
    expect(JSON.stringify(result)).not.toContain('v1:abc:def');
  });
});
