// `pnpm bench:report`: writes benchmarks/RESULTS.md from benchmarks/results/*.json and benchmarks/peers/*.json.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { HARDWARE_LIMITS_FILE, readHardwareLimits, readResultDirectory } from "./read-result-files.ts";
import { buildReport } from "./report-tables.ts";

const packageRoot = path.resolve(import.meta.dirname, "..");
const { values } = parseArgs({
  options: { results: { type: "string" }, peers: { type: "string" }, out: { type: "string" } },
});
const resultsDirectory = path.resolve(values.results ?? path.join(packageRoot, "results"));
const peersDirectory = path.resolve(values.peers ?? path.join(packageRoot, "peers"));
const outFile = path.resolve(values.out ?? path.join(packageRoot, "RESULTS.md"));

const markdown = buildReport({
  normgrad: readResultDirectory(resultsDirectory, "normgrad"),
  peers: readResultDirectory(peersDirectory, "peer"),
  limits: readHardwareLimits(path.join(peersDirectory, HARDWARE_LIMITS_FILE)),
  generatedAt: new Date().toISOString(),
});
writeFileSync(outFile, markdown);
console.log(`wrote ${outFile}`);
