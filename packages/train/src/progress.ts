// The training progress bar: cli-progress with loss, accuracy and samples/s, readable on a terminal and in a log file.
import { SingleBar } from "cli-progress";

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
 * One bar per epoch. On a terminal it redraws in place as batches finish; on a stream that is
 * not a terminal (a CI log, a file) it writes one plain line at the start, every
 * `logIntervalMs` and at the end of the epoch, so the log stays readable.
 */
export class EpochProgress {
  readonly #bar: SingleBar;
  readonly #stream: NodeJS.WritableStream;
  readonly #isTTY: boolean;
  readonly #logIntervalMs: number;
  #lastLine = 0;

  constructor(
    stream: NodeJS.WritableStream,
    {
      epoch,
      epochs,
      batches,
      logIntervalMs = 2000,
    }: { epoch: number; epochs: number; batches: number; logIntervalMs?: number },
  ) {
    this.#stream = stream;
    this.#isTTY = "isTTY" in stream && stream.isTTY === true;
    this.#logIntervalMs = logIntervalMs;
    this.#bar = new SingleBar({
      stream,
      format: `epoch ${epoch}/${epochs} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {rate} samples/s | {duration_formatted}`,
      barsize: 20,
      noTTYOutput: true,
      notTTYSchedule: logIntervalMs,
      // Without a terminal the bar cannot be erased, so do not add an empty line after it.
      clearOnComplete: !this.#isTTY,
    });
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
    // cli-progress redraws a non-terminal stream from a timer, which cannot fire while a
    // synchronous training loop holds the thread: draw those lines here instead.
    if (!this.#isTTY && Date.now() - this.#lastLine >= this.#logIntervalMs) {
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
