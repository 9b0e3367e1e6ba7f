// The shared example command line: both pnpm forms, --help, and usage after a bad flag.
import { parseArgs } from "node:util";
import { describe, expect, it } from "vitest";
import { integerFlag, numberFlag, parseCommandLine } from "../src/index.ts";

const USAGE = "Usage: pnpm demo [--steps N]\n";

function integer(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new RangeError(`--steps needs an integer, got "${text}"`);
  return value;
}

const parse = (args: string[]) => {
  const { values } = parseArgs({
    args,
    options: { steps: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  return { help: values.help, steps: integer(values.steps) };
};

describe("parseCommandLine", () => {
  it.each([[["--steps", "30"]], [["--", "--steps", "30"]]])("reads %j", (argv) => {
    expect(parseCommandLine(USAGE, parse, argv)).toEqual({
      kind: "run",
      values: { help: undefined, steps: 30 },
    });
  });

  it.each([[["--help"]], [["-h"]], [["--", "--help"]]])("prints the usage for %j", (argv) => {
    expect(parseCommandLine(USAGE, parse, argv)).toEqual({ kind: "help", text: USAGE, exitCode: 0 });
  });

  it("gives the parser's message, then the usage, for an unknown flag or a bad value", () => {
    const unknown = parseCommandLine(USAGE, parse, ["--stpes", "3"]);
    expect(unknown).toMatchObject({ kind: "error", exitCode: 2 });
    expect(unknown.kind === "error" && unknown.text).toMatch(
      /^Unknown option '--stpes'.*\n\nUsage: pnpm demo/s,
    );
    expect(parseCommandLine(USAGE, parse, ["--steps", "x"])).toEqual({
      kind: "error",
      text: `--steps needs an integer, got "x"\n\n${USAGE}`,
      exitCode: 2,
    });
  });
});

describe("integerFlag and numberFlag", () => {
  it("read absent flags as undefined and numbers as numbers", () => {
    expect([integerFlag("steps", undefined), integerFlag("steps", "30"), numberFlag("lr", "0.1")]).toEqual([
      undefined,
      30,
      0.1,
    ]);
  });

  it("name the flag and the text they refuse", () => {
    expect(() => integerFlag("steps", "1.5")).toThrow('--steps needs an integer, got "1.5"');
    expect(() => numberFlag("lr", "fast")).toThrow('--lr needs a number, got "fast"');
    expect(() => numberFlag("lr", "Infinity")).toThrow('--lr needs a number, got "Infinity"');
  });
});
