/** Display helpers: short commits, relative times, durations. */
import { SESSION_TTL_MS } from '../types.ts';

export const shortSha = (sha: string) => sha.slice(0, 7);

export function timeAgo(iso: string, now: number = Date.now()): string {
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (Number.isNaN(seconds)) return iso;
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours} h ago`;
  return new Date(iso).toLocaleDateString();
}

/** An expiry for people: "14:32" today, else "Dec 3, 14:32" (the browser's locale and time zone). */
export function untilWhen(iso: string, now: number = Date.now()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return at.toDateString() === new Date(now).toDateString()
    ? time
    : `${at.toLocaleDateString([], { month: 'short', day: 'numeric' })}, ${time}`;
}

export function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** How long a session lasts, in words ("12 hours"): the server's SESSION_TTL_MS, said nowhere else. */
export const sessionLifetime = (): string =>
  SESSION_TTL_MS % 3_600_000 === 0
    ? plural(SESSION_TTL_MS / 3_600_000, 'hour')
    : plural(Math.round(SESSION_TTL_MS / 60_000), 'minute');
