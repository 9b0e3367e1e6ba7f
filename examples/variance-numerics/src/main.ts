// `pnpm numerics`: parses the command line and runs the variance-numerics study.
import { parseArgs } from "node:util";
import { COMMON_OPTIONS, integerFlag, runCommandLine } from "@normgrad/example-cli";
import { main } from "./variance-numerics.ts";

const USAGE = `Usage: pnpm numerics [options]   (or: pnpm numerics -- [options])

Measures how far each variance algorithm of \`moments\` lands from the exact variance as the
mean/std ratio grows from 1 to 1e6, in float32 and float64, and writes tables and plots.

Options:
  --trials N               samples per mean/std ratio (default 20)
  --samples N              values per sample (default 4096)
  --points-per-decade N    ratios per decade from 1 to 1e6 (default 4)
  --seed N                 random seed (default 0)
  --out DIR                output folder (default examples/variance-numerics/results)
  --smoke                  7 ratios, 3 trials of 256 values (what the tests run)
  -h, --help               print this text (through pnpm: pnpm numerics -- --help)
`;

await runCommandLine(
  USAGE,
  (args) => {
    const { values } = parseArgs({
      args,
      options: {
        ...COMMON_OPTIONS,
        trials: { type: "string" },
        samples: { type: "string" },
        "points-per-decade": { type: "string" },
      },
    });
    return {
      help: values.help,
      smoke: values.smoke,
      seed: integerFlag("seed", values.seed),
      trials: integerFlag("trials", values.trials),
      samples: integerFlag("samples", values.samples),
      pointsPerDecade: integerFlag("points-per-decade", values["points-per-decade"]),
      out: values.out,
    };
  },
  ({ help: _, ...options }) => main(options),
);
