// This package's own PyTorch 1.13.1 reference cases (test/fixtures, made by generate_fixtures.py there), in the shared fixture format.
import { readFileSync } from "node:fs";
import type { Fixture } from "@normgrad/testing";

/** The cases of one file in test/fixtures, e.g. "max-pool-ties.json". */
export function loadLocalFixtures(file: string): Fixture[] {
  const parsed: { source: string; cases: Fixture[] } = JSON.parse(
    readFileSync(new URL(`./fixtures/${file}`, import.meta.url), "utf8"),
  );
  if (!Array.isArray(parsed.cases) || parsed.cases.length === 0) {
    throw new Error(`test/fixtures/${file} holds no cases`);
  }
  return parsed.cases;
}
