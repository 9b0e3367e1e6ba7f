// The examples' command lines: `--help`, the `--` that `pnpm <script> -- --flag` passes through, and usage on a bad flag.

/** What parsing gave: the flags, or the text to print and the exit code (help: 0 on stdout; a bad flag: 2 on stderr). */
export type CommandLineOutcome<V> =
  | { kind: "run"; values: V }
  | { kind: "help"; text: string; exitCode: 0 }
  | { kind: "error"; text: string; exitCode: 2 };

/**
 * Parses an example's arguments with `parse` (a `node:util` `parseArgs` call over the given
 * arguments, with a boolean `help` flag). A leading `--` is dropped, so both `pnpm quickstart
 * --steps 30` and `pnpm quickstart -- --steps 30` work; `--help`/`-h` gives the usage; a bad flag
 * or value gives its message followed by the usage.
 */
export function parseCommandLine<V extends { help?: boolean }>(
  usage: string,
  parse: (args: string[]) => V,
  argv: readonly string[],
): CommandLineOutcome<V> {
  const args = argv[0] === "--" ? argv.slice(1) : [...argv];
  let values: V;
  try {
    values = parse(args);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { kind: "error", text: `${message}\n\n${usage}`, exitCode: 2 };
  }
  if (values.help === true) return { kind: "help", text: usage, exitCode: 0 };
  return { kind: "run", values };
}

/**
 * `parseCommandLine` over `process.argv`, then `run` with the flags; or prints the help (stdout,
 * exit code 0) or the error and usage (stderr, exit code 2) instead.
 */
export async function runCommandLine<V extends { help?: boolean }>(
  usage: string,
  parse: (args: string[]) => V,
  run: (values: V) => Promise<unknown>,
): Promise<void> {
  const outcome = parseCommandLine(usage, parse, process.argv.slice(2));
  if (outcome.kind === "run") {
    await run(outcome.values);
    return;
  }
  (outcome.exitCode === 0 ? process.stdout : process.stderr).write(outcome.text);
  process.exitCode = outcome.exitCode;
}

/** A flag's text as an integer (undefined when the flag is absent); a RangeError names the flag otherwise. */
export function integerFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new RangeError(`--${flag} needs an integer, got "${text}"`);
  return value;
}

/** A flag's text as a finite number (undefined when the flag is absent); a RangeError names the flag otherwise. */
export function numberFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new RangeError(`--${flag} needs a number, got "${text}"`);
  return value;
}

/**
 * The flags every example takes, for `parseArgs`'s `options`: `--smoke` (the tests' tiny run),
 * `--seed N`, `--out DIR` and `-h`/`--help`.
 */
export const COMMON_OPTIONS = {
  smoke: { type: "boolean", default: false },
  seed: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;
