// The deep MLP under study (10 × 100, sigmoid or ReLU, BatchNorm1d optional) and a probe of each layer's activations.
import { type Generator, noGrad, type Tensor } from "@normgrad/core";
import {
  BatchNorm1d,
  Flatten,
  init,
  Linear,
  ReLU,
  Sequential,
  Sigmoid,
  type TensorModule,
} from "@normgrad/nn";

/** The nonlinearity after each hidden layer. */
export type Activation = "sigmoid" | "relu";

/**
 * How the hidden weights start: `"normal"` draws them from N(0, 1), far too large for 100
 * inputs (pre-activations get a std near √(100·E[h²]) ≈ 6 under sigmoids, so they saturate);
 * `"default"` keeps PyTorch's U(±1/√fanIn), a weight variance of 1/(3·fanIn), a sixth of what
 * keeps a ReLU signal's scale (He: 2/fanIn), so the signal shrinks layer after layer until the
 * biases dominate. Biases always keep PyTorch's default.
 */
export type WeightInit = "normal" | "default";

/** Options of {@link buildMlp}. */
export interface MlpOptions {
  activation: Activation;
  /** BatchNorm1d between each hidden Linear and its activation. */
  batchNorm: boolean;
  weightInit: WeightInit;
  /** Hidden layers. Default 10. */
  depth?: number;
  /** Units per hidden layer. Default 100. */
  width?: number;
  /** Draws the initial weights; the same seed gives every variant the same Linear weights. */
  generator: Generator;
}

/**
 * `Flatten → [Linear(·, width) → BatchNorm1d? → activation] × depth → Linear(width, 10)` for
 * 28×28 digits. Returns the model and its activation modules, in order, for {@link probeActivations}.
 */
export function buildMlp({
  activation,
  batchNorm,
  weightInit,
  depth = 10,
  width = 100,
  generator,
}: MlpOptions): {
  model: Sequential;
  activations: TensorModule[];
} {
  const layers: TensorModule[] = [new Flatten()];
  const activations: TensorModule[] = [];
  for (let layer = 0; layer < depth; layer++) {
    const linear = new Linear(layer === 0 ? 28 * 28 : width, width, { generator });
    if (weightInit === "normal") init.normal_(linear.weight, 0, 1, { generator });
    const nonlinearity = activation === "sigmoid" ? new Sigmoid() : new ReLU();
    layers.push(linear, ...(batchNorm ? [new BatchNorm1d(width)] : []), nonlinearity);
    activations.push(nonlinearity);
  }
  layers.push(new Linear(width, 10, { generator }));
  return { model: new Sequential(...layers), activations };
}

/**
 * Runs `x` through `model` without recording gradients and returns the output of each module in
 * `probed` as a flat (batch × units) array, in order, recorded by forward hooks (removed again
 * before it returns). BatchNorm uses whatever mode the model is in; in training mode the probe
 * batch also nudges the running statistics, as any batch would.
 */
export function probeActivations(
  model: Sequential,
  probed: readonly TensorModule[],
  x: Tensor,
): Float32Array[] {
  const outputs = new Map<TensorModule, Float32Array>();
  const handles = probed.map((module) =>
    module.registerForwardHook((_, __, output) => {
      outputs.set(module, Float32Array.from(output.dataSync()));
      return undefined;
    }),
  );
  try {
    noGrad(() => model.forward(x).dispose());
  } finally {
    for (const handle of handles) handle.remove();
  }
  return probed.map((module) => {
    const output = outputs.get(module);
    if (output === undefined)
      throw new Error(`probeActivations: ${module.typeName} is not part of the model`);
    return output;
  });
}
