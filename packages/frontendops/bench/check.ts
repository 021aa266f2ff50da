/**
 * After each run, is the hosting bucket right?
 * - checkHosting (quick): every file of the deployed commit present and its index.html the
 *   commit's own. With `exact`, nothing else may be left (the peer's --delete); FrontendOps keeps
 *   the objects of earlier releases on purpose, so it is checked without.
 * - checkRelease (thorough, for the fault runs): every file of the release read back and compared
 *   with its manifest entry (sha256 of the bytes, Content-Type, Cache-Control), and every path the
 *   served index.html references belongs to this release.
 */
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
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

export async function checkRelease(
  artifacts: ObjectStore,
  hosting: ObjectStore,
  artifact: { app: string; commit: string },
): Promise<HostingCheck & { files: number }> {
  const manifest = await readManifest(artifacts, artifact.app, artifact.commit);
  if (!manifest) return { correct: false, problems: [`no manifest for ${artifact.commit}`], files: 0 };
  const wrong = { missing: [] as string[], bytes: [] as string[], headers: [] as string[] };
  const limit = pLimit(16);
  let index: Buffer | null = null;
  await Promise.all(
    Object.entries(manifest.files).map(([path, entry]) =>
      limit(async () => {
        const object = await hosting.get(keyOf(path));
        if (!object) return void wrong.missing.push(path);
        if (path === '/index.html') index = object.body;
        if (createHash('sha256').update(object.body).digest('hex') !== entry.sha256) wrong.bytes.push(path);
        else if (object.contentType !== entry.contentType || object.cacheControl !== entry.cacheControl)
          wrong.headers.push(`${path} (${object.contentType}; ${object.cacheControl})`);
      }),
    ),
  );
  const problems = Object.entries(wrong)
    .filter(([, paths]) => paths.length > 0)
    .map(
      ([what, paths]) =>
        `${paths.length} files ${what === 'missing' ? what : `with wrong ${what}`} (e.g. ${paths[0]})`,
    );
  const html = (index as Buffer | null)?.toString('utf8') ?? '';
  const references = [...html.matchAll(/(?:src|href)="(\/[^"]*)"/g)].map((m) => m[1] ?? '');
  const foreign = references.filter((path) => !manifest.files[path]);
  if (foreign.length)
    problems.push(
      `index.html references ${foreign.length} paths of no file of this release (e.g. ${foreign[0]})`,
    );
  if (html && references.length === 0) problems.push('index.html references nothing');
  return { correct: problems.length === 0, problems, files: Object.keys(manifest.files).length };
}
