/**
 * An audit chain's head, and the text it travels as, "<seq>:<hash>": a deploy tag's Audit-Head
 * trailer (which anchors the deploy chain in git) and a deployment entry's publishHead (which
 * anchors the publish log in the deploy chain). Written and read here only; no dependencies, so the
 * agent's side can use it without loading the state modules.
 */
export interface AuditHead {
  seq: number;
  hash: string;
}

export const formatAuditHead = (head: AuditHead): string => `${head.seq}:${head.hash}`;

/** "<seq>:<hash>" exactly, nothing around it: what a tool's argument and a trailer must be. */
export const AUDIT_HEAD_TEXT = /^(\d{1,12}):(sha256:[0-9a-f]{64})$/;

/** The head a text names, or null when it is not "<seq>:<hash>" (space around it is let go). */
export function parseAuditHead(text: string): AuditHead | null {
  const match = AUDIT_HEAD_TEXT.exec(text.trim());
  return match?.[1] && match[2] ? { seq: Number(match[1]), hash: match[2] } : null;
}
