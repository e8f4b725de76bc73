import { afterAll } from 'vitest';
import { removeTempDirs } from '../helpers/paths.js';

// Registered before any test file's own hooks, so it runs after them (hooks unwind as a stack):
// servers and child processes a file started are stopped before their directories go.
afterAll(removeTempDirs);
