import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// findBy…/waitFor wait for what a page shows after loading (a lazy route's chunk, fetched data). The
// whole repository's suite runs several files at once on two cores, where a first import of a chunk
// can take more than Testing Library's 1 s default: a busy machine is slow, not wrong.
configure({ asyncUtilTimeout: 10_000 });

// Vitest runs without globals here, so Testing Library cannot register its own cleanup. The build
// and browser tests under test/ run in Node, where there is no window to reset.
afterEach(() => {
  if (typeof window === 'undefined') return;
  cleanup();
  window.sessionStorage.clear();
  window.history.replaceState(null, '', '/');
});
