/**
 * What a person types is checked before anything runs: an empty value, a number written any way
 * but in decimal digits, a repeated -C, text with characters that change how it reads, a port in
 * use or a host that does not resolve are user mistakes — exit 2, what was wrong, what was expected
 * and what to do, no stack trace, nothing changed. And output piped into `head` ends quietly.
 */

import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePercent, parseWholeNumber } from '../../src/cli/context.ts';
import { deployArtifact } from '../../src/deploy/deploy.ts';
import { startCli } from '../support/cli.ts';
import { publishAsCi, startDeployEnv, type TestDeployEnv } from '../support/deploy-env.ts';
import { writeFixtureBuild } from '../support/fixture-build.ts';
import { cli } from '../support/run-cli.ts';

const APP = 'sophia-dashboard';
const C1 = '1111111111111111111111111111111111111111';
const C2 = '2222222222222222222222222222222222222222';
const TOKEN = 'a-token-of-thirty-two-characters-or-more-0123456789';

let t: TestDeployEnv;
let outputs: string;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  t = await startDeployEnv({ stack: 'dashboard-input' });
  for (const [commit, version] of [
    [C1, 'v1'],
    [C2, 'v2'],
  ] as const) {
    const build = await writeFixtureBuild(join(t.tmp, version), { version });
    await publishAsCi(t.site, { dir: build.dir, app: APP, commit });
    await deployArtifact(t.site, {
      app: APP,
      commit,
      request: { text: `deploy ${version}`, actor: 'ada', planner: 'cli', at: new Date().toISOString() },
    });
  }
  outputs = await t.writeOutputs({ cdn: true });
  env = { ...t.cliEnv(), AWS_REGION: 'us-east-1', FRONTENDOPS_ACTOR: 'ada', FRONTENDOPS_MODEL: undefined };
});
afterAll(async () => {
  await t?.stop();
});

const run = (argv: string[], extra: Record<string, string> = {}) =>
  cli(argv, { env: { ...env, ...extra }, cwd: t.tmp });

const live = async () => (await t.site.records.readPointer())?.value.deployId;
const pinned = async () => {
  const status = await run(['status', '--stack', outputs, '--json']);
  expect(status.code, status.stderr).toBe(0);
  return JSON.parse(status.stdout).pin;
};

/** A refusal for a person: exit 2, one clear message, no stack trace, not called a bug. */
function expectRefused(result: { code: number; stderr: string }, message: RegExp): void {
  expect([result.code, result.stderr]).toEqual([2, expect.stringMatching(message)]);
  expect(result.stderr).not.toMatch(/\n\s+at |looks like a bug/);
}

describe('an empty value is refused, naming the option and what it expects', () => {
  it('rollback --to "" does not roll back to the previous release', async () => {
    const before = await live();
    for (const empty of ['', '  ']) {
      const refused = await run(['rollback', '--stack', outputs, '--to', empty, '--yes']);
      expectRefused(
        refused,
        /--to <deployId\|commit\|tag> is empty: expected a value — the deployment, commit or tag/,
      );
      expect(refused.stderr).toMatch(/Nothing was done/);
    }
    const inline = await run(['rollback', '--stack', outputs, '--to=', '--yes']);
    expectRefused(inline, /--to <deployId\|commit\|tag> is empty/);
    expect(await live()).toBe(before);
  });

  it('pin --to "", promote "", history --before "", -C "" and console --stack ""', async () => {
    const before = await live();
    expectRefused(await run(['pin', '--stack', outputs, '--to', '']), /--to <deployId\|commit> is empty/);
    expect(await pinned()).toBeNull();
    expectRefused(
      await run(['promote', '', '--stack', outputs, '--yes']),
      /The argument \[release\] is empty: expected commit \(a short sha is enough\), deploy id or tag/,
    );
    expectRefused(
      await run(['history', '--stack', outputs, '--before', ' ']),
      /--before <cursor> is empty: expected a value — the next page/,
    );
    expectRefused(await run(['-C', '', 'status', '--stack', outputs]), /-C, --directory <dir> is empty/);
    expectRefused(await run(['status', '--stack', '']), /--stack <ref> is empty: expected a value — stack/);
    expectRefused(await run(['console', '--stack', outputs, '--stack', '']), /--stack <ref> is empty/);
    expect(await live()).toBe(before);
  });

  it('console --stack <unknown> is refused at start, as the other commands refuse it', async () => {
    let served = false;
    const refused = await cli(['console', '--new', '--stack', outputs, '--stack', 'nosuch', '--port', '0'], {
      env,
      cwd: t.tmp,
      stopped: Promise.resolve(),
      onStdout: (text) => {
        served ||= /FrontendOps console: http/.test(text);
      },
    });
    expectRefused(refused, /^error: Unknown stack "nosuch" \(known: [^)]*\)\. Nothing was created\./);
    expect(served).toBe(false);
  });

  it('promote <not a release> names what promote takes, not "a commit sha"', async () => {
    const before = await live();
    // No git repository here: a tag cannot be read, and it says where one can.
    const refused = await run(['promote', 'v1.4.2', '--stack', outputs, '--yes']);
    expectRefused(
      refused,
      /"v1\.4\.2" is not a release promote can take: expected a deploy id as `frontendops history` shows it.*a commit sha.*or a tag of the git repository.*there is no git repository here to read a tag from\. Nothing was changed\..*pass --repo <dir> or --github <owner\/repo>/,
    );
    expect(refused.stderr).not.toMatch(/not a commit sha/);
    expect(await live()).toBe(before);
  });

  it("defaultStack names an outputs file in a subdirectory, from the configuration's directory", async () => {
    // The configuration lives elsewhere (FRONTENDOPS_CONFIG): its paths are read from where it is.
    const dir = join(t.tmp, 'elsewhere');
    await mkdir(join(dir, 'stacks'), { recursive: true });
    await copyFile(outputs, join(dir, 'stacks', 'prod.json'));
    const config = join(dir, 'frontendops.config.json');
    await writeFile(config, JSON.stringify({ defaultStack: 'stacks/prod.json' }));
    const status = await run(['status', '--json'], { FRONTENDOPS_CONFIG: config });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).live.deployId).toBe(await live());
  });

  it('FRONTENDOPS_STACK set but empty is refused, never read as "not given" (the default stack)', async () => {
    // A configuration whose default stack is this one: an empty variable read as "not given" pinned it.
    const config = join(t.tmp, 'default-stack.config.json');
    await writeFile(
      config,
      JSON.stringify({
        defaultStack: 'fallback',
        stacks: { fallback: { backend: 'outputs', file: outputs } },
      }),
    );
    for (const empty of ['', ' ']) {
      const refused = await run(['pin', '--message', 'freeze'], {
        FRONTENDOPS_STACK: empty,
        FRONTENDOPS_CONFIG: config,
      });
      expectRefused(refused, /FRONTENDOPS_STACK is set but empty: expected a stack name.*Nothing was done/s);
      expectRefused(
        await run(['agent', 'pin the live release', '--yes'], {
          FRONTENDOPS_STACK: empty,
          FRONTENDOPS_CONFIG: config,
        }),
        /FRONTENDOPS_STACK is set but empty/,
      );
    }
    expect(await pinned()).toBeNull();
  });
});

describe('FRONTENDOPS_MODEL set but empty', () => {
  it('is refused as FRONTENDOPS_STACK is, never read as "no model" (the runbook planner)', async () => {
    for (const empty of ['', ' ']) {
      const refused = await run(['agent', 'pin the live release', '--stack', outputs, '--yes'], {
        FRONTENDOPS_MODEL: empty,
      });
      expectRefused(
        refused,
        /^error: FRONTENDOPS_MODEL is set but empty: expected provider:model, e\.g\. "openai:gpt-4\.1"\. Nothing was done: set it to the model, or unset it \(`unset FRONTENDOPS_MODEL`\) to use the runbook planner\./,
      );
    }
    expect(await pinned()).toBeNull();
  });
});

describe('numbers are plain decimal digits', () => {
  it('--limit, --hours and --wait refuse hex, exponents, fractions, signs and spaces', async () => {
    for (const wrong of ['0x2', '1e1', ' 3', '3 ', '+3', '2.0', '']) {
      expectRefused(
        await run(['history', '--stack', outputs, '--limit', wrong]),
        wrong === ''
          ? /--limit <n> is empty/
          : /--limit takes a whole number from 1 to 500, in decimal digits \(e\.g\. 20\); got "/,
      );
      if (wrong === '') continue;
      expectRefused(
        await run(['preview', '--stack', outputs, '--hours', wrong]),
        /--hours takes a whole number from 1 to 168, in decimal digits/,
      );
      expectRefused(
        await run(['pin', '--stack', outputs, '--wait', wrong]),
        /--wait takes a whole number of seconds from 0 to 86400, in decimal digits/,
      );
      // The infra server's --wait, refused before it serves anything.
      expectRefused(
        await run(['mcp', 'infra', '--stack', outputs, '--wait', wrong]),
        /--wait takes a whole number of seconds from 0 to 86400, in decimal digits/,
      );
    }
    expect(await pinned()).toBeNull();
    const listed = await run(['history', '--stack', outputs, '--limit', '1', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).deployments).toHaveLength(1);
  });

  it('--port and --http take decimal port numbers', async () => {
    for (const wrong of ['0x50', '1e3', ' 80', '65536']) {
      expectRefused(
        await run(['console', '--new', '--stack', outputs, '--port', wrong]),
        /--port takes a whole number from 0 to 65535, in decimal digits/,
      );
      expectRefused(
        await run(['mcp', 'infra', '--stack', outputs, '--http', wrong], { FRONTENDOPS_MCP_TOKEN: TOKEN }),
        /--http takes a whole number from 0 to 65535, in decimal digits/,
      );
    }
  });

  it('one parser for them all: decimal digits, a trailing % where a percentage is taken', () => {
    expect([parsePercent('10'), parsePercent('10%'), parsePercent('99')]).toEqual([10, 10, 99]);
    for (const wrong of ['0x10', '1e1', ' 10 ', '10 %', '+10', '12.5', '0', '100', '101', '%', '10%%', '']) {
      expect(() => parsePercent(wrong), wrong).toThrow(
        /^--canary takes a whole percentage from 1 to 99, in decimal digits \(e\.g\. 10 or 10%\); 100% is every visitor.*; got "/,
      );
    }
    expect(parseWholeNumber('007', '--limit', { min: 1, max: 500 })).toBe(7);
    expect(() => parseWholeNumber('99999999999999999999', '--limit', { min: 1, max: 500 })).toThrow(
      /--limit takes a whole number from 1 to 500/,
    );
  });

  // Needs src/cli/commands/deploy.ts to parse --canary with parsePercent from context.ts.
  it('--canary takes a whole percentage in decimal digits', async () => {
    for (const wrong of ['0x10', '1e1', ' 10 ', '10 %', '+10']) {
      expectRefused(
        await run(['deploy', '--stack', outputs, '--commit', C2, '--canary', wrong]),
        /--canary takes a whole percentage from 1 to 99/,
      );
    }
  });
});

describe('text that reads differently than it is', () => {
  it('--message with a right-to-left override or a zero-width space is refused, naming it', async () => {
    for (const [hidden, named] of [
      ['\u202e', /U\+202E \(RIGHT-TO-LEFT OVERRIDE\)/],
      ['\u200b', /U\+200B \(ZERO WIDTH SPACE\)/],
      ['\u2066', /U\+2066 \(LEFT-TO-RIGHT ISOLATE\)/],
    ] as const) {
      const refused = await run(['pin', '--stack', outputs, '--message', `freeze ${hidden}tidua eht`]);
      expectRefused(refused, named);
      expect(refused.stderr).toMatch(/Invalid --message: .*changes how the text reads/);
    }
    expect(await pinned()).toBeNull();
  });

  it('an actor name from FRONTENDOPS_ACTOR is checked the same way', async () => {
    const refused = await run(['pin', '--stack', outputs], { FRONTENDOPS_ACTOR: 'ada\u202e' });
    expectRefused(refused, /FRONTENDOPS_ACTOR .*U\+202E/);
    // Recorded with every change, in pin.json and the audit chain: a name, not a document.
    expectRefused(
      await run(['pin', '--stack', outputs], { FRONTENDOPS_ACTOR: 'a'.repeat(100_000) }),
      /Invalid FRONTENDOPS_ACTOR .*100000 characters long, more than the 200 a name may have/,
    );
    expect(await pinned()).toBeNull();
  });
});

describe('help and -C', () => {
  it('help <unknown> says the command is unknown, and what it may have meant', async () => {
    const unknown = await run(['help', 'frob']);
    expectRefused(unknown, /^error: unknown command 'frob'\n/);
    expect(unknown.stdout + unknown.stderr).not.toMatch(/Commands:/);
    expectRefused(await run(['help', 'stauts']), /unknown command 'stauts'\n\(Did you mean status\?\)/);
    expectRefused(await run(['help', 'canary', 'frob']), /unknown command 'canary frob'/);
    const known = await run(['help', 'rollback']);
    expect(known.code).toBe(0);
    expect(known.stdout).toMatch(/^Usage: frontendops rollback/);
    const nested = await run(['help', 'canary', 'promote']);
    expect(nested.code).toBe(0);
    expect(nested.stdout).toMatch(/^Usage: frontendops canary promote/);
    const all = await run(['help']);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^Usage: frontendops/);
  });

  it('an option that takes one value, given twice, is refused: the last does not silently win', async () => {
    const before = await live();
    expectRefused(
      await run(['pin', '--stack', join(t.tmp, 'nosuch.json'), '--stack', outputs, '--message', 'freeze']),
      /--stack <ref> was given twice: give it once — stack: a configured name.*Nothing was done/,
    );
    expect(await pinned()).toBeNull();
    expectRefused(
      await run(['rollback', '--stack', outputs, '--to', C1.slice(0, 7), '--to', C2.slice(0, 7), '--yes']),
      /--to <deployId\|commit\|tag> was given twice/,
    );
    expectRefused(
      await run(['pin', '--stack', outputs, '--message', 'a', '--message=b']),
      /--message <text> was given twice/,
    );
    expect(await live()).toBe(before);
    expect(await pinned()).toBeNull();
    // An option made to repeat still does (console --stack collects its stacks): see console tests.
  });

  it('with --json, a command line commander refuses still prints the one error object on stdout', async () => {
    for (const [argv, said] of [
      [['status', '--json', '--bogus'], /unknown option '--bogus'/],
      [['approve', '--json'], /missing required argument 'deployId'/],
    ] as const) {
      const result = await run([...argv]);
      expect(result.code).toBe(2);
      expect(JSON.parse(result.stdout)).toEqual({
        error: { code: 'BAD_INPUT', message: expect.stringMatching(said), exitCode: 2 },
      });
    }
  });

  it('a repeated -C is refused', async () => {
    for (const argv of [
      ['-C', t.tmp, '-C', '/', 'status', '--stack', outputs],
      ['-C', t.tmp, 'status', '--directory', '/', '--stack', outputs],
    ]) {
      expectRefused(await run(argv), /-C .*given twice/);
    }
  });
});

describe('outputs naming a bucket that does not exist', () => {
  it('are said to, never read as "nothing deployed yet" or "no build published"', async () => {
    const written = JSON.parse(await readFile(outputs, 'utf8'));
    const wrong = join(t.tmp, 'no-such-bucket.json');
    await writeFile(
      wrong,
      JSON.stringify({ ...written, artifactsBucket: 'no-such-artifacts', hostingBucket: 'no-such-hosting' }),
    );
    for (const argv of [
      ['status', '--stack', wrong],
      ['deploy', '--stack', wrong, '--commit', C1, '--yes'],
    ]) {
      const result = await run(argv);
      expect(result.code, `${argv[0]}: ${result.stdout}`).toBe(1);
      expect(result.stderr).toMatch(
        /The bucket no-such-\w+ does not exist \(NoSuchBucket\).*Check the stack's outputs/,
      );
      expect(result.stderr).not.toMatch(/nothing deployed|is published|\n\s+at /);
    }
  });
});

describe('a port in use and a host that does not resolve are user mistakes', () => {
  let busy: Server;
  let port: number;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((done) => busy.listen(0, '127.0.0.1', done));
    port = (busy.address() as { port: number }).port;
  });
  afterAll(() => new Promise((done) => busy.close(done)));

  it('console --port and mcp --http on a port in use', async () => {
    const inUse = new RegExp(
      `port ${port} on 127\\.0\\.0\\.1 is in use: pick another, or 0 for any free one`,
    );
    expectRefused(await run(['console', '--new', '--stack', outputs, '--port', String(port)]), inUse);
    expectRefused(
      await run(['mcp', 'infra', '--stack', outputs, '--http', String(port)], {
        FRONTENDOPS_MCP_TOKEN: TOKEN,
      }),
      inUse,
    );
  });

  it('mcp --host that does not resolve', async () => {
    expectRefused(
      await run(['mcp', 'infra', '--stack', outputs, '--http', '0', '--host', 'not a host'], {
        FRONTENDOPS_MCP_TOKEN: TOKEN,
      }),
      /host "not a host" could not be resolved: .*Pass an address of this machine/,
    );
  });
});

describe('output piped into a reader that stops early (| head)', () => {
  /** The real CLI in a process whose stdout (and stderr) reader has gone. */
  async function closedEarly(args: string[], closeStderr = false) {
    const { child, done } = startCli(args, env, t.tmp);
    child.stdout?.destroy();
    if (closeStderr) child.stderr?.destroy();
    return done;
  }

  it('ends quietly: no EPIPE, no stack trace', async () => {
    for (const args of [['deploy', '--help'], ['history', '--stack', outputs], ['--help']]) {
      const ended = await closedEarly(args);
      expect([ended.code, ended.stderr], args.join(' ')).toEqual([0, '']);
    }
    // Its error message has nowhere to go either: the exit code still says what happened.
    expect((await closedEarly(['frob'], true)).code).toBe(2);
  });
});
