/** Small HTTP helpers for the console server: JSON in and out, and errors as JSON a person can act on. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { badInput, describeForClient, type ErrorCode } from '../errors.ts';
import type { ApiError } from './types.ts';

const MAX_BODY_BYTES = 64 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export function sendError(res: ServerResponse, status: number, body: ApiError): void {
  sendJson(res, status, body);
}

/** Reads a JSON body of at most 64 KiB and parses it with the schema; BAD_INPUT otherwise. */
export async function readJsonBody<T>(
  req: IncomingMessage,
  schema: z.ZodType<T>,
  expected: string,
): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw badInput(`The request body is larger than ${MAX_BODY_BYTES} bytes. Send ${expected}.`);
    chunks.push(chunk);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw badInput(`The request body is not JSON. Send ${expected}.`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw badInput(`The request body is invalid (${problems}). Send ${expected}.`);
  }
  return parsed.data;
}

/** decodeURIComponent that answers a malformed escape with BAD_INPUT instead of a URIError. */
export function decodePathPart(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw badInput(`The address part "${value.slice(0, 100)}" is not valid percent-encoding. Check the URL.`);
  }
}

const STATUS_BY_CODE: Record<ErrorCode, number> = {
  BAD_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  LOCKED: 409,
  PINNED: 409,
  PRECONDITION_FAILED: 409,
  INTERRUPTED: 409,
  APPROVAL_REQUIRED: 403,
  DENIED: 403,
  UNAUTHORIZED: 401,
  VERIFY_FAILED: 502,
  TAMPERED: 500,
  UPSTREAM: 502,
  INTERNAL: 500,
};

/**
 * An error as the browser may see it: what an MCP client is told of it (describeForClient), so
 * backend failures and bugs, whose messages can name buckets, keys or local paths, are described
 * generically and logged in full on the server.
 */
export function toApiError(error: unknown): { status: number; body: ApiError } {
  const { code, message } = describeForClient(error, '[frontendops console] request failed:');
  return { status: STATUS_BY_CODE[code], body: { error: code, message } };
}
