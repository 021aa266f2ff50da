/**
 * What the artifacts bucket's administrator can do and the publisher role cannot: replace a
 * published file and write the build's manifest to match it, so every file is "the manifest's".
 */
import { createHash } from 'node:crypto';
import { artifactFileKey, artifactManifestKey } from '../../src/engine/manifest.ts';
import type { ObjectStore } from '../../src/ports.ts';

export async function replacePublished(
  store: Pick<ObjectStore, 'get' | 'put'>,
  app: string,
  commit: string,
  path: string,
  body: string,
): Promise<void> {
  await store.put(artifactFileKey(app, commit, path), body);
  const key = artifactManifestKey(app, commit);
  const manifest = JSON.parse((await store.get(key))?.body.toString('utf8') ?? '{}');
  manifest.files[path].sha256 = createHash('sha256').update(body).digest('hex');
  manifest.files[path].size = Buffer.byteLength(body);
  await store.put(key, JSON.stringify(manifest));
}
