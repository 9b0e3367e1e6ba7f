// The Embedding layer: a lookup table of learned rows.
import { fromValues, type Generator, noGrad, type Tensor, zeros } from "@normgrad/core";
import { embedding, refuseMaxNorm, resolvePaddingIdx } from "../functional/embedding.ts";
import { assertPositiveInt, type FactoryOptions } from "../functional/validate.ts";
import { normal_ } from "../init.ts";
import { Module, Parameter } from "../module.ts";

/** Options of `Embedding`. */
export interface EmbeddingLayerOptions extends FactoryOptions {
  /** A row initialized to 0 whose lookups get no gradient (negative counts from the end); default null. */
  paddingIdx?: number | null;
  /** Not supported: anything but null/undefined throws. */
  maxNorm?: number | null;
}

/**
 * A lookup table (see `F.embedding`): int32 indices of any shape → their rows of `weight`
 * (numEmbeddings, embeddingDim), drawn from N(0, 1) as PyTorch, with the `paddingIdx` row
 * set to 0. State-dict key: `weight`.
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  /** Non-negative (a negative option counts from the end), or null. */
  readonly paddingIdx: number | null;
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, options: EmbeddingLayerOptions = {}) {
    super();
    const { paddingIdx = null, maxNorm = null, dtype = "float32", device = "cpu", generator } = options;
    assertPositiveInt(numEmbeddings, "Embedding numEmbeddings");
    assertPositiveInt(embeddingDim, "Embedding embeddingDim");
    refuseMaxNorm(maxNorm, "Embedding");
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx = resolvePaddingIdx(paddingIdx, numEmbeddings, "Embedding");
    this.weight = new Parameter(zeros([numEmbeddings, embeddingDim], { dtype, device }));
    this.resetParameters({ generator });
  }

  /** Re-draws the weight from N(0, 1) and zeroes the padding row. */
  resetParameters({ generator }: { generator?: Generator } = {}): void {
    normal_(this.weight, 0, 1, { generator });
    const padding = this.paddingIdx;
    if (padding === null) return;
    const keep = Array.from({ length: this.numEmbeddings }, (_, row) => (row === padding ? 0 : 1));
    const { dtype, device } = this.weight;
    const mask = fromValues(keep, [this.numEmbeddings, 1], { dtype, device });
    // + 0 turns the −0 of a negative draw times 0 into +0, as PyTorch's fill_(0).
    noGrad(() => this.weight.copy_(this.weight.mul(mask).add(0)));
  }

  forward(input: Tensor): Tensor {
    return embedding(input, this.weight, { paddingIdx: this.paddingIdx });
  }

  override extraRepr(): string {
    const padding = this.paddingIdx === null ? "" : `, padding_idx=${this.paddingIdx}`;
    return `${this.numEmbeddings}, ${this.embeddingDim}${padding}`;
  }
}
