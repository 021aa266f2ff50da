/**
 * The frontendops tests run with one module graph per worker (vitest.config.ts, isolate: false):
 * what a test file leaves in a module is there for the next file of that worker. That holds only
 * while no test file replaces modules (vi.mock and the like, which would then reach other files)
 * or stubs globals without putting them back. This keeps it so, but for the files the root
 * configuration runs each in a module graph of its own (OWN_PROCESS).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OWN_PROCESS } from '../vitest.config.ts';

const TESTS = fileURLToPath(new URL('../packages/frontendops/test/', import.meta.url));
const LEAKING = /\bvi\s*\.\s*(mock|doMock|unmock|stubGlobal|stubEnv|useFakeTimers|resetModules)\s*\(/;

describe('frontendops test files sharing a worker', () => {
  it('replace no module and stub no global', () => {
    const files = readdirSync(TESTS, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(50);
    const shared = files.filter((file) => !OWN_PROCESS.includes(`test/${file}`));
    expect(shared.length).toBe(files.length - OWN_PROCESS.length);
    const offending = shared.filter((file) => LEAKING.test(readFileSync(join(TESTS, file), 'utf8')));
    expect(offending).toEqual([]);
  });
});
