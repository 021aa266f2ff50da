import { describe, expect, it, vi } from 'vitest';
import { installPreloadRecovery, RELOAD_GUARD_KEY, RELOAD_GUARD_MS } from './preload-recovery.ts';

// Vite dispatches a cancelable `vite:preloadError` event on window when a lazy chunk fails to load.
const firePreloadError = () => {
  const event = new Event('vite:preloadError', { cancelable: true });
  window.dispatchEvent(event);
  return event;
};

const setup = (now: () => number = () => 1_000_000) => {
  const reload = vi.fn();
  const uninstall = installPreloadRecovery({ target: window, storage: window.sessionStorage, reload, now });
  return { reload, uninstall };
};

describe('installPreloadRecovery', () => {
  it('reloads once and records the guard in sessionStorage', () => {
    const { reload, uninstall } = setup();
    const event = firePreloadError();
    expect(reload).toHaveBeenCalledTimes(1);
    expect(event.defaultPrevented).toBe(true);
    expect(window.sessionStorage.getItem(RELOAD_GUARD_KEY)).toBe('1000000');
    uninstall();
  });

  it('does not reload again when the reloaded page fails too', () => {
    const first = setup();
    firePreloadError();
    first.uninstall();
    // The reload starts a fresh page: a new install over the same session storage.
    const second = setup(() => 1_000_000 + 5_000);
    const event = firePreloadError();
    firePreloadError();
    expect(second.reload).not.toHaveBeenCalled();
    expect(event.defaultPrevented).toBe(false); // so the error reaches the route's error boundary
    second.uninstall();
  });

  it('reloads again for a later release once the guard window has passed', () => {
    let clock = 1_000_000;
    const { reload, uninstall } = setup(() => clock);
    firePreloadError();
    clock += RELOAD_GUARD_MS + 1;
    firePreloadError();
    expect(reload).toHaveBeenCalledTimes(2);
    uninstall();
  });

  it('never reloads when the guard cannot be stored', () => {
    const reload = vi.fn();
    const storage = {
      getItem: () => null,
      setItem: () => {
        throw new DOMException('quota', 'QuotaExceededError');
      },
    };
    const uninstall = installPreloadRecovery({ target: window, storage, reload });
    firePreloadError();
    expect(reload).not.toHaveBeenCalled();
    uninstall();
  });

  it('stops listening once uninstalled', () => {
    const { reload, uninstall } = setup();
    uninstall();
    firePreloadError();
    expect(reload).not.toHaveBeenCalled();
  });
});
