// `typeof` keeps this safe where no `define` ran (a bare type-check or an unconfigured test).
export const buildCommit: string = typeof __SOPHIA_COMMIT__ === 'string' ? __SOPHIA_COMMIT__ : 'development';

/** Git-style short form for display; the full commit stays available in the title attribute. */
export const shortCommit = (commit: string): string =>
  /^[0-9a-f]{40}$/.test(commit) ? commit.slice(0, 7) : commit;
