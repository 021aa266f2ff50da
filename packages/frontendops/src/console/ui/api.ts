/**
 * The browser side of the console API. The session cookie (set by visiting /?token=…) authenticates;
 * every POST also carries the console's custom header, which the server requires of cookie callers.
 */
import type { ApiError } from '../types.ts';

export class ApiFailure extends Error {
  readonly status: number;
  readonly body: ApiError;
  constructor(status: number, body: ApiError) {
    super(body.message);
    this.status = status;
    this.body = body;
  }
}

export async function getJson<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } }));
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return parse<T>(
    await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-frontendops-console': '1' },
      body: JSON.stringify(body),
    }),
  );
}

export const stackPath = (stack: string, resource: string) =>
  `/api/stacks/${encodeURIComponent(stack)}/${resource}`;

export const newRunId = () => crypto.randomUUID();

async function parse<T>(response: Response): Promise<T> {
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { error: 'BAD_RESPONSE', message: text.slice(0, 200) };
  }
  if (!response.ok) {
    const body = (json ?? {}) as Partial<ApiError>;
    throw new ApiFailure(response.status, {
      ...body,
      error: body.error ?? String(response.status),
      message: body.message ?? response.statusText,
    });
  }
  return json as T;
}
