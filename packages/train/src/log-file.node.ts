// Node: fit's JSON Lines log — the folder made once, then one appended line per epoch.
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

/** Creates the folder of `file` (and its parents) if needed. */
export function prepareLogFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
}

/** Appends `line` and a newline to `file`. */
export function appendLogLine(file: string, line: string): void {
  appendFileSync(file, `${line}\n`);
}
