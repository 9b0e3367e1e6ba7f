// Progress outside Node streams: any object with write(), the browser build's console lines, and its logFile error.
import { Generator, manualSeed, randn, tensor } from "@normgrad/core";
import { DataLoader, TensorDataset } from "@normgrad/data";
import { F, Linear } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EpochProgress, fit } from "../src/index.ts";
import { appendLogLine, prepareLogFile } from "../src/log-file.browser.ts";
import { formatDuration, PlainProgressBar } from "../src/plain-progress-bar.ts";
import { createProgressBar, defaultProgressStream } from "../src/terminal.browser.ts";
import { createProgressBar as createProgressBarInNode } from "../src/terminal.node.ts";

function loader(): DataLoader {
  const generator = new Generator(3);
  const labels = Array.from({ length: 32 }, (_, i) => i % 2);
  const inputs = randn([32, 2], { generator }).add(tensor(labels.map((label) => [4 * label - 2, 0])));
  return new DataLoader(new TensorDataset(inputs, tensor(Int32Array.from(labels))), { batchSize: 8 });
}

afterEach(() => vi.restoreAllMocks());

describe("progress streams", () => {
  it("fit writes plain lines to any object with write(text)", async () => {
    const lines: string[] = [];
    manualSeed(0);
    const model = new Linear(2, 2);
    await fit(model, {
      train: loader(),
      optimizer: new SGD(model.parameters(), { lr: 0.1 }),
      lossFn: F.crossEntropy,
      epochs: 1,
      progressStream: { write: (text: string) => lines.push(text) },
    });
    expect(lines[0]).toBe("epoch 1/1 [--------------------] 0/4 | loss - | acc - | - samples/s | 0s\n");
    expect(lines.at(-2)).toMatch(
      /^epoch 1\/1 \[=+\] 4\/4 \| loss \d\.\d{4} \| acc \d+\.\d\d% \| \d+ samples\/s \| 0s\n$/,
    );
    expect(lines.at(-1)).toMatch(/^epoch 1\/1: train loss \d\.\d{4} acc \d+\.\d\d% \| \d+ samples\/s\n$/);
  });

  it("a stream claiming isTTY without being a Node stream gets plain lines (nothing to move a cursor on)", () => {
    const bar = createProgressBarInNode({ write: () => true, isTTY: true }, { epoch: 1, epochs: 1 });
    expect(bar).toBeInstanceOf(PlainProgressBar);
  });

  it("an object claiming isTTY still gets a line per interval, not only the first and last", () => {
    const lines: string[] = [];
    const progress = new EpochProgress(
      { write: (text: string) => lines.push(text), isTTY: true },
      {
        epoch: 1,
        epochs: 1,
        batches: 3,
        logIntervalMs: 0,
      },
    );
    for (const batch of [1, 2, 3]) progress.update(batch, { loss: 0.5, accuracy: null, samplesPerSec: 100 });
    progress.stop();
    expect(lines.map((line) => line.split(" | ")[0])).toEqual([
      "epoch 1/1 [--------------------] 0/3",
      "epoch 1/1 [=======-------------] 1/3",
      "epoch 1/1 [=============-------] 2/3",
      "epoch 1/1 [====================] 3/3",
      "epoch 1/1 [====================] 3/3",
    ]);
  });

  it("durations read like the terminal bar's", () => {
    expect([formatDuration(0.4), formatDuration(59), formatDuration(187), formatDuration(3840)]).toEqual([
      "0s",
      "59s",
      "3m7s",
      "1h4m",
    ]);
  });
});

describe("the browser build", () => {
  it("draws whole lines and writes them to the console by default", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const bar = createProgressBar(defaultProgressStream(), { epoch: 2, epochs: 3 });
    expect(bar).toBeInstanceOf(PlainProgressBar);
    bar.start(10, 0, { loss: "-", acc: "-", rate: "-" });
    bar.update(10, { loss: "0.1234", acc: "97.00%", rate: "512" });
    bar.stop();
    expect(log.mock.calls.map(([line]) => line)).toEqual([
      "epoch 2/3 [--------------------] 0/10 | loss - | acc - | - samples/s | 0s",
      "epoch 2/3 [====================] 10/10 | loss 0.1234 | acc 97.00% | 512 samples/s | 0s",
    ]);
  });

  it("refuses a logFile and points to onEpochEnd", () => {
    const message =
      "fit: logFile \"runs/metrics.jsonl\" needs Node's file system; in a browser, collect each epoch's " +
      "metrics with onEpochEnd (or from fit's return value)";
    expect(() => prepareLogFile("runs/metrics.jsonl")).toThrow(message);
    expect(() => appendLogLine("runs/metrics.jsonl", "{}")).toThrow(message);
  });
});
