// The line budget (tinygrad keeps one): lines of code per package's src/, failing when a package outgrows its budget.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Lines of code allowed per package (set in session 3 at the measured count plus about 15 %;
 * docs/architecture.md explains when to raise one, and lists each raise with its reason). Lines of code: not blank, not only a comment.
 */
const BUDGETS = {
  core: 9000,
  nn: 6000,
  optim: 1700,
  data: 600,
  train: 1050,
  gpu: 2600,
  normgrad: 20,
  testing: 1200,
};

/** Every .ts file below `folder`. */
function sourceFiles(folder) {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Lines that hold code: blank lines, `//` lines and the lines of `/* … *\/` blocks do not count. */
function linesOfCode(text) {
  let inBlock = false;
  let count = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (inBlock) {
      if (line.includes("*/")) inBlock = false;
      continue;
    }
    if (line === "" || line.startsWith("//")) continue;
    if (line.startsWith("/*")) {
      inBlock = !line.includes("*/");
      continue;
    }
    count++;
  }
  return count;
}

const root = new URL("../packages/", import.meta.url);
let over = 0;
const rows = Object.entries(BUDGETS).map(([name, budget]) => {
  const lines = sourceFiles(join(root.pathname, name, "src")).reduce(
    (total, file) => total + linesOfCode(readFileSync(file, "utf8")),
    0,
  );
  if (lines > budget) over++;
  return `${name.padEnd(9)} ${String(lines).padStart(6)} / ${String(budget).padStart(6)}${lines > budget ? "  OVER BUDGET" : ""}`;
});
const unlisted = readdirSync(root).filter((name) => !(name in BUDGETS));
process.stdout.write(`lines of code per package (src/, budget)\n${rows.join("\n")}\n`);
if (unlisted.length > 0) {
  process.stdout.write(
    `packages without a budget: ${unlisted.join(", ")} (add them to scripts/line-budget.mjs)\n`,
  );
}
if (over > 0 || unlisted.length > 0) {
  process.stdout.write(
    "over the line budget: simplify, or raise the budget in scripts/line-budget.mjs with a reason in docs/architecture.md\n",
  );
  process.exitCode = 1;
}
