// The shapes shared by the progress bars: the stream they write to and what they draw.

/**
 * Where progress lines go: a Node writable stream (`process.stderr`, a file stream) or any
 * object with `write(text)`. A stream with `isTTY: true` gets a bar redrawn in place (Node).
 */
export interface ProgressStream {
  /** Writes `text` as is (the bars add their own newlines and carriage returns). */
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** The values a bar shows, already formatted. */
export interface ProgressPayload {
  loss: string;
  acc: string;
  rate: string;
}

/** Which epoch a bar belongs to. */
export interface ProgressBarOptions {
  epoch: number;
  epochs: number;
}

/** What `EpochProgress` drives: a terminal bar (Node) or whole lines (`PlainProgressBar`). */
export interface ProgressBar {
  start(total: number, value: number, payload: ProgressPayload): void;
  update(value: number, payload: ProgressPayload): void;
  /** Draws the current state now (a line, for streams that are not terminals). */
  render(): void;
  stop(): void;
}
