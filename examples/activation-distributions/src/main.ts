// `pnpm activations`: parses the command line and runs the activation-distributions study.
import { parseArgs } from "node:util";
import { main } from "./activation-distributions.ts";
import type { Activation } from "./build-mlp.ts";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    seed: { type: "string" },
    steps: { type: "string" },
    "batch-size": { type: "string" },
    lr: { type: "string" },
    "probe-size": { type: "string" },
    activation: { type: "string", multiple: true },
    out: { type: "string" },
  },
});
const numberFlag = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new RangeError(`--${flag} needs a number, got "${text}"`);
  return value;
};
const isActivation = (name: string): name is Activation => name === "sigmoid" || name === "relu";
const activations = values.activation?.map((name) => {
  if (!isActivation(name)) throw new RangeError(`--activation must be sigmoid or relu, got "${name}"`);
  return name;
});

await main({
  smoke: values.smoke,
  seed: numberFlag("seed", values.seed),
  steps: numberFlag("steps", values.steps),
  batchSize: numberFlag("batch-size", values["batch-size"]),
  lr: numberFlag("lr", values.lr),
  probeSize: numberFlag("probe-size", values["probe-size"]),
  activations,
  out: values.out,
});
