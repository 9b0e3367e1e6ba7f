// `pnpm activations`: parses the command line and runs the activation-distributions study.
import { parseArgs } from "node:util";
import { COMMON_OPTIONS, numberFlag, runCommandLine } from "@normgrad/example-cli";
import { main } from "./activation-distributions.ts";
import type { Activation } from "./build-mlp.ts";

const USAGE = `Usage: pnpm activations [options]   (or: pnpm activations -- [options])

Trains a 10-layer, 100-wide MLP on MNIST with and without BatchNorm and histograms every
layer's activations before and after training.

Options:
  --steps N                 SGD steps per model, momentum 0.9 (default 300)
  --batch-size N            batch size (default 64)
  --lr X                    learning rate (default 0.1)
  --probe-size N            test digits histogrammed (default 1000)
  --activation NAME         sigmoid or relu; repeat for both (default both)
  --seed N                  random seed (default 0)
  --out DIR                 output folder (default examples/activation-distributions/results)
  --smoke                   3 steps of 16, 64 probe digits (what the tests run)
  -h, --help                print this text (through pnpm: pnpm activations -- --help)
`;

const isActivation = (name: string): name is Activation => name === "sigmoid" || name === "relu";

await runCommandLine(
  USAGE,
  (args) => {
    const { values } = parseArgs({
      args,
      options: {
        ...COMMON_OPTIONS,
        steps: { type: "string" },
        "batch-size": { type: "string" },
        lr: { type: "string" },
        "probe-size": { type: "string" },
        activation: { type: "string", multiple: true },
      },
    });
    const activations = values.activation?.map((name) => {
      if (!isActivation(name)) throw new RangeError(`--activation must be sigmoid or relu, got "${name}"`);
      return name;
    });
    return {
      help: values.help,
      smoke: values.smoke,
      seed: numberFlag("seed", values.seed),
      steps: numberFlag("steps", values.steps),
      batchSize: numberFlag("batch-size", values["batch-size"]),
      lr: numberFlag("lr", values.lr),
      probeSize: numberFlag("probe-size", values["probe-size"]),
      activations,
      out: values.out,
    };
  },
  ({ help: _, ...options }) => main(options),
);
