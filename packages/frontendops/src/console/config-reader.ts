/**
 * The configuration as a long-running console (under `console` or `dev`) uses it: read again from
 * its file at each request, so a stack made protected (or given approvers) shows, and is held to
 * that, at once, not after a restart. The same object comes back while the content is the same, so
 * whoever opened stacks with it can tell when to open them again. A file that is not valid now is
 * refused in words at each request, the console staying up: it neither shows nor changes anything
 * under a configuration the file no longer says.
 */
import type { Config } from '../config.ts';
import { FrontendOpsError, isFrontendOpsError } from '../errors.ts';

export type ConfigReader = () => Promise<Config>;

/** `load` reads and checks the file (config.ts loadConfig); without it, `initial` for good. */
export function createConfigReader(initial: Config, load?: () => Promise<Config>): ConfigReader {
  if (!load) return async () => initial;
  let last = { config: initial, text: JSON.stringify(initial) };
  // Reads overlap (a page asks for several things at once). Only a read that started after the one
  // whose result is kept may replace it: a slow read of the file as it was before an edit must not
  // put back the configuration a later read already replaced.
  let started = 0;
  let kept = 0;
  return async () => {
    const mine = ++started;
    let config: Config;
    try {
      config = await load();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new FrontendOpsError(
        isFrontendOpsError(error) ? error.code : 'BAD_INPUT',
        `The configuration was edited and cannot be used: ${why} The console shows and changes nothing until it is fixed; it reads the file again at each request.`,
      );
    }
    if (mine < kept) return last.config;
    kept = mine;
    const text = JSON.stringify(config);
    if (text !== last.text) last = { config, text };
    return last.config;
  };
}
