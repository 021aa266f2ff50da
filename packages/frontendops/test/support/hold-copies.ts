/**
 * A site whose copies into the hosting bucket wait until release(): a change stopped at an exact
 * point of its copying (the interrupt tests, a deploy asleep before its HTML). `reached` resolves when
 * the first held copy arrives; `copied` lists the keys whose copy reached the store. `key`: only the
 * copy of that key is held (once); `after`: it is held once it landed, not before it is sent.
 */
import type { Site } from '../../src/site.ts';
import { heldPoint } from './held-point.ts';

export function holdCopies(
  site: Site,
  options: { only?: 'first' | 'every'; key?: string; after?: boolean } = {},
) {
  const point = heldPoint();
  const copied: string[] = [];
  let held = false;
  const holds = (key: string) => {
    if (options.key !== undefined ? key !== options.key || held : options.only !== 'every' && held)
      return false;
    held = true;
    return true;
  };
  const hosting = {
    ...site.hosting,
    copyFrom: async (...args: Parameters<Site['hosting']['copyFrom']>) => {
      const hold = holds(args[1]);
      if (hold && !options.after) await point.arrive();
      const answer = await site.hosting.copyFrom(...args);
      copied.push(args[1]);
      if (hold && options.after) await point.arrive();
      return answer;
    },
  };
  return { site: { ...site, hosting } as Site, reached: point.reached, release: point.release, copied };
}
