// `pnpm quickstart`: parses the command line and runs the quickstart.
import { parseArgs } from "node:util";
import { main } from "./run-quickstart.ts";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    seed: { type: "string" },
    steps: { type: "string" },
    out: { type: "string" },
  },
});
const integer = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new RangeError(`--${flag} needs an integer, got "${text}"`);
  return value;
};

await main({
  smoke: values.smoke,
  seed: integer("seed", values.seed),
  steps: integer("steps", values.steps),
  out: values.out,
});
