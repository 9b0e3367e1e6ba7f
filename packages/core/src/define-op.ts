// Custom ops with a hand-written backward: normgrad's torch.autograd.Function.
import { GradNode, isGradEnabled, noGrad } from "./autograd.ts";
import { Tensor } from "./tensor.ts";

/** What `defineOp` needs: a forward that also returns what backward will need, and the backward. */
export interface CustomOpSpec<Inputs extends readonly Tensor[], Saved> {
  /** Names the op in errors and in `gradFn.name`. */
  name: string;
  /**
   * Computes the output from the inputs (no graph is recorded inside) and the values backward
   * needs. The tensors in `saved` (itself, or inside arrays and plain objects; save the output
   * there if backward reads it) must not be written in place before backward: backward throws
   * if they are, as it does for the inputs.
   */
  forward: (...inputs: Inputs) => { output: Tensor; saved: Saved };
  /**
   * Given dL/d(output) and the saved values, returns dL/d(input) for each input, in order.
   * Entries whose `needsInputGrad` is false may be null (and should be, to save work). It runs
   * inside a `tidy`: tensors it creates and does not return are disposed when it returns
   * (`keep()` one to hold on to it), and the gradients it returns are disposed once autograd
   * has consumed them, unless they existed before `backward()` began.
   */
  backward: (
    dy: Tensor,
    saved: Saved,
    needsInputGrad: readonly boolean[],
  ) => { [K in keyof Inputs]: Tensor | null };
  /**
   * Declares that `backward` can be differentiated again (default false). Under `createGraph`
   * the backward runs with grad mode on (`isGradEnabled()` is true), so the tensor ops it runs
   * on `dy` and on the op's inputs are recorded; it must then compute from the inputs themselves,
   * because the values `forward` saved were made without a graph (recompute them, as
   * `fusedNormalize` does). Without this flag, backward with `createGraph` through the op throws
   * rather than return a gradient whose graph silently misses a path.
   */
  twiceDifferentiable?: boolean;
}

/**
 * Defines an op whose gradient is hand-written rather than derived by autograd:
 *
 * ```ts
 * const cube = defineOp({
 *   name: "cube",
 *   forward: (x: Tensor) => ({ output: x.mul(x).mul(x), saved: x }),
 *   backward: (dy, x) => [dy.mul(x.mul(x).mul(3))],   // d(x³)/dx = 3x²
 * });
 * gradcheck(cube, [randn([3], { dtype: "float64", requiresGrad: true })]);
 * ```
 * Check every custom op with `gradcheck`.
 */
export function defineOp<Inputs extends readonly Tensor[], Saved>(
  spec: CustomOpSpec<Inputs, Saved>,
): (...inputs: Inputs) => Tensor {
  return (...inputs: Inputs): Tensor => {
    const { output: computed, saved } = noGrad(() => spec.forward(...inputs));
    // The output must be a tensor of its own, even if forward returned an input unchanged.
    const output = inputs.includes(computed) ? computed.detach() : computed;
    if (isGradEnabled() && inputs.some((input) => input.requiresGrad)) {
      output.attachGradFn(
        new GradNode(
          spec.name,
          inputs,
          (dy, needs) => {
            const grads = spec.backward(dy, saved, needs);
            if (grads.length !== inputs.length) {
              throw new Error(
                `${spec.name}: backward returned ${grads.length} gradients for ${inputs.length} inputs`,
              );
            }
            return grads;
          },
          savedTensors(saved),
          spec.twiceDifferentiable ?? false,
        ),
      );
    }
    return output;
  };
}

/** The tensors in `saved`: itself, or found in arrays and plain objects (recursively). */
function savedTensors(saved: unknown, found: Tensor[] = [], seen = new Set<unknown>()): Tensor[] {
  if (saved === null || typeof saved !== "object" || seen.has(saved)) return found;
  seen.add(saved);
  if (saved instanceof Tensor) found.push(saved);
  else if (Array.isArray(saved)) for (const item of saved) savedTensors(item, found, seen);
  else if (Object.getPrototypeOf(saved) === Object.prototype) {
    for (const item of Object.values(saved)) savedTensors(item, found, seen);
  }
  return found;
}
