/** Deployment receipts as the infra server issues them, signed with the suite's key (vitest.config.ts). */
import { issueReceipt, loadReceiptKey, type ReceiptClaims } from '../../src/mcp/receipts.ts';

export async function receiptFor(claims: Omit<ReceiptClaims, 'auditHead'> & { auditHead?: string | null }) {
  return issueReceipt(await loadReceiptKey(process.env), { auditHead: null, ...claims });
}
