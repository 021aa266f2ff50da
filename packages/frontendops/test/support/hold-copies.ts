/**
 * A site whose copies into the hosting bucket wait until release(): a change stopped at an exact
 * point of its copying (the interrupt tests). `reached` resolves when the first copy arrives;
 * `copied` lists the keys whose copy reached the store.
 */
import type { Site } from '../../src/site.ts';

export function holdCopies(site: Site, options: { only: 'first' | 'every' } = { only: 'first' }) {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let arrive = () => {};
  const reached = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const copied: string[] = [];
  let held = false;
  const hosting = {
    ...site.hosting,
    copyFrom: async (...args: Parameters<Site['hosting']['copyFrom']>) => {
      if (options.only === 'every' || !held) {
        held = true;
        arrive();
        await released;
      }
      const answer = await site.hosting.copyFrom(...args);
      copied.push(args[1]);
      return answer;
    },
  };
  return { site: { ...site, hosting } as Site, reached, release, copied };
}
