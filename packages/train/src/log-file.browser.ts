// Browsers: no files to log to; says what to use instead.
import type { appendLogLine as appendInNode, prepareLogFile as prepareInNode } from "./log-file.node.ts";

/** Always throws: `logFile` needs Node. */
export const prepareLogFile: typeof prepareInNode = (file) => {
  throw new Error(
    `fit: logFile ${JSON.stringify(file)} needs Node's file system; in a browser, collect each epoch's ` +
      "metrics with onEpochEnd (or from fit's return value)",
  );
};

/** Always throws: `logFile` needs Node. */
export const appendLogLine: typeof appendInNode = (file) => prepareLogFile(file);
