/**
 * How every AWS SDK client of the tool talks HTTP (S3, CloudFront, CloudFront KeyValueStore): kept-
 * alive connections, and bounds so that no request waits forever. The SDK's Node handler has none by
 * default, so a connection that never opens, or a server that stops answering in the middle of a
 * request (a stalled proxy, a connection left half-open by a network change), would hold a deploy —
 * and with it the deploy lock — until someone killed it.
 * - Opening a connection may take CONNECT_TIMEOUT_MS.
 * - An attempt ends when its connection has been silent, in both directions, for IDLE_TIMEOUT_MS. It
 *   is a bound on silence, not on the whole request: a large upload that keeps sending is never cut.
 * Either ends the attempt with a TimeoutError, which the retry strategy (retry.ts) retries as it
 * retries any transient failure; the last attempt's error says what timed out.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { LookupFunction } from 'node:net';

export const CONNECT_TIMEOUT_MS = 10_000;
export const IDLE_TIMEOUT_MS = 60_000;

export interface HttpOptions {
  /** Connections per endpoint (Node's default: no limit). */
  maxSockets?: number;
  /** Name resolution of the connections (default: the system's). */
  lookup?: LookupFunction;
  /** Silence after which an attempt ends (default IDLE_TIMEOUT_MS; tests shorten it). */
  idleTimeoutMs?: number;
}

/** The `requestHandler` of an SDK client. */
export function requestHandler(options: HttpOptions = {}) {
  const agent = {
    keepAlive: true,
    ...(options.maxSockets ? { maxSockets: options.maxSockets } : {}),
    ...(options.lookup ? { lookup: options.lookup } : {}),
  };
  return {
    httpAgent: new HttpAgent(agent),
    httpsAgent: new HttpsAgent(agent),
    connectionTimeout: CONNECT_TIMEOUT_MS,
    socketTimeout: options.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
  };
}
