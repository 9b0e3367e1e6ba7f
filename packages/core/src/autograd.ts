// The reverse-mode engine: graph nodes, grad mode, and backward over a topological order.
import { tensorsCreated, tidy } from "./memory.ts";
import { formatShape, shapesEqual } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

let gradEnabled = true;

/** True unless inside `noGrad`. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` with grad mode set to `enabled`, restoring the previous mode after. */
function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Runs `fn` without recording a graph (PyTorch's `torch.no_grad()`): for evaluation and updates. */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` recording a graph even inside `noGrad` (PyTorch's `torch.enable_grad()`). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
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

  /**
   * @param twiceDifferentiable whether `backward` is written with recorded tensor ops, so that
   * under `createGraph` its result can be differentiated again. A node without it refuses to run
   * under `createGraph` rather than hand back a gradient with a silently missing graph.
   */
  constructor(
    readonly name: string,
    readonly inputs: readonly Tensor[],
    backward: BackwardFunction,
    saved: readonly Tensor[] = [],
    readonly twiceDifferentiable = true,
  ) {
    this.#backward = backward;
    this.inputVersions = inputs.map((input) => input.version);
    this.#saved = saved;
    this.#savedVersions = saved.map((tensor) => tensor.version);
  }

  /**
   * Runs the backward function, checking the graph is still there, its inputs and saved tensors
   * unchanged, and (under `createGraph`) that the backward can be recorded.
   */
  apply(dy: Tensor, needsInputGrad: readonly boolean[], createGraph = false): readonly (Tensor | null)[] {
    if (createGraph && !this.twiceDifferentiable) {
      throw new Error(
        `${this.name} has no differentiable backward, so backward with { createGraph: true } (or grad() ` +
          "with createGraph) cannot go through it: its backward is a kernel or plain values, not recorded ops",
      );
    }
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

/** The tensors reachable from `roots` through grad nodes, inputs before outputs. */
function topologicalOrder(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative depth-first search: deep networks would overflow the call stack.
  const stack: [Tensor, boolean][] = roots.map((root): [Tensor, boolean] => [root, false]).reverse();
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

/** How `runBackward` runs and where the gradients go. */
export interface BackwardRun {
  /** Keep the saved values so the graph can be run through again. */
  retainGraph: boolean;
  /**
   * Record the backward pass itself (PyTorch's `create_graph`): the gradients come out with a
   * graph of their own and can be differentiated again. Nothing is disposed early then.
   */
  createGraph: boolean;
  /**
   * Where a leaf's gradient goes (default: accumulated into its `.grad`). `exclusive` says the
   * engine made `dy` and nothing else refers to it, so `onLeaf` may keep it without a copy.
   */
  onLeaf?: (leaf: Tensor, dy: Tensor, exclusive: boolean) => void;
  /**
   * `grad()`'s mode: the total gradient of each tensor in `of` (leaf or not) is stored in `into`,
   * and no `.grad` is touched. A tensor the outputs do not depend on stays absent from `into`.
   */
  capture?: { of: ReadonlySet<Tensor>; into: Map<Tensor, Tensor> };
}

/**
 * Backpropagates `seeds[i]` (the gradient of some scalar w.r.t. `roots[i]`) through the graph.
 * Each tensor's gradient is complete once every op that used it has sent its share back (reverse
 * topological order); then its hooks run (`registerHook`, which may replace it), a non-leaf that
 * `retainGrad()`ed keeps a copy in `.grad`, and a leaf gets it as {@link BackwardRun} says.
 *
 * Without `createGraph` the pass runs without recording, and the gradients the engine makes along
 * the way are disposed as soon as they are consumed, so a training step's intermediate gradients
 * go back to the backend's buffers at once instead of waiting for the garbage collector: the
 * engine counts its references to each gradient tensor (a VJP may pass its dy on unchanged, or
 * return one tensor for two inputs) and disposes one it made (created after backward began) when
 * the count drops to zero. Each VJP runs in a `tidy`, so the temporaries it makes and does not
 * return are disposed when it returns. All of this only on backends whose
 * `releasesGradientsEagerly` is true (the CPU). With `createGraph` the VJPs are recorded (they
 * are written with tensor ops) and every tensor they make may be part of the new graph, so none
 * is disposed.
 */
export function runBackward(
  roots: readonly Tensor[],
  seeds: readonly Tensor[],
  {
    retainGraph,
    createGraph,
    onLeaf = (leaf, dy, exclusive) => leaf.accumulateGrad(dy, exclusive, createGraph),
    capture,
  }: BackwardRun,
): void {
  const order = topologicalOrder(roots);
  const grads = new Map<Tensor, Tensor>();
  const firstMade = tensorsCreated();
  const references = new Map<Tensor, number>();
  const handedOver = new Set<Tensor>();
  // Made by this backward (not a seed, not kept for a new graph): a leaf may own such a gradient.
  const madeHere = (t: Tensor): boolean => !createGraph && t.serial >= firstMade && !seeds.includes(t);
  const isMade = (t: Tensor): boolean => madeHere(t) && t.backend.releasesGradientsEagerly;
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
    if (isMade(t) && !handedOver.has(t)) t.dispose();
  };
  const add = (tensor: Tensor, dy: Tensor): void => {
    const previous = grads.get(tensor);
    const total = previous === undefined ? dy : previous.add(dy);
    grads.set(tensor, total);
    hold(total);
    if (previous !== undefined) drop(previous);
  };
  roots.forEach((root, i) => {
    hold(seeds[i]);
    add(root, seeds[i]);
    drop(seeds[i]);
  });
  withGradMode(createGraph, () => {
    for (let i = order.length - 1; i >= 0; i--) {
      const tensor = order[i];
      let dy = grads.get(tensor);
      if (dy === undefined) continue;
      grads.delete(tensor);
      const hooked = tensor.runGradHooks(dy);
      if (hooked !== dy) {
        hold(hooked);
        drop(dy);
        dy = hooked;
      }
      const node = tensor.gradFn;
      if (capture?.of.has(tensor)) {
        // Handed to the caller: never disposed by the engine.
        capture.into.set(tensor, dy);
        handedOver.add(dy);
      }
      if (node === null) {
        if (capture !== undefined) {
          drop(dy);
          continue;
        }
        // Owned without a copy on every backend: keeping a gradient releases nothing early.
        const exclusive = references.get(dy) === 1 && madeHere(dy) && dy.storage.references === 1;
        if (exclusive) references.delete(dy);
        else {
          handedOver.add(dy);
          drop(dy);
        }
        onLeaf(tensor, dy, exclusive);
        continue;
      }
      if (tensor.retainsGrad && capture === undefined) tensor.accumulateGrad(dy, false, createGraph);
      const needs = node.inputs.map((input) => input.requiresGrad);
      // Temporaries of the VJP (masks, products) go back to the backend when it returns.
      const eager =
        !createGraph &&
        dy.backend.releasesGradientsEagerly &&
        node.inputs.every((input) => input.backend.releasesGradientsEagerly);
      const inputGrads = eager
        ? tidy(() => node.apply(dy, needs, createGraph))
        : node.apply(dy, needs, createGraph);
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
        if (needs[k] && inputGrad !== null && inputGrad !== undefined) add(input, inputGrad);
      });
      for (const inputGrad of produced) drop(inputGrad);
      drop(dy);
      if (!retainGraph) node.release();
    }
  });
}
