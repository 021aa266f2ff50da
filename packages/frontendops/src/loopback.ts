/**
 * Addresses and names of this machine, said once: the serialisation check (stacks/serialisation.ts,
 * which also resolves names) and the deploy lock's endpoint identity (deploy/deploy-lock.ts).
 */
import { isIP } from 'node:net';

/** A loopback address: 127.0.0.0/8 (also as ::ffff:127.x), or ::1 in any of its spellings. */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.replace(/^::ffff:/i, '');
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(address);
}

/** A name of this machine without a lookup: localhost (and *.localhost), or a loopback address. */
export function isLoopbackName(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && isLoopbackAddress(host));
}
