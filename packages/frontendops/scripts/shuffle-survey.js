#!/usr/bin/env node
/**
 * Which test files depend on the order of their tests: runs each file on its own with its tests
 * shuffled (vitest --sequence.shuffle) under a few seeds, one run at a time, and says which files
 * failed, under which seed, and which tests.
 *
 *   node scripts/shuffle-survey.js [--seeds 1,2,3] [files or directories under test/ …]
 *
 * Without files: every test file with more than one test. Run from packages/frontendops; it needs
 * what the suite needs (npm run build first: some tests spawn the CLI).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
let seeds = [1, 2, 3];
const given = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--seeds') seeds = String(args[++i]).split(',').map(Number);
  else given.push(args[i]);
}

const testFiles = (path) =>
  statSync(path).isDirectory()
    ? readdirSync(path).flatMap((entry) => (entry === 'fixtures' ? [] : testFiles(join(path, entry))))
    : path.endsWith('.test.ts')
      ? [path]
      : [];
// More than one test: `it(`, `test(` or an `it.each(` table, counted from the source.
const multi = (file) => (readFileSync(file, 'utf8').match(/^\s*(it|test)(\.each\(|\()/gm) ?? []).length > 1;
const files = (given.length > 0 ? given : ['test']).flatMap(testFiles).filter(multi).sort();

const out = mkdtempSync(join(tmpdir(), 'shuffle-survey-'));
const failing = [];
for (const file of files) {
  for (const seed of seeds) {
    const report = join(out, 'report.json');
    const run = spawnSync(
      'npx',
      [
        'vitest',
        'run',
        file,
        '--sequence.shuffle',
        `--sequence.seed=${seed}`,
        '--reporter=json',
        `--outputFile=${report}`,
      ],
      { encoding: 'utf8' },
    );
    let failed = [];
    try {
      const json = JSON.parse(readFileSync(report, 'utf8'));
      failed = json.testResults.flatMap((r) =>
        r.assertionResults.filter((a) => a.status === 'failed').map((a) => a.fullName),
      );
      if (failed.length === 0 && run.status !== 0)
        failed = [`(the file failed: ${json.testResults[0]?.message ?? ''})`];
    } catch {
      failed = [`(no report: exit ${run.status}) ${run.stderr.slice(-300)}`];
    }
    rmSync(report, { force: true });
    const line = `${file} seed ${seed}: ${failed.length === 0 ? 'ok' : `${failed.length} failed`}`;
    process.stdout.write(`${line}\n`);
    if (failed.length > 0) failing.push({ file, seed, failed });
  }
}
rmSync(out, { recursive: true, force: true });
process.stdout.write(`\n${files.length} files, seeds ${seeds.join(', ')}: ${failing.length} failing runs\n`);
for (const { file, seed, failed } of failing)
  process.stdout.write(`${file} (seed ${seed}):\n${failed.map((name) => `  ${name}\n`).join('')}`);
process.exitCode = failing.length > 0 ? 1 : 0;
