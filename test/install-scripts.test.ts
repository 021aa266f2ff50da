/**
 * Install scripts, decided once. npm 11 lists, at the end of every install, the dependencies whose
 * install scripts nobody has reviewed (package.json `allowScripts`), and npm 12 skips them. This
 * repository decides each one, so a newcomer's `npm ci` ends quietly and runs the same on both:
 * esbuild's (it checks its native binary and puts it in place of its bin shim) runs; protobufjs's
 * (a version notice, for the Pulumi program's gRPC client) does not. And the tool itself, as another
 * repository installs it, brings no install script at all, so nobody there has anything to approve.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Locked {
  version?: string;
  hasInstallScript?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const read = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'));
const lock: { packages: Record<string, Locked> } = read('../package-lock.json');
const allowScripts: Record<string, boolean> = read('../package.json').allowScripts ?? {};

/** "node_modules/@scope/name" or "a/node_modules/b" → the package's name. */
const nameAt = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

/** The lockfile paths that hold an install script: the workspaces' own packages are ours, not here. */
const scripted = Object.entries(lock.packages)
  .filter(([path, entry]) => path.includes('node_modules/') && entry.hasInstallScript)
  .map(([path, entry]) => ({ name: nameAt(path), version: entry.version ?? '' }));

/** The allowScripts key that decides a package: its name, or its name at the installed version. */
const decision = (name: string, version: string) => allowScripts[`${name}@${version}`] ?? allowScripts[name];

/**
 * What installing the workspace at `root` brings, as npm resolves it: a dependency is found in the
 * nearest node_modules up from the package that needs it (a workspace's own, then the root's).
 */
function runtimeClosure(root: string): Set<string> {
  const seen = new Set<string>();
  const visit = (from: string) => {
    const entry = lock.packages[from];
    const wanted = {
      ...entry?.dependencies,
      ...entry?.optionalDependencies,
      ...entry?.peerDependencies,
    };
    for (const name of Object.keys(wanted)) {
      let dir = from;
      let found: string | undefined;
      for (;;) {
        const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
        if (lock.packages[candidate]) found = candidate;
        if (found || !dir) break;
        // Up to the package whose node_modules holds this one, or to the root.
        const at = dir.lastIndexOf('node_modules/');
        dir = at > 0 ? dir.slice(0, at - 1) : '';
      }
      if (found && !seen.has(found)) {
        seen.add(found);
        visit(found);
      }
    }
  };
  visit(root);
  return seen;
}

describe('install scripts', () => {
  it('of every dependency that has one are decided in package.json allowScripts', () => {
    expect(scripted.map((p) => p.name)).toContain('esbuild'); // the check finds what it looks for
    const undecided = scripted.filter((p) => decision(p.name, p.version) === undefined);
    expect(
      undecided.map((p) => `${p.name}@${p.version}`),
      'decide with `npm install-scripts approve <name>` or `deny <name>`',
    ).toEqual([]);
    expect(decision('esbuild', scripted.find((p) => p.name === 'esbuild')?.version ?? '')).toBe(true);
  });

  it('are decided only for packages still installed', () => {
    const installed = new Set(scripted.map((p) => p.name));
    const stale = Object.keys(allowScripts).filter((key) => !installed.has(key.replace(/(?<=.)@[^@]*$/, '')));
    expect(stale, 'remove these from allowScripts: nothing installed runs them').toEqual([]);
  });

  it('are none in what installing the tool brings to another repository', () => {
    const closure = runtimeClosure('packages/frontendops');
    // The walk reaches the tool's runtime dependencies, and not its build tools.
    expect([...closure]).toEqual(
      expect.arrayContaining([
        'node_modules/@aws-sdk/client-s3',
        'node_modules/@modelcontextprotocol/server',
      ]),
    );
    expect(closure.has('node_modules/esbuild')).toBe(false);
    expect([...closure].filter((path) => lock.packages[path]?.hasInstallScript)).toEqual([]);
  });
});
