// Browsers: progress as whole lines, by default on the console.
import { PlainProgressBar } from "./plain-progress-bar.ts";
import type { ProgressStream } from "./progress-bar-types.ts";
import type {
  createProgressBar as createInNode,
  defaultProgressStream as defaultInNode,
} from "./terminal.node.ts";

/** Whole lines: a browser has no terminal to redraw. */
export const createProgressBar: typeof createInNode = (stream, options) =>
  new PlainProgressBar(stream, options);

/** `console.log`, one call per line. */
export const defaultProgressStream: typeof defaultInNode = (): ProgressStream => ({
  write: (text: string) => console.log(text.replace(/\n$/, "")),
});
