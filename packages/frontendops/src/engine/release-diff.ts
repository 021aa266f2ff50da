/**
 * What is in a release, for the person who decides: the files that differ from the live release,
 * grouped the way the deploy writes them (hashed assets, other files, HTML) and split into added,
 * changed and removed; and the CDN refresh in words. Pure: manifests in, words out.
 */
import { groupOf } from './cache-policy.ts';
import type { FileGroup, Manifest } from './types.ts';

export interface FileChanges {
  added: string[];
  changed: string[];
  removed: string[];
}

export type ReleaseFiles = Record<FileGroup, FileChanges>;

/** The display order: what people look at first. */
export const GROUP_ORDER: readonly FileGroup[] = ['html', 'asset', 'other'];
export const GROUP_LABEL: Record<FileGroup, string> = {
  html: 'HTML',
  asset: 'hashed assets',
  other: 'other files',
};

/** Files of `to` that `from` (the live release; null before the first deploy) does not have the same. */
export function diffManifests(from: Manifest | null, to: Manifest): ReleaseFiles {
  const files: ReleaseFiles = {
    html: { added: [], changed: [], removed: [] },
    asset: { added: [], changed: [], removed: [] },
    other: { added: [], changed: [], removed: [] },
  };
  const before = from?.files ?? {};
  for (const [path, entry] of Object.entries(to.files)) {
    const old = before[path];
    if (!old) files[groupOf(path)].added.push(path);
    else if (old.sha256 !== entry.sha256) files[groupOf(path)].changed.push(path);
  }
  for (const path of Object.keys(before)) {
    if (!to.files[path]) files[groupOf(path)].removed.push(path);
  }
  for (const group of GROUP_ORDER) {
    for (const list of Object.values(files[group])) list.sort();
  }
  return files;
}

/** "HTML: 1 changed · hashed assets: 2 added, 2 removed · other files: none" as lines, one per group. */
export function describeFiles(files: Record<FileGroup, { added: number; changed: number; removed: number }>) {
  return GROUP_ORDER.map((group) => {
    const c = files[group];
    const parts = [
      c.added ? `${c.added} added` : '',
      c.changed ? `${c.changed} changed` : '',
      c.removed ? `${c.removed} removed` : '',
    ].filter(Boolean);
    return `${GROUP_LABEL[group]}: ${parts.length ? parts.join(', ') : 'no change'}`;
  });
}

/** The invalidation in words: which paths the CDN refreshes, and why the hashed assets need none. */
export function describeInvalidation(paths: readonly string[]): string {
  if (paths.length === 0) {
    return 'No CDN refresh is needed: no file a visitor may have cached changes (new hashed assets have new names).';
  }
  const shown = paths.slice(0, 6).join(', ');
  const more = paths.length > 6 ? ` and ${paths.length - 6} more` : '';
  return (
    `The CDN refreshes ${paths.length} path${paths.length === 1 ? '' : 's'} (${shown}${more}) so visitors get ` +
    'the new copies at once; new hashed assets have new names and need no refresh.'
  );
}
