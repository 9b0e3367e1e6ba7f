// @normgrad/example-variance-numerics: the study's entry point, for the CLI and the smoke test.
export type { NumericsOptions, NumericsResults, NumericsRow } from "./variance-numerics.ts";
export { main } from "./variance-numerics.ts";
