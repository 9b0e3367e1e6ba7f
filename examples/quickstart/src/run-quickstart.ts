// Runs the quickstart with command-line options and writes its results: JSON, Markdown, the loss curve and the weights.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { lineChart, markdownTable, renderChart } from "@normgrad/plot";
import { type QuickstartResult, quickstart } from "./quickstart.ts";

/** Options of {@link main}; every field has a default, and `smoke` shrinks them for CI. */
export interface QuickstartRunOptions {
  /** Results folder. Default `examples/quickstart/results`. */
  out?: string;
  /** Default 0. */
  seed?: number;
  /** SGD steps. Default 200 (5 in smoke mode). */
  steps?: number;
  /** Tiny run for tests. Default false. */
  smoke?: boolean;
  /** No printing. Default false. */
  quiet?: boolean;
}

/** What {@link main} computed and wrote. */
export interface QuickstartRun extends QuickstartResult {
  config: { seed: number; steps: number; batchSize: 64; lr: 0.1; momentum: 0.9 };
  files: { json: string; markdown: string; weights: string; plots: string[] };
}

const EXAMPLE_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Runs {@link quickstart} and writes `quickstart.json`, `quickstart.md`, `training-loss` (SVG +
 * PNG) and the trained weights `model.safetensors` into `out`.
 */
export async function main(options: QuickstartRunOptions = {}): Promise<QuickstartRun> {
  const seed = options.seed ?? 0;
  const steps = options.steps ?? (options.smoke ? 5 : 200);
  if (!Number.isInteger(steps) || steps < 1)
    throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const out = options.out ?? join(EXAMPLE_ROOT, "results");
  const log = options.quiet ? () => {} : (line: string) => console.log(line);
  mkdirSync(out, { recursive: true });
  const weights = join(out, "model.safetensors");
  const result = await quickstart({ steps, seed, weightsPath: weights, log });
  if (result.reloadMaxDifference !== 0) {
    throw new Error(
      `the reloaded model's logits differ by up to ${result.reloadMaxDifference}: save/load is lossy`,
    );
  }

  const config = { seed, steps, batchSize: 64 as const, lr: 0.1 as const, momentum: 0.9 as const };
  const json = join(out, "quickstart.json");
  writeFileSync(json, `${JSON.stringify({ config, ...result }, null, 2)}\n`);
  const markdown = join(out, "quickstart.md");
  const first = result.losses[0];
  const last = result.losses.at(-1) ?? first;
  writeFileSync(
    markdown,
    [
      "# Quickstart",
      "",
      `MLP 784 → 128 (BatchNorm1d, ReLU) → 10 on the \`mnist\` package's digits, SGD lr ${config.lr} ` +
        `momentum ${config.momentum}, batch ${config.batchSize}, seed ${seed}.`,
      "",
      markdownTable(
        ["steps", "first loss", "last loss", "test accuracy", "reload max |Δ logit|"],
        [
          [
            String(steps),
            first.loss.toFixed(3),
            last.loss.toFixed(3),
            `${(100 * result.testAccuracy).toFixed(1)}%`,
            String(result.reloadMaxDifference),
          ],
        ],
      ),
      "",
      "![training loss](training-loss.png)",
      "",
    ].join("\n"),
  );
  const chart = await renderChart(
    lineChart({
      title: "Quickstart: training loss",
      subtitle: `784 → 128 → 10 MLP with BatchNorm1d; test accuracy ${(100 * result.testAccuracy).toFixed(1)}%`,
      data: result.losses,
      x: { field: "step", title: "step" },
      y: { field: "loss", title: "cross-entropy loss" },
    }),
    join(out, "training-loss"),
  );
  const files = { json, markdown, weights, plots: [chart.svgPath, chart.pngPath] };
  const shownOut = relative(process.cwd(), out);
  log(
    `wrote to ${shownOut.startsWith("..") ? out : shownOut || "."}: ${[json, markdown, weights, ...files.plots].map((path) => basename(path)).join(", ")}`,
  );
  return { config, ...result, files };
}
