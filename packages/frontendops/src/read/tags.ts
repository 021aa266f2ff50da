/** Deploy id → deploy tag name, from the git host; empty (and a note in the log) when it cannot be read. */
import { listDeployTags } from '../git/deploy-tag.ts';
import type { GitHost } from '../ports.ts';

export async function readDeployTags(git: GitHost | null | undefined): Promise<Map<string, string>> {
  if (!git) return new Map();
  try {
    const tags = await listDeployTags(git);
    return new Map(tags.flatMap((t) => (t.deployId ? [[t.deployId, t.name] as const] : [])));
  } catch (error) {
    // Tags are a nicety where they are shown: a read still answers when the git host does not.
    console.error('[frontendops] could not list deploy tags:', (error as Error).message);
    return new Map();
  }
}
