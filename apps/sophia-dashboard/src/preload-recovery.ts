/**
 * After a deploy, an open tab may ask for a lazy chunk of the release it was loaded from. The deploy
 * keeps recent releases' assets, but if one is gone anyway Vite fires `vite:preloadError`; the fix
 * is to load the current release — once. The sessionStorage guard stops a reload loop when the
 * reloaded page fails too (then the error reaches the route's error boundary instead).
 */
export const RELOAD_GUARD_KEY = 'sophia:preload-reload-at';

/** A reload within this window after the previous one is not retried. */
export const RELOAD_GUARD_MS = 60_000;

export type PreloadRecoveryDeps = {
  target: Pick<Window, 'addEventListener' | 'removeEventListener'>;
  storage: Pick<Storage, 'getItem' | 'setItem'>;
  reload: () => void;
  now?: () => number;
};

/** Installs the handler; returns a function that removes it. */
export function installPreloadRecovery(deps: PreloadRecoveryDeps): () => void {
  const now = deps.now ?? Date.now;
  const onPreloadError = (event: Event) => {
    const last = Number(readGuard(deps.storage));
    if (Number.isFinite(last) && last > 0 && now() - last < RELOAD_GUARD_MS) return;
    try {
      deps.storage.setItem(RELOAD_GUARD_KEY, String(now()));
    } catch {
      // Storage full or blocked: without a guard a reload could loop, so let the error surface.
      return;
    }
    event.preventDefault(); // tells Vite not to rethrow: the reload takes over
    deps.reload();
  };
  deps.target.addEventListener('vite:preloadError', onPreloadError);
  return () => deps.target.removeEventListener('vite:preloadError', onPreloadError);
}

function readGuard(storage: PreloadRecoveryDeps['storage']): string | null {
  try {
    return storage.getItem(RELOAD_GUARD_KEY);
  } catch {
    return null;
  }
}
