import type { Reporter, TestModule } from 'vitest/node';

/**
 * Names the test file whose process died mid-run, and the test it was in. Vitest itself only says
 * "Worker exited unexpectedly" (a native crash or an abort in a forked test process) and leaves the
 * file out of its list, so a crash seen once in CI would otherwise name nothing to look at.
 */
export default class UnfinishedFiles implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    for (const m of modules) {
      if (m.state() !== 'pending') continue;
      const tests = [...m.children.allTests()];
      const passed = tests.filter((t) => t.result().state === 'passed').length;
      const at = tests.find((t) => t.result().state === 'pending');
      const file = m.moduleId.replace(`${process.cwd()}/`, '');
      process.stderr.write(
        `\nunfinished: ${file} stopped after ${passed} of ${tests.length} tests passed` +
          (at ? `, in or before "${at.fullName}"` : '') +
          ' (its test process died: see "Worker exited unexpectedly" above)\n',
      );
    }
  }
}
