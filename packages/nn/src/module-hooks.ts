// Module hooks: the forward wrapper that runs forward pre-hooks and forward hooks, and full backward hooks built from a pair of them.
import { defineOp, formatShape, keep, shapesEqual, type Tensor } from "@normgrad/core";

/**
 * A full backward hook: sees the gradients w.r.t. the module's tensor inputs (null where an
 * input does not require grad) and its output, and may return replacements for `gradInput`.
 */
export type FullBackwardHook<M> = (
  module: M,
  gradInput: readonly (Tensor | null)[],
  gradOutput: readonly (Tensor | null)[],
) => readonly (Tensor | null)[] | undefined;

/** The forward hooks of one module, bound to it, in registration order. */
export interface ModuleHooks<In extends unknown[], Out> {
  pre: ((inputs: In) => In | undefined)[];
  post: ((inputs: In, output: Out) => Out | undefined)[];
}

/** A forward wrapped by {@link hookedForward}, carrying its hook lists. */
export type HookedForward<In extends unknown[], Out> = ((...inputs: In) => Out) & {
  readonly hooks: ModuleHooks<In, Out>;
};

/** Whether a module's forward is already wrapped (its hooks live on the wrapper). */
export function isHookedForward<In extends unknown[], Out>(
  forward: (...inputs: In) => Out,
): forward is HookedForward<In, Out> {
  return "hooks" in forward;
}

/** `forward` with the pre-hooks before it (each may replace the inputs) and the hooks after it (each may replace the output). */
export function hookedForward<In extends unknown[], Out>(
  forward: (...inputs: In) => Out,
  hooks: ModuleHooks<In, Out>,
): HookedForward<In, Out> {
  const hooked = (...given: In): Out => {
    let inputs = given;
    for (const hook of [...hooks.pre]) inputs = hook(inputs) ?? inputs;
    let output = forward(...inputs);
    for (const hook of [...hooks.post]) output = hook(inputs, output) ?? output;
    return output;
  };
  return Object.assign(hooked, { hooks });
}

/**
 * A full backward hook as a forward pre-hook and a forward hook (PyTorch's
 * BackwardHookFunction): the pre-hook passes the inputs that require grad through an identity
 * op whose backward has dL/d(input) and runs the hook; the forward hook passes the output through
 * an identity op whose backward records dL/d(output) first (and, when no input requires grad,
 * runs the hook with null gradInputs itself).
 */
export function fullBackwardHookPair(
  name: string,
  hook: (
    gradInput: readonly (Tensor | null)[],
    gradOutput: readonly (Tensor | null)[],
  ) => readonly (Tensor | null)[] | undefined,
): { pre: (inputs: Tensor[]) => Tensor[]; post: (inputs: Tensor[], output: Tensor) => Tensor } {
  // One entry per forward call in progress (a module may run inside itself, e.g. recursion).
  const calls: { gradOutput: Tensor | null; inputs: Tensor[] }[] = [];
  const run = (call: (typeof calls)[number], gradInput: readonly (Tensor | null)[]) => {
    const replaced = hook(gradInput, [call.gradOutput]);
    if (replaced === undefined) return gradInput;
    if (replaced.length !== gradInput.length) {
      throw new Error(
        `${name}: a full backward hook returned ${replaced.length} gradients for ${gradInput.length} inputs`,
      );
    }
    replaced.forEach((gradient, i) => {
      const shape = call.inputs[i].shape;
      if (gradient !== null && !shapesEqual(gradient.shape, shape)) {
        throw new Error(
          `${name}: a full backward hook returned a gradient of shape ${formatShape(gradient.shape)} for input ` +
            `${i} of shape ${formatShape(shape)}`,
        );
      }
    });
    return replaced;
  };
  return {
    pre: (inputs) => {
      if (inputs.length !== 1) {
        throw new Error(
          `${name}: full backward hooks support modules called with one tensor, this one got ${inputs.length} inputs`,
        );
      }
      const call: (typeof calls)[number] = { gradOutput: null, inputs };
      calls.push(call);
      const [x] = inputs;
      if (!x.requiresGrad) return inputs;
      const enter = defineOp<[Tensor], null>({
        name: `${name}BackwardHook`,
        twiceDifferentiable: true,
        forward: (input) => ({ output: input.clone(), saved: null }),
        // A hook that answers null for the input's gradient stops it: zeros flow on.
        backward: (dy) => {
          const [gradient] = run(call, [dy]);
          call.gradOutput?.dispose();
          return [gradient ?? dy.zerosLike()];
        },
      });
      return [enter(x)];
    },
    post: (_inputs, output) => {
      const call = calls.pop();
      if (call === undefined) return output;
      const anyNeedsGrad = call.inputs.some((input) => input.requiresGrad);
      const leave = defineOp<[Tensor], null>({
        name: `${name}BackwardHook`,
        twiceDifferentiable: true,
        forward: (y) => ({ output: y.clone(), saved: null }),
        backward: (dy) => {
          if (!anyNeedsGrad) {
            call.gradOutput = dy;
            run(
              call,
              call.inputs.map(() => null),
            );
            return [dy];
          }
          // Kept for the input's backward, which runs later (backward frees dy once consumed).
          call.gradOutput = keep(dy.clone());
          return [dy];
        },
      });
      return output.requiresGrad ? leave(output) : output;
    },
  };
}
