// Vitest setup for the whole workspace, plus the one-line summary CI reads.

import { defaultClientConditions, defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";
import type { TestModule } from "vitest/node";
import type { Reporter } from "vitest/reporters";

/** Prints `N passed, N failed, N skipped` alone on the last line, and fails the run when no test ran. */
class SummaryLineReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const testModule of testModules) {
      for (const testCase of testModule.children.allTests()) {
        const state = testCase.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    if (passed + failed === 0) {
      process.stdout.write("no test ran: failing the run\n");
      process.exitCode = 1;
    }
  }
}

/** Inside the workspace, packages resolve to their TypeScript sources (no build needed); see docs/architecture.md. */
const SOURCE_CONDITION = "@normgrad/source";

export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
  test: {
    include: [
      "packages/*/test/**/*.test.ts",
      "examples/*/test/**/*.test.ts",
      "benchmarks/test/**/*.test.ts",
      "docs/test/**/*.test.ts",
    ],
    reporters: ["default", new SummaryLineReporter()],
    testTimeout: 60_000,
    pool: "forks",
  },
});
