// The reverse-mode engine: graph nodes, grad mode, and backward over a topological order.
import { tensorsCreated, tidy } from "./memory.ts";
import { formatShape, shapesEqual } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

let gradEnabled = true;

/** True unless inside `noGrad`. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording a graph (PyTorch's `torch.no_grad()`): for evaluation and updates. */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Gradients of a node's inputs given the gradient of its output; entries for unneeded inputs may be null. */
export type BackwardFunction = (dy: Tensor, needsInputGrad: readonly boolean[]) => readonly (Tensor | null)[];

/**
 * Throws when `tensor`, which `node` saved for backward at version `expected`, was written in
 * place since (PyTorch's version check). `what` names the tensor: "input 1", "output", ….
 */
export function assertUnmodified(tensor: Tensor, expected: number, node: string, what: string): void {
  if (tensor.version === expected) return;
  throw new Error(
    `a tensor of shape ${formatShape(tensor.shape)} (${what} of ${node}) needed for backward was modified ` +
      `in place (version ${tensor.version}, expected ${expected}): ` +
      "clone it before the in-place op, or do the in-place op after backward",
  );
}

/**
 * One recorded operation: its inputs, the other tensors its backward reads (`saved`, such as a
 * custom op's output), their versions when recorded, and how to send a gradient back.
 */
export class GradNode {
  #backward: BackwardFunction | null;
  readonly inputVersions: readonly number[];
  readonly #saved: readonly Tensor[];
  readonly #savedVersions: readonly number[];

  constructor(
    readonly name: string,
    readonly inputs: readonly Tensor[],
    backward: BackwardFunction,
    saved: readonly Tensor[] = [],
  ) {
    this.#backward = backward;
    this.inputVersions = inputs.map((input) => input.version);
    this.#saved = saved;
    this.#savedVersions = saved.map((tensor) => tensor.version);
  }

  /** Runs the backward function, checking the graph is still there and its inputs and saved tensors unchanged. */
  apply(dy: Tensor, needsInputGrad: readonly boolean[]): readonly (Tensor | null)[] {
    if (this.#backward === null) {
      throw new Error(
        `trying to backward through the graph a second time (through ${this.name}): its saved values were ` +
          "freed after the first backward. Pass { retainGraph: true } to the first backward() to keep them",
      );
    }
    this.inputs.forEach((input, i) => {
      assertUnmodified(input, this.inputVersions[i], this.name, `input ${i}`);
    });
    this.#saved.forEach((tensor, i) => {
      assertUnmodified(tensor, this.#savedVersions[i], this.name, `saved tensor ${i}`);
    });
    return this.#backward(dy, needsInputGrad);
  }

  /** Drops the saved values (what backward without `retainGraph` does). */
  release(): void {
    this.#backward = null;
  }
}

/** The tensors reachable from `root` through grad nodes, inputs before outputs. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative depth-first search: deep networks would overflow the call stack.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [tensor, expanded] = stack.pop()!;
    if (expanded) {
      order.push(tensor);
      continue;
    }
    if (visited.has(tensor)) continue;
    visited.add(tensor);
    stack.push([tensor, true]);
    for (const input of tensor.gradFn?.inputs ?? []) {
      if (input.requiresGrad && !visited.has(input)) stack.push([input, false]);
    }
  }
  return order;
}

/**
 * Backpropagates `grad` (the gradient of some scalar w.r.t. `root`) through the graph and hands
 * each leaf that requires grad its gradient: by default accumulated into its `.grad`, or to
 * `onLeaf` (gradcheck collects them there and leaves every `.grad` as it was). Runs without
 * recording, so gradients are not themselves differentiable (no `create_graph`).
 *
 * The gradients the engine makes along the way are disposed as soon as they are consumed, so a
 * training step's intermediate gradients go back to the backend's buffers at once instead of
 * waiting for the garbage collector: the engine counts its references to each gradient tensor
 * (a VJP may pass its dy on unchanged, or return one tensor for two inputs) and disposes one it
 * made (created after backward began) when the count drops to zero. Each VJP runs in a `tidy`,
 * so the temporaries it makes and does not return are disposed when it returns. A leaf's
 * gradient is `exclusive` when nothing else refers to it: `onLeaf` then owns it. All of this
 * only on backends whose `releasesGradientsEagerly` is true (the CPU).
 */
export function runBackward(
  root: Tensor,
  grad: Tensor,
  retainGraph: boolean,
  onLeaf: (leaf: Tensor, dy: Tensor, exclusive: boolean) => void = (leaf, dy, exclusive) =>
    leaf.accumulateGrad(dy, exclusive),
): void {
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, grad]]);
  const firstMade = tensorsCreated();
  const references = new Map<Tensor, number>();
  const handedToLeaves = new Set<Tensor>();
  const isMade = (t: Tensor): boolean =>
    t.serial >= firstMade && t !== grad && t.backend.releasesGradientsEagerly;
  const hold = (t: Tensor): void => {
    references.set(t, (references.get(t) ?? 0) + 1);
  };
  const drop = (t: Tensor): void => {
    const count = (references.get(t) ?? 0) - 1;
    if (count > 0) {
      references.set(t, count);
      return;
    }
    references.delete(t);
    if (isMade(t) && !handedToLeaves.has(t)) t.dispose();
  };
  hold(grad);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const tensor = order[i];
      const dy = grads.get(tensor);
      if (dy === undefined) continue;
      grads.delete(tensor);
      const node = tensor.gradFn;
      if (node === null) {
        const exclusive = references.get(dy) === 1 && isMade(dy) && dy.storage.references === 1;
        if (exclusive) references.delete(dy);
        else {
          handedToLeaves.add(dy);
          drop(dy);
        }
        onLeaf(tensor, dy, exclusive);
        continue;
      }
      const needs = node.inputs.map((input) => input.requiresGrad);
      // Temporaries of the VJP (masks, products) go back to the backend when it returns.
      const eager =
        dy.backend.releasesGradientsEagerly &&
        node.inputs.every((input) => input.backend.releasesGradientsEagerly);
      const inputGrads = eager ? tidy(() => node.apply(dy, needs)) : node.apply(dy, needs);
      const produced: Tensor[] = [];
      node.inputs.forEach((input, k) => {
        const inputGrad = inputGrads[k];
        if (!needs[k]) return;
        if (inputGrad === null || inputGrad === undefined) {
          throw new Error(`${node.name} returned no gradient for input ${k}, which requires grad`);
        }
        if (!shapesEqual(inputGrad.shape, input.shape)) {
          throw new Error(
            `${node.name} returned a gradient of shape ${formatShape(inputGrad.shape)} for input ${k} ` +
              `of shape ${formatShape(input.shape)}`,
          );
        }
        produced.push(inputGrad);
        hold(inputGrad);
      });
      node.inputs.forEach((input, k) => {
        const inputGrad = inputGrads[k];
        if (!needs[k] || inputGrad === null || inputGrad === undefined) return;
        const previous = grads.get(input);
        const total = previous === undefined ? inputGrad : previous.add(inputGrad);
        grads.set(input, total);
        hold(total);
        if (previous !== undefined) drop(previous);
      });
      for (const inputGrad of produced) drop(inputGrad);
      drop(dy);
      if (!retainGraph) node.release();
    }
  });
}
