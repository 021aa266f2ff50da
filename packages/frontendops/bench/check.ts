/**
 * After each run, is the hosting bucket right? Every file of the deployed commit present and its
 * index.html the commit's own. With `exact`, nothing else may be left (the peer's --delete);
 * FrontendOps keeps the objects of earlier releases on purpose, so it is checked without.
 */
import { readManifest } from '../src/deploy/publish.ts';
import { artifactFileKey, keyOf } from '../src/engine/manifest.ts';
import type { ObjectStore } from '../src/ports.ts';

export interface HostingCheck {
  correct: boolean;
  problems: string[];
}

export async function checkHosting(
  artifacts: ObjectStore,
  hosting: ObjectStore,
  artifact: { app: string; commit: string },
  { exact }: { exact: boolean },
): Promise<HostingCheck> {
  const { app, commit } = artifact;
  const manifest = await readManifest(artifacts, app, commit);
  if (!manifest) return { correct: false, problems: [`no manifest for ${commit}`] };
  const wanted = Object.keys(manifest.files).map(keyOf);
  const present = new Set((await hosting.list()).map((o) => o.key));
  const problems: string[] = [];
  const missing = wanted.filter((k) => !present.has(k));
  if (missing.length) problems.push(`${missing.length} files missing (e.g. ${missing[0]})`);
  if (exact) {
    const wantedSet = new Set(wanted);
    const extra = [...present].filter((k) => !wantedSet.has(k));
    if (extra.length) problems.push(`${extra.length} stale files left (e.g. ${extra[0]})`);
  }
  const served = await hosting.get('index.html');
  const expected = await artifacts.get(artifactFileKey(app, commit, '/index.html'));
  if (!served || !expected || !served.body.equals(expected.body)) {
    problems.push(`index.html is not the one of ${commit.slice(0, 7)}`);
  }
  return { correct: problems.length === 0, problems };
}
