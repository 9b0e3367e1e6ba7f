// @normgrad/example-quickstart: the quickstart itself and its runner, for the CLI and the smoke test.
export type { QuickstartOptions, QuickstartResult } from "./quickstart.ts";
export { quickstart } from "./quickstart.ts";
export type { QuickstartRun, QuickstartRunOptions } from "./run-quickstart.ts";
export { main } from "./run-quickstart.ts";
