/** readLiveState: gathers what planDeploy needs — the hosting bucket's keys and the retained releases. */

import { artifactKeyProblem, shortened, sitePathProblem } from '../engine/manifest.ts';
import type { LiveState, Release } from '../engine/plan.ts';
import type { Manifest } from '../engine/types.ts';
import { badInput, FrontendOpsError } from '../errors.ts';
import type { Site } from '../site.ts';
import type { PendingDeploy } from '../state/records.ts';
import { readManifest, validateArtifactId } from './publish.ts';

export async function readLiveState(
  site: Site,
  pending: PendingDeploy | null,
): Promise<LiveState & { etag: string | null }> {
  // The retained releases' manifests are read while the hosting bucket is still being listed.
  const [listing, { pointer, releases }] = await Promise.all([site.hosting.list(), readRetained(site)]);
  const uncertain = pending && !pending.pointerMoved ? pending.plan.copies.map((c) => c.key) : [];
  return {
    hosting: new Map(listing.map((o) => [o.key, o.size])),
    releases,
    uncertainKeys: new Set(uncertain),
    etag: pointer?.etag ?? null,
  };
}

/** The live pointer and the releases it retains, each with its manifest. */
async function readRetained(site: Site) {
  const pointer = await site.records.readPointer();
  const releases = await Promise.all(
    (pointer?.value.releases ?? []).map(async (ref): Promise<Release | null> => {
      const manifest = await readManifest(site.artifacts, ref.app, ref.commit);
      return manifest && { ...ref, manifest };
    }),
  );
  // A release whose artifact is gone (lifecycle rule) no longer protects any file.
  return { pointer, releases: releases.filter((release) => release !== null) };
}

/** The artifact's manifest; NOT_FOUND (with what to do) when the commit was never published. */
export async function requireManifest(site: Site, app: string, commit: string): Promise<Manifest> {
  validateArtifactId(app, commit);
  const manifest = await readManifest(site.artifacts, app, commit);
  if (!manifest) {
    throw new FrontendOpsError(
      'NOT_FOUND',
      `No build of ${app} is published for commit ${commit}. Publish it first (frontendops publish <dir> --app ${app} --commit ${commit}), or pick a published commit.`,
    );
  }
  if (manifest.app !== app || manifest.commit !== commit) {
    throw badInput(
      `The manifest for ${app}@${commit} names ${manifest.app}@${manifest.commit}; the artifact is corrupt. Publish it again under a new commit.`,
    );
  }
  // Publish refuses such paths; a manifest from an older version, or an edited one, may still hold one.
  for (const path of Object.keys(manifest.files)) {
    const problem = sitePathProblem(path) ?? artifactKeyProblem(app, commit, path);
    if (problem) {
      throw badInput(
        `The manifest of ${app}@${commit.slice(0, 7)} names the file ${shortened(path)}, which cannot be deployed: ${problem}. ` +
          'Nothing was copied. The artifact was published by another version of FrontendOps or changed since: publish the build again under a new commit, with that path shortened.',
      );
    }
  }
  return manifest;
}
