// The study's networks: the MLP and the CNN in each BatchNorm placement (or with GroupNorm/LayerNorm).
import type { Generator } from "@normgrad/core";
import {
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  Flatten,
  GroupNorm,
  LayerNorm,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
  Sigmoid,
} from "@normgrad/nn";
import type { ModelKind, NormKind, Variant } from "./study-config.ts";

/** What {@link buildNetwork} builds. */
export interface NetworkSpec {
  model: ModelKind;
  variant: Variant;
  /** The normalization layer of `bn-relu` / `relu-bn` (default `batch`); ignored for `none`. */
  norm?: NormKind;
  /** Draws the initial weights (PyTorch's default initialization). */
  generator: Generator;
  /**
   * The nonlinearity of every hidden block (default `relu`, the study's). `sigmoid` is the
   * saturating case of the activation-distributions example; the variants keep their names.
   */
  activation?: Activation;
  /** Hidden 256-unit blocks of the `mlp` (default 2, the study's); the `cnn` always has 2. */
  mlpDepth?: number;
}

/** The nonlinearity of a hidden block. */
export type Activation = "relu" | "sigmoid";

/** Channels per group of GroupNorm (16 channels → 2 groups, 256 features → 32 groups). */
export const GROUP_NORM_CHANNELS_PER_GROUP = 8;

type Layer = ConstructorParameters<typeof Sequential>[number];

/**
 * The normalization of `channels` features. `spatial` is the (H, W) of a conv block's output
 * (null after a Linear): LayerNorm then normalizes each sample over (C, H, W), as it does over
 * all features of a Linear.
 */
function normLayer(norm: NormKind, channels: number, spatial: readonly [number, number] | null): Layer {
  switch (norm) {
    case "batch":
      return spatial === null ? new BatchNorm1d(channels) : new BatchNorm2d(channels);
    case "group":
      return new GroupNorm(channels / GROUP_NORM_CHANNELS_PER_GROUP, channels);
    case "layer":
      return new LayerNorm(spatial === null ? [channels] : [channels, ...spatial]);
    default:
      return norm satisfies never;
  }
}

function activationLayer(activation: Activation): Layer {
  switch (activation) {
    case "relu":
      return new ReLU();
    case "sigmoid":
      return new Sigmoid();
    default:
      return activation satisfies never;
  }
}

/**
 * One hidden block in the variant's order: `none` → layer, ReLU; `bn-relu` → layer without bias,
 * norm, ReLU (the bias would be cancelled by the norm's mean subtraction; its β takes its place);
 * `relu-bn` → layer with bias, ReLU, norm.
 */
function block(
  variant: Variant,
  makeLayer: (bias: boolean) => Layer,
  makeNorm: () => Layer,
  makeActivation: () => Layer,
): Layer[] {
  switch (variant) {
    case "none":
      return [makeLayer(true), makeActivation()];
    case "bn-relu":
      return [makeLayer(false), makeNorm(), makeActivation()];
    case "relu-bn":
      return [makeLayer(true), makeActivation(), makeNorm()];
    default:
      return variant satisfies never;
  }
}

/**
 * The study's networks, taking (N, 1, 28, 28) images to 10 logits:
 * - `mlp`: Flatten → [Linear 784→256 block] → [Linear 256→256 block] × (mlpDepth − 1) → Linear 256→10;
 * - `cnn`: [Conv3×3 1→16, pad 1 block] → MaxPool 2 → [Conv3×3 16→32, pad 1 block] → MaxPool 2 →
 *   Flatten → Linear 1568→10.
 * Each block follows {@link NetworkSpec.variant}; the output layer is never normalized.
 */
export function buildNetwork({
  model,
  variant,
  norm = "batch",
  generator,
  activation = "relu",
  mlpDepth = 2,
}: NetworkSpec): Sequential {
  if (!Number.isInteger(mlpDepth) || mlpDepth < 1) {
    throw new Error(`buildNetwork: mlpDepth must be an integer ≥ 1, got ${mlpDepth}`);
  }
  const makeActivation = (): Layer => activationLayer(activation);
  switch (model) {
    case "mlp": {
      const hidden = (inFeatures: number) =>
        block(
          variant,
          (bias) => new Linear(inFeatures, 256, { bias, generator }),
          () => normLayer(norm, 256, null),
          makeActivation,
        );
      const deeper = Array.from({ length: mlpDepth - 1 }, () => hidden(256));
      return new Sequential(
        new Flatten(),
        ...hidden(784),
        ...deeper.flat(),
        new Linear(256, 10, { generator }),
      );
    }
    case "cnn": {
      const conv = (inChannels: number, outChannels: number, size: number) =>
        block(
          variant,
          (bias) => new Conv2d(inChannels, outChannels, 3, { padding: 1, bias, generator }),
          () => normLayer(norm, outChannels, [size, size]),
          makeActivation,
        );
      return new Sequential(
        ...conv(1, 16, 28),
        new MaxPool2d(2),
        ...conv(16, 32, 14),
        new MaxPool2d(2),
        new Flatten(),
        new Linear(32 * 7 * 7, 10, { generator }),
      );
    }
    default:
      return model satisfies never;
  }
}
