// @normgrad/example-activation-distributions: the study's entry point, for the CLI and the smoke test.
export type {
  ActivationOptions,
  ActivationResults,
  Phase,
  VariantResult,
} from "./activation-distributions.ts";
export { main } from "./activation-distributions.ts";
export type { Activation, MlpOptions, WeightInit } from "./build-mlp.ts";
export { buildMlp, probeActivations } from "./build-mlp.ts";
export type { LayerStats } from "./layer-stats.ts";
export { layerStats, SIGMOID_SATURATION } from "./layer-stats.ts";
