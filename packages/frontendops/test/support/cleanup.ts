/** Loaded before every test file: whatever the file started is killed when it ends, however it ends. */
import { afterAll } from 'vitest';
import { killAllTracked } from './processes.ts';

afterAll(killAllTracked);
