// The training progress bar: loss, accuracy and samples/s, redrawn on a terminal, whole lines in a log file or console.
import { createProgressBar } from "#terminal";
import { PlainProgressBar } from "./plain-progress-bar.ts";
import type { ProgressBar, ProgressStream } from "./progress-bar-types.ts";

/** The running numbers a progress line shows. */
export interface ProgressValues {
  loss: number;
  accuracy: number | null;
  samplesPerSec: number;
}

function formatAccuracy(accuracy: number | null): string {
  return accuracy === null ? "-" : `${(100 * accuracy).toFixed(2)}%`;
}

/**
 * One bar per epoch. On a terminal (Node) it redraws in place as batches finish; on a stream
 * that is not a terminal (a CI log, a file, a browser console) it writes one plain line at the
 * start, every `logIntervalMs` and at the end of the epoch, so the log stays readable.
 */
export class EpochProgress {
  readonly #bar: ProgressBar;
  readonly #stream: ProgressStream;
  /** False for whole-line bars, which get a line per interval from `update`. */
  readonly #redrawsInPlace: boolean;
  readonly #logIntervalMs: number;
  #lastLine = 0;

  constructor(
    stream: ProgressStream,
    {
      epoch,
      epochs,
      batches,
      logIntervalMs = 2000,
    }: { epoch: number; epochs: number; batches: number; logIntervalMs?: number },
  ) {
    this.#stream = stream;
    this.#logIntervalMs = logIntervalMs;
    this.#bar = createProgressBar(stream, { epoch, epochs });
    // Decided by the bar, not by `isTTY`: an object claiming isTTY without being a Node stream gets lines too.
    this.#redrawsInPlace = !(this.#bar instanceof PlainProgressBar);
    this.#bar.start(batches, 0, { loss: "-", acc: "-", rate: "-" });
    this.#lastLine = Date.now();
  }

  /** Shows `batch` batches done with the running values. */
  update(batch: number, { loss, accuracy, samplesPerSec }: ProgressValues): void {
    this.#bar.update(batch, {
      loss: loss.toFixed(4),
      acc: formatAccuracy(accuracy),
      rate: Math.round(samplesPerSec).toString(),
    });
    // A stream that is not a terminal gets a line per interval, timed here (a timer could not
    // fire while a synchronous training loop holds the thread).
    if (!this.#redrawsInPlace && Date.now() - this.#lastLine >= this.#logIntervalMs) {
      this.#bar.render();
      this.#lastLine = Date.now();
    }
  }

  /** Draws the final state and ends the bar's line. */
  stop(): void {
    this.#bar.stop();
  }

  /** Writes a line of its own (the epoch summary) below the bar. */
  log(line: string): void {
    this.#stream.write(`${line}\n`);
  }
}

/** `train loss 0.1234 acc 96.50%`-style text for one set of metrics. */
export function describeMetrics(name: string, loss: number, accuracy: number | null): string {
  return `${name} loss ${loss.toFixed(4)}${accuracy === null ? "" : ` acc ${formatAccuracy(accuracy)}`}`;
}
