// grad(): gradients of outputs w.r.t. chosen inputs, returned rather than accumulated (torch.autograd.grad).
import { noGrad, runBackward } from "./autograd.ts";
import { formatShape, shapesEqual } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** Options of {@link grad}. */
export interface GradOptions {
  /**
   * d(something)/d(outputs[i]), one per output (PyTorch's `grad_outputs`); may be left out only
   * when every output has one element (then 1 each).
   */
  gradOutputs?: readonly Tensor[];
  /** Record the backward pass so the returned gradients can be differentiated again. Default false. */
  createGraph?: boolean;
  /** Keep the graph's saved values for another backward. Default `createGraph`. */
  retainGraph?: boolean;
  /**
   * Return null for an input the outputs do not depend on, instead of throwing. Default false
   * (PyTorch's `allow_unused`).
   */
  allowUnused?: boolean;
}

/**
 * The gradients of `Σᵢ ⟨gradOutputs[i], outputs[i]⟩` w.r.t. each of `inputs` (leaves or not), as
 * new tensors, in order. Nothing is accumulated into any `.grad` (PyTorch's
 * `torch.autograd.grad`). With `createGraph` the results carry a graph of their own, so a
 * function of them (a gradient penalty, a Hessian-vector product) can be differentiated again:
 *
 * ```ts
 * const x = tensor([1, 2, 3], { dtype: "float64", requiresGrad: true });
 * const [dx] = grad([x.pow(3).sum()], [x], { createGraph: true });   // 3x²
 * const [ddx] = grad([dx!.sum()], [x]);                               // 6x
 * ```
 */
export function grad(
  outputs: readonly Tensor[],
  inputs: readonly Tensor[],
  { gradOutputs, createGraph = false, retainGraph = createGraph, allowUnused = false }: GradOptions = {},
): (Tensor | null)[] {
  if (outputs.length === 0) throw new Error("grad: no outputs to differentiate");
  if (gradOutputs !== undefined && gradOutputs.length !== outputs.length) {
    throw new Error(
      `grad: ${gradOutputs.length} gradOutputs for ${outputs.length} outputs; give one per output`,
    );
  }
  outputs.forEach((output, i) => {
    if (!output.requiresGrad) {
      throw new Error(
        `grad: output ${i} (shape ${formatShape(output.shape)}) does not require grad and has no gradFn`,
      );
    }
  });
  inputs.forEach((input, i) => {
    if (!input.requiresGrad) {
      throw new Error(`grad: input ${i} (shape ${formatShape(input.shape)}) does not require grad`);
    }
  });
  const seeds = outputs.map((output, i) => {
    const given = gradOutputs?.[i];
    if (given === undefined) {
      if (output.size !== 1) {
        throw new Error(
          `grad: output ${i} has shape ${formatShape(output.shape)}; without gradOutputs every output must have ` +
            "one element",
        );
      }
      return noGrad(() => output.onesLike());
    }
    if (!shapesEqual(given.shape, output.shape)) {
      throw new RangeError(
        `grad: gradOutputs[${i}] has shape ${formatShape(given.shape)} but output ${i} has shape ` +
          formatShape(output.shape),
      );
    }
    return given;
  });
  const found = new Map<Tensor, Tensor>();
  runBackward(outputs, seeds, { retainGraph, createGraph, capture: { of: new Set(inputs), into: found } });
  return inputs.map((input, i) => {
    const gradient = found.get(input);
    if (gradient !== undefined) return gradient;
    if (!allowUnused) {
      throw new Error(
        `grad: input ${i} (shape ${formatShape(input.shape)}) was not used to compute the outputs; pass ` +
          "allowUnused: true to get null for it",
      );
    }
    return null;
  });
}
