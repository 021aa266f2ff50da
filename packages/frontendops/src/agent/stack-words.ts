/**
 * A request can name where it should happen ("deploy the latest dashboard to staging", "what's live
 * on prod"), while the agent acts on one stack, chosen before it reads the words (--stack, the local
 * environment, the configuration's default). Acting on that one would answer or change another
 * environment than the person asked for, and report success: so a request naming another stack the
 * configuration knows is refused, before any tool is called, saying how to reach that stack.
 *
 * Only a name after "to", "on", "in", "onto", "into", "for" or "against" counts: a stack may share a
 * word with the app ("dashboard"), and "deploy the latest dashboard" names no stack. The name may be
 * quoted (`to "staging"`, `to \`staging\``, `to “staging”`), as people write names.
 */
const BEFORE_A_STACK = '(?:to|on|in|onto|into|for|against)\\s+(?:the\\s+)?[\'"`‘“]?';

export function otherStackNamed(
  text: string,
  known: readonly string[],
  acting: string | null,
): string | null {
  if (!acting) return null;
  for (const name of new Set(known)) {
    if (name === acting) continue;
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (!new RegExp(`(?<![\\w-])${BEFORE_A_STACK}${escaped}(?![\\w.-])`, 'i').test(text)) continue;
    return (
      `The request names ${name}, but this agent acts on ${acting}. Nothing was done. ` +
      `To act on ${name}, ask again with that stack chosen (\`frontendops agent --stack ${name} "…"\`); to act on ${acting}, leave the other stack's name out.`
    );
  }
  return null;
}
