// `pnpm numerics`: parses the command line and runs the variance-numerics study.
import { parseArgs } from "node:util";
import { main } from "./variance-numerics.ts";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    seed: { type: "string" },
    trials: { type: "string" },
    samples: { type: "string" },
    "points-per-decade": { type: "string" },
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
  trials: integer("trials", values.trials),
  samples: integer("samples", values.samples),
  pointsPerDecade: integer("points-per-decade", values["points-per-decade"]),
  out: values.out,
});
