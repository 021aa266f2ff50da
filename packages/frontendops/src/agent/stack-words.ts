/**
 * A request can name where it should happen ("deploy the latest dashboard to staging", "what's live
 * on prod"), while the agent acts on one stack, chosen before it reads the words (--stack, the local
 * environment, the configuration's default). Acting on that one would answer or change another
 * environment than the person asked for, and report success: so a request naming another stack the
 * configuration knows is refused, before any tool is called, saying how to reach that stack.
 *
 * A plain word (`staging`, `prod`, `local`) counts only after "to", "on", "in", "onto", "into", "for"
 * or "against": such a word is also ordinary English, or shared with the app ("dashboard"), and
 * "deploy my local build" or "deploy the latest dashboard" names no stack. A name no one writes by
 * chance (with a hyphen, a dot, an underscore or a digit: `dashboard-hosting-staging`, `prod2`)
 * counts wherever it stands, in any word order ("deploy dashboard-hosting-staging"). The name may be
 * quoted (`to "staging"`, `to \`staging\``, `to “staging”`), as people write names.
 */
const BEFORE_A_STACK = '(?:to|on|in|onto|into|for|against)\\s+(?:the\\s+)?[\'"`‘“]?';
/** A stack's name that is not an ordinary word: named by itself, wherever it stands. */
const IDENTIFIER = /[-._\d]/;

export function otherStackNamed(
  text: string,
  known: readonly string[],
  acting: string | null,
): string | null {
  if (!acting) return null;
  for (const name of new Set(known)) {
    if (name === acting) continue;
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const before = IDENTIFIER.test(name) ? '' : BEFORE_A_STACK;
    if (!new RegExp(`(?<![\\w.-])${before}${escaped}(?![\\w.-])`, 'i').test(text)) continue;
    return (
      `The request names ${name}, but this agent acts on ${acting}. Nothing was done. ` +
      `To act on ${name}, ask again with that stack chosen (\`frontendops agent --stack ${name} "…"\`); to act on ${acting}, leave the other stack's name out.`
    );
  }
  return null;
}
