// Node: progress on a terminal (cli-progress redraws its bar in place) and the default stream, stderr.
import { SingleBar } from "cli-progress";
import { PlainProgressBar } from "./plain-progress-bar.ts";
import type { ProgressBar, ProgressBarOptions, ProgressStream } from "./progress-bar-types.ts";

/** A Node stream that cli-progress can move the cursor on. */
function isNodeStream(stream: ProgressStream): stream is ProgressStream & NodeJS.WritableStream {
  return (
    "on" in stream && typeof stream.on === "function" && "end" in stream && typeof stream.end === "function"
  );
}

/** A bar redrawn in place on a terminal, or whole lines on anything else. */
export function createProgressBar(stream: ProgressStream, options: ProgressBarOptions): ProgressBar {
  if (stream.isTTY !== true || !isNodeStream(stream)) return new PlainProgressBar(stream, options);
  return new SingleBar({
    stream,
    format: `epoch ${options.epoch}/${options.epochs} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {rate} samples/s | {duration_formatted}`,
    barsize: 20,
  });
}

/** Where `fit` writes progress unless told otherwise: stderr. */
export function defaultProgressStream(): ProgressStream {
  return process.stderr;
}
