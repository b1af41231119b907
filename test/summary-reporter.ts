import { appendFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends the run with one plain line, "N passed, N failed, N skipped", that CI systems and
 * humans read the same way whatever the test runner's own formatting is. With
 * SUMMARY_FILE set (scripts/test.sh runs vitest twice), the counts are also appended there,
 * so the script can end with one line for both passes.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    const file = process.env['SUMMARY_FILE'];
    if (file) appendFileSync(file, `${passed} ${failed} ${skipped}\n`);
  }
}
