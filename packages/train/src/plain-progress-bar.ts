// A progress bar drawn as whole lines, for streams that cannot redraw in place (log files, CI logs, browser consoles).
import type {
  ProgressBar,
  ProgressBarOptions,
  ProgressPayload,
  ProgressStream,
} from "./progress-bar-types.ts";

const BAR_WIDTH = 20;

/** `12s`, `3m7s` or `1h4m`, as the terminal bar shows durations. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/**
 * Writes `epoch 1/3 [=====---------------] 4/16 | loss … | acc … | … samples/s | 2s` lines: one
 * at the start, one per `render()` and one at `stop()`. The caller decides how often to render.
 */
export class PlainProgressBar implements ProgressBar {
  readonly #stream: ProgressStream;
  readonly #prefix: string;
  readonly #started = Date.now();
  #value = 0;
  #total = 0;
  #payload: ProgressPayload = { loss: "-", acc: "-", rate: "-" };

  constructor(stream: ProgressStream, { epoch, epochs }: ProgressBarOptions) {
    this.#stream = stream;
    this.#prefix = `epoch ${epoch}/${epochs}`;
  }

  start(total: number, value: number, payload: ProgressPayload): void {
    this.#total = total;
    this.update(value, payload);
    this.render();
  }

  update(value: number, payload: ProgressPayload): void {
    this.#value = value;
    this.#payload = payload;
  }

  render(): void {
    const filled = this.#total === 0 ? BAR_WIDTH : Math.round((BAR_WIDTH * this.#value) / this.#total);
    const bar = "=".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
    const { loss, acc, rate } = this.#payload;
    const duration = formatDuration((Date.now() - this.#started) / 1000);
    this.#stream.write(
      `${this.#prefix} [${bar}] ${this.#value}/${this.#total} | loss ${loss} | acc ${acc} | ${rate} samples/s | ${duration}\n`,
    );
  }

  stop(): void {
    this.render();
  }
}
