// MultiheadAttention, TransformerEncoderLayer and TransformerEncoder, with PyTorch's parameter names, masks and reprs.
import { formatShape, type Generator, type Tensor, zeros } from "@normgrad/core";
import { dropout as dropoutFn } from "../functional/activation.ts";
import { applyAttentionMask } from "../functional/attention.ts";
import { linear } from "../functional/linear.ts";
import { assertPositiveInt, type FactoryOptions } from "../functional/validate.ts";
import { constant_, xavierUniform_ } from "../init.ts";
import { Module, Parameter } from "../module.ts";
import { ModuleList } from "./container.ts";
import { Dropout } from "./dropout.ts";
import { LayerNorm } from "./layer-norm.ts";
import { Linear } from "./linear.ts";

/** MultiheadAttention's output projection: a Linear under the class name PyTorch prints for it. */
export class NonDynamicallyQuantizableLinear extends Linear {}

/** Options of {@link MultiheadAttention}; PyTorch's names and defaults. */
export interface MultiheadAttentionOptions extends FactoryOptions {
  /** Dropout on the attention weights, in training. Default 0. */
  dropout?: number;
  /** Biases of the input and output projections. Default true. */
  bias?: boolean;
  /** Features of the keys; default embedDim. */
  kdim?: number;
  /** Features of the values; default embedDim. */
  vdim?: number;
  /** Inputs and output as (N, L, E) instead of (L, N, E). Default false. */
  batchFirst?: boolean;
}

/** Options of {@link MultiheadAttention.forward}; PyTorch's names and defaults. */
export interface MultiheadAttentionForwardOptions {
  /** (N, S): float added to the scores, or bool (or int32 0/1) true where a key is padding (ignored). */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights. Default true. */
  needWeights?: boolean;
  /** (L, S) or (N·numHeads, L, S): float added, or bool (or int32 0/1) true where attending is not allowed. */
  attnMask?: Tensor | null;
  /** Average the returned weights over the heads. Default true. */
  averageAttnWeights?: boolean;
}

/**
 * Multi-head attention, PyTorch's `nn.MultiheadAttention`: the query, key and value are projected
 * (`in_proj_weight` (3E, E) and `in_proj_bias`, or `q_proj_weight`, `k_proj_weight`,
 * `v_proj_weight` when kdim or vdim differ from E), split into numHeads heads of E/numHeads
 * features, attended with `softmax(q·kᵀ/√(E/numHeads) + masks)·v`, joined and projected by
 * `out_proj`. Input projections start Xavier-uniform with zero biases, as PyTorch's.
 * `forward(query, key, value, options)` → `[output (L, N, E), weights (N, L, S) or null]`
 * (batch-first (N, L, E); unbatched (L, E) gives (L, E) and (L, S)).
 */
export class MultiheadAttention extends Module<
  [Tensor, Tensor, Tensor, MultiheadAttentionForwardOptions?],
  [Tensor, Tensor | null]
> {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly kdim: number;
  readonly vdim: number;
  in_proj_weight: Parameter | null;
  q_proj_weight: Parameter | null;
  k_proj_weight: Parameter | null;
  v_proj_weight: Parameter | null;
  in_proj_bias: Parameter | null;
  outProj: NonDynamicallyQuantizableLinear;

  constructor(embedDim: number, numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    const { dropout = 0, bias = true, kdim = embedDim, vdim = embedDim, batchFirst = false } = options;
    const { dtype = "float32", device = "cpu", generator } = options;
    assertPositiveInt(embedDim, "MultiheadAttention embedDim");
    assertPositiveInt(numHeads, "MultiheadAttention numHeads");
    assertPositiveInt(kdim, "MultiheadAttention kdim");
    assertPositiveInt(vdim, "MultiheadAttention vdim");
    if (embedDim % numHeads !== 0) {
      throw new RangeError(
        `MultiheadAttention: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`,
      );
    }
    if (!(dropout >= 0 && dropout <= 1)) {
      throw new RangeError(`MultiheadAttention dropout must be a probability in [0, 1], got ${dropout}`);
    }
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.dropout = dropout;
    this.batchFirst = batchFirst;
    this.kdim = kdim;
    this.vdim = vdim;
    const parameter = (shape: number[]) => new Parameter(zeros(shape, { dtype, device }));
    const separate = kdim !== embedDim || vdim !== embedDim;
    this.in_proj_weight = separate ? null : parameter([3 * embedDim, embedDim]);
    this.q_proj_weight = separate ? parameter([embedDim, embedDim]) : null;
    this.k_proj_weight = separate ? parameter([embedDim, kdim]) : null;
    this.v_proj_weight = separate ? parameter([embedDim, vdim]) : null;
    this.in_proj_bias = bias ? parameter([3 * embedDim]) : null;
    this.outProj = new NonDynamicallyQuantizableLinear(embedDim, embedDim, {
      bias,
      dtype,
      device,
      generator,
    });
    this.resetParameters({ generator });
  }

  /** Xavier-uniform input projections, zero input and output biases (the output weight keeps Linear's draw). */
  resetParameters({ generator }: { generator?: Generator } = {}): void {
    for (const weight of [this.in_proj_weight, this.q_proj_weight, this.k_proj_weight, this.v_proj_weight]) {
      if (weight !== null) xavierUniform_(weight, { generator });
    }
    if (this.in_proj_bias !== null) constant_(this.in_proj_bias, 0);
    if (this.outProj.bias !== null) constant_(this.outProj.bias, 0);
  }

  /** The projection of query, key or value (0, 1, 2): its rows of in_proj_weight/bias, or its own weight. */
  #project(x: Tensor, which: 0 | 1 | 2): Tensor {
    const E = this.embedDim;
    const own = [this.q_proj_weight, this.k_proj_weight, this.v_proj_weight][which];
    const weight = own ?? this.in_proj_weight?.narrow(0, which * E, E);
    if (weight === undefined) throw new Error("MultiheadAttention has no input projection");
    return linear(x, weight, this.in_proj_bias?.narrow(0, which * E, E) ?? null);
  }

  forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    options: MultiheadAttentionForwardOptions = {},
  ): [output: Tensor, weights: Tensor | null] {
    const { keyPaddingMask = null, needWeights = true, attnMask = null, averageAttnWeights = true } = options;
    const batched = query.ndim === 3;
    const expectedRank = batched ? 3 : 2;
    const inputs = [query, key, value].map((t, i) => {
      const features = [this.embedDim, this.kdim, this.vdim][i];
      if (t.ndim !== expectedRank || t.shape[t.ndim - 1] !== features) {
        throw new RangeError(
          `MultiheadAttention: expected query, key and value of ${batched ? "3" : "2"} dims ending in ` +
            `${this.embedDim}, ${this.kdim}, ${this.vdim} features, got ${formatShape(query.shape)}, ` +
            `${formatShape(key.shape)}, ${formatShape(value.shape)}`,
        );
      }
      // Sequence-first (L, N, E) inside; unbatched inputs become a batch of one.
      return batched ? (this.batchFirst ? t.transpose(0, 1) : t) : t.unsqueeze(1);
    });
    const [L, N] = inputs[0].shape;
    const S = inputs[1].shape[0];
    if (inputs[2].shape[0] !== S || inputs[1].shape[1] !== N || inputs[2].shape[1] !== N) {
      throw new RangeError(
        `MultiheadAttention: key and value must have the same length and batch as each other and the query's ` +
          `batch, got query ${formatShape(query.shape)}, key ${formatShape(key.shape)}, value ${formatShape(value.shape)}`,
      );
    }
    const H = this.numHeads;
    const headDim = this.embedDim / H;
    // (T, N, E) → (N, H, T, headDim)
    const heads = (t: Tensor) => t.reshape([t.shape[0], N, H, headDim]).permute(1, 2, 0, 3);
    const [q, k, v] = ([0, 1, 2] as const).map((which) => heads(this.#project(inputs[which], which)));
    let scores = q.mul(1 / Math.sqrt(headDim)).matmul(k.mT);
    if (attnMask !== null) {
      const perHead = attnMask.ndim === 3 ? attnMask.reshape([N, H, L, S]) : attnMask;
      if (!(attnMask.ndim === 2 || attnMask.ndim === 3) || perHead.shape.slice(-2).join() !== `${L},${S}`) {
        throw new RangeError(
          `MultiheadAttention: attnMask must be (L, S) = (${L}, ${S}) or (N·numHeads, L, S) = (${N * H}, ${L}, ${S}), ` +
            `got ${formatShape(attnMask.shape)}`,
        );
      }
      scores = applyAttentionMask(scores, perHead, "mask", "MultiheadAttention attnMask");
    }
    if (keyPaddingMask !== null) {
      const expected = batched ? [N, S] : [S];
      if (keyPaddingMask.shape.join() !== expected.join()) {
        throw new RangeError(
          `MultiheadAttention: keyPaddingMask must be ${formatShape(expected)}, got ${formatShape(keyPaddingMask.shape)}`,
        );
      }
      const padding = keyPaddingMask.reshape([N, 1, 1, S]);
      scores = applyAttentionMask(scores, padding, "mask", "MultiheadAttention keyPaddingMask");
    }
    // PyTorch returns the weights after dropout: the ones the values were averaged with.
    const weights = dropoutFn(scores.softmax(-1), { p: this.dropout, training: this.training });
    const attended = weights.matmul(v);
    // (N, H, L, headDim) → (L, N, E)
    let output = this.outProj.forward(attended.permute(2, 0, 1, 3).reshape([L, N, this.embedDim]));
    output = batched ? (this.batchFirst ? output.transpose(0, 1) : output) : output.squeeze(1);
    if (!needWeights) return [output, null];
    const returned = averageAttnWeights ? weights.mean(1) : weights;
    return [output, batched ? returned : returned.squeeze(0)];
  }
}

/** Options of {@link TransformerEncoderLayer}; PyTorch's names and defaults. */
export interface TransformerEncoderLayerOptions extends FactoryOptions {
  /** Width of the feed-forward block. Default 2048. */
  dimFeedforward?: number;
  /** Dropout in attention, after it, and in and after the feed-forward block. Default 0.1. */
  dropout?: number;
  /** The feed-forward block's activation. Default "relu". */
  activation?: "relu" | "gelu";
  /** The LayerNorms' eps. Default 1e-5. */
  layerNormEps?: number;
  /** (N, S, E) instead of (S, N, E). Default false. */
  batchFirst?: boolean;
  /** LayerNorm before each block (Pre-LN) instead of after each residual sum (Post-LN). Default false. */
  normFirst?: boolean;
}

/** Options of {@link TransformerEncoderLayer.forward} and {@link TransformerEncoder.forward}. */
export interface TransformerEncoderForwardOptions {
  /** (S, S) or (N·nhead, S, S), as MultiheadAttention's attnMask. */
  srcMask?: Tensor | null;
  /** (N, S), as MultiheadAttention's keyPaddingMask. */
  srcKeyPaddingMask?: Tensor | null;
}

/**
 * One Transformer encoder block, PyTorch's `nn.TransformerEncoderLayer`: self-attention and a
 * feed-forward block `linear2(dropout(activation(linear1(x))))`, each with a residual sum and a
 * LayerNorm. Post-LN (default): `x = norm1(x + sa(x)); x = norm2(x + ff(x))`; `normFirst`
 * (Pre-LN): `x = x + sa(norm1(x)); x = x + ff(norm2(x))` — the same placement question as
 * BatchNorm before or after ReLU, settled for Transformers in favour of Pre-LN at depth.
 */
export class TransformerEncoderLayer extends Module<[Tensor, TransformerEncoderForwardOptions?]> {
  selfAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  readonly normFirst: boolean;
  readonly activation: "relu" | "gelu";
  /** What the constructor was given, so TransformerEncoder can build copies. */
  readonly config: { dModel: number; nhead: number; options: TransformerEncoderLayerOptions };

  constructor(dModel: number, nhead: number, options: TransformerEncoderLayerOptions = {}) {
    super();
    const { dimFeedforward = 2048, dropout = 0.1, activation = "relu", layerNormEps = 1e-5 } = options;
    const { batchFirst = false, normFirst = false, dtype, device, generator } = options;
    if (activation !== "relu" && activation !== "gelu") {
      throw new RangeError(
        `TransformerEncoderLayer activation must be "relu" or "gelu", got ${JSON.stringify(activation)}`,
      );
    }
    const factory = { dtype, device, generator };
    this.selfAttn = new MultiheadAttention(dModel, nhead, { dropout, batchFirst, ...factory });
    this.linear1 = new Linear(dModel, dimFeedforward, factory);
    this.dropout = new Dropout(dropout);
    this.linear2 = new Linear(dimFeedforward, dModel, factory);
    this.norm1 = new LayerNorm(dModel, { eps: layerNormEps, dtype, device });
    this.norm2 = new LayerNorm(dModel, { eps: layerNormEps, dtype, device });
    this.dropout1 = new Dropout(dropout);
    this.dropout2 = new Dropout(dropout);
    this.normFirst = normFirst;
    this.activation = activation;
    this.config = { dModel, nhead, options };
  }

  forward(
    src: Tensor,
    { srcMask = null, srcKeyPaddingMask = null }: TransformerEncoderForwardOptions = {},
  ): Tensor {
    const selfAttention = (x: Tensor) =>
      this.dropout1.forward(
        this.selfAttn.forward(x, x, x, {
          attnMask: srcMask,
          keyPaddingMask: srcKeyPaddingMask,
          needWeights: false,
        })[0],
      );
    const feedForward = (x: Tensor) => {
      const hidden = this.linear1.forward(x);
      const activated = this.activation === "relu" ? hidden.relu() : hidden.gelu();
      return this.dropout2.forward(this.linear2.forward(this.dropout.forward(activated)));
    };
    if (this.normFirst) {
      const x = src.add(selfAttention(this.norm1.forward(src)));
      return x.add(feedForward(this.norm2.forward(x)));
    }
    const x = this.norm1.forward(src.add(selfAttention(src)));
    return this.norm2.forward(x.add(feedForward(x)));
  }
}

/**
 * A stack of `numLayers` copies of an encoder layer, PyTorch's `nn.TransformerEncoder` (state keys
 * `layers.0.…`), each copy starting from the given layer's parameters and mode; then `norm` if given.
 */
export class TransformerEncoder extends Module<[Tensor, TransformerEncoderForwardOptions?]> {
  layers: ModuleList<TransformerEncoderLayer>;
  norm: LayerNorm | null;
  readonly numLayers: number;

  constructor(
    encoderLayer: TransformerEncoderLayer,
    numLayers: number,
    { norm = null }: { norm?: LayerNorm | null } = {},
  ) {
    super();
    assertPositiveInt(numLayers, "TransformerEncoder numLayers");
    const { dModel, nhead, options } = encoderLayer.config;
    const copies = Array.from({ length: numLayers }, () => {
      const copy = new TransformerEncoderLayer(dModel, nhead, options);
      copy.loadStateDict(encoderLayer.stateDict());
      return copy.train(encoderLayer.training);
    });
    this.layers = new ModuleList(copies);
    this.norm = norm;
    this.numLayers = numLayers;
  }

  forward(src: Tensor, options: TransformerEncoderForwardOptions = {}): Tensor {
    let x = src;
    for (const layer of this.layers) x = layer.forward(x, options);
    return this.norm === null ? x : this.norm.forward(x);
  }
}
