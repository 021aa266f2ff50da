/**
 * Questions asked at a terminal: one line read, and the yes or no that approves a change, said once
 * for every prompt that asks it (the agent's approval, a protected deploy's, `frontendops approve`'s):
 * only "y" or "yes", in any case, is a yes; anything else, Enter included, is a no.
 */
import { createInterface } from 'node:readline/promises';

/** Asks one question on a terminal and returns the line answered. */
export async function askOnTerminal(
  question: string,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
): Promise<string> {
  const rl = createInterface({ input, output });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** What a yes/no question ends with: no is the default. */
export const YES_NO = ' [y/N] ';

/** Whether an answer to a yes/no question is a yes. */
export const isYes = (answer: string): boolean => /^y(es)?$/i.test(answer.trim());

/** Asks `question` (ending with YES_NO) on a terminal: true only for a yes. */
export async function askYesNo(
  question: string,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
): Promise<boolean> {
  return isYes(await askOnTerminal(`${question}${YES_NO}`, input, output));
}
