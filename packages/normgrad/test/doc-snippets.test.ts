// Every TypeScript sample in the README and the guides type-checks and runs, so the docs cannot drift from the code.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const WORKSPACE = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * The Markdown files whose samples are checked, and the package folder each sample is written
 * into (so its imports resolve the way that package's would).
 */
const DOCUMENTS: readonly { file: string; packageFolder: string }[] = [
  { file: "README.md", packageFolder: "packages/normgrad" },
  { file: "packages/normgrad/README.md", packageFolder: "packages/normgrad" },
  ...["getting-started", "autograd", "data-parallel", "gpu", "modules", "normalization", "training"].map(
    (name) => ({
      file: `docs/${name}.md`,
      packageFolder: "packages/normgrad",
    }),
  ),
  { file: "examples/plot/README.md", packageFolder: "examples/plot" },
];

/**
 * How a sample is checked, from an HTML comment on the line before its fence:
 * - none: a whole program, type-checked and run;
 * - `<!-- snippet: continues -->`: appended to the sample before it (same file), then checked as one;
 * - `<!-- snippet: browser -->`: type-checked only (it needs a browser; the consumer test runs the README's);
 * - `<!-- snippet: excerpt of <path> -->`: quoted source; every line must appear in that file.
 */
type SampleKind =
  | { kind: "program" }
  | { kind: "continues" }
  | { kind: "browser" }
  | { kind: "excerpt"; path: string };

interface Sample {
  document: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  check: SampleKind;
}

function kindOf(comment: string | undefined): SampleKind {
  if (comment === undefined) return { kind: "program" };
  const excerpt = /^excerpt of (\S+)$/.exec(comment);
  if (excerpt !== null) return { kind: "excerpt", path: excerpt[1] };
  if (comment === "continues") return { kind: "continues" };
  if (comment === "browser") return { kind: "browser" };
  throw new Error(`unknown snippet comment "${comment}"`);
}

function samplesOf(document: string): Sample[] {
  const text = readFileSync(join(WORKSPACE, document), "utf8");
  const samples: Sample[] = [];
  for (const match of text.matchAll(/(?:<!-- snippet: ([^>]*?) -->\n)?```ts\n([\s\S]*?)```/g)) {
    const line = text.slice(0, match.index + match[0].indexOf("```ts")).split("\n").length;
    samples.push({ document, line, code: match[2], check: kindOf(match[1]) });
  }
  return samples;
}

/** A program per sample that runs or type-checks, with `continues` samples folded into the one before. */
interface Program {
  name: string;
  samples: Sample[];
  runs: boolean;
  packageFolder: string;
}

function programsOf(document: string, packageFolder: string): Program[] {
  const programs: Program[] = [];
  for (const sample of samplesOf(document)) {
    if (sample.check.kind === "excerpt") continue;
    const previous = programs.at(-1);
    if (sample.check.kind === "continues") {
      if (previous === undefined)
        throw new Error(`${document}:${sample.line}: "continues" has nothing before it`);
      previous.samples.push(sample);
      continue;
    }
    const name = `${document.replaceAll("/", "-").replace(/\.md$/, "")}-line-${sample.line}`;
    programs.push({ name, samples: [sample], runs: sample.check.kind === "program", packageFolder });
  }
  return programs;
}

const programs = DOCUMENTS.flatMap(({ file, packageFolder }) => programsOf(file, packageFolder));
const folders = [
  ...new Set(programs.map((program) => join(WORKSPACE, program.packageFolder, "test", "output", "snippets"))),
];
for (const folder of folders) {
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
}

function fileOf(program: Program): string {
  return join(WORKSPACE, program.packageFolder, "test", "output", "snippets", `${program.name}.ts`);
}

for (const program of programs) {
  // `export {}` makes each sample a module (top-level await; no names shared between samples).
  writeFileSync(fileOf(program), `${program.samples.map((sample) => sample.code).join("\n")}\nexport {};\n`);
}

const workingFolder = mkdtempSync(join(tmpdir(), "normgrad-snippets-"));
afterAll(() => rmSync(workingFolder, { recursive: true, force: true }));

describe("code samples in the README and the guides", () => {
  it("type-check (strict, as the workspace)", () => {
    const config = join(folders[0], "tsconfig.json");
    writeFileSync(
      config,
      JSON.stringify({
        extends: relative(dirname(config), join(WORKSPACE, "tsconfig.base.json")),
        compilerOptions: { lib: ["ES2023", "ESNext.Disposable", "DOM"] },
        files: programs.map((program) => relative(dirname(config), fileOf(program))),
      }),
    );
    const tsc = join(WORKSPACE, "node_modules", ".bin", "tsc");
    let output = "";
    try {
      execFileSync(tsc, ["-p", config], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      output = error instanceof Error && "stdout" in error ? String(error.stdout) : String(error);
    }
    expect(output).toBe("");
  }, 120_000);

  it.each(programs.filter((program) => program.runs).map((program) => [program.name, program] as const))(
    "%s runs",
    (_, program) => {
      const loader = import.meta.resolve("tsx");
      execFileSync(process.execPath, ["--conditions=@normgrad/source", "--import", loader, fileOf(program)], {
        cwd: workingFolder,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NO_COLOR: "1" },
      });
    },
    300_000,
  );

  it.each(
    DOCUMENTS.flatMap(({ file }) => samplesOf(file))
      .filter((sample) => sample.check.kind === "excerpt")
      .map((sample) => [`${sample.document}:${sample.line}`, sample] as const),
  )("the excerpt at %s matches its source", (_, sample) => {
    if (sample.check.kind !== "excerpt") return;
    // Whitespace aside; a trailing `// comment` is the guide's annotation, not the source's.
    const squeeze = (line: string) =>
      line
        .replace(/\s+\/\/ .*$/, "")
        .replace(/\s+/g, " ")
        .trim();
    const source = readFileSync(join(WORKSPACE, sample.check.path), "utf8").split("\n").map(squeeze);
    const missing = sample.code
      .split("\n")
      .map(squeeze)
      .filter((line) => line !== "" && !source.some((sourceLine) => sourceLine.includes(line)));
    expect(missing).toEqual([]);
  });
});
