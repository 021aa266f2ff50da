/**
 * Addresses and names of this machine, said once: the serialisation check (stacks/serialisation.ts,
 * which also resolves names), the deploy lock's endpoint identity (deploy/deploy-lock.ts), and the
 * Host names the console and the MCP server over HTTP answer on loopback.
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

/**
 * Whether a host to listen on (--host) is this machine only, so that the server checks the Host names
 * it is asked by (loopbackHostNames): localhost, or a loopback address in any spelling. A name that
 * merely starts with "127." counts too: it is then answered under the usual names only (the
 * "not only on this machine" warnings ask isLoopbackName, which such a name is not).
 */
export function isLoopbackBind(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || isLoopbackAddress(host);
}

/**
 * The Host names (without the port) a server listening on loopback `bindHost` answers, so that a page
 * on a rebound DNS name cannot reach it through the user's browser: 127.0.0.1, localhost and [::1],
 * and the address it is bound to when that is another loopback address (--host 127.0.0.2 prints
 * http://127.0.0.2:<port>/), as it is printed and as a browser writes it. An address is never a
 * rebound name; a name that merely starts with "127." is not taken.
 */
export function loopbackHostNames(bindHost: string): string[] {
  const names = ['127.0.0.1', 'localhost', '[::1]'];
  if (isIP(bindHost) !== 0 && isLoopbackAddress(bindHost)) {
    const printed = bindHost.includes(':') ? `[${bindHost}]` : bindHost;
    names.push(printed, new URL(`http://${printed}/`).hostname);
  }
  return [...new Set(names)];
}
