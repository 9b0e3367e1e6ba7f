// Memory scopes: tidy() disposes every tensor made inside it that the callback does not return.
import type { Tensor } from "./tensor.ts";

const scopes: Set<Tensor>[] = [];

/** Records a new tensor in the innermost `tidy` scope (called by the Tensor constructor). */
export function trackTensor(tensor: Tensor): void {
  scopes.at(-1)?.add(tensor);
}

/** Keeps `tensor` alive past every enclosing `tidy` (for state such as optimizer moments). */
export function keep<T extends Tensor>(tensor: T): T {
  for (const scope of scopes) scope.delete(tensor);
  return tensor;
}

/** Anything `tidy` can return: tensors, possibly nested in arrays or plain objects. */
export type TensorContainer =
  | Tensor
  | number
  | string
  | boolean
  | null
  | undefined
  // biome-ignore lint/suspicious/noConfusingVoidType: lets tidy(() => { ... }) callbacks return nothing
  | void
  | readonly TensorContainer[]
  | { readonly [key: string]: TensorContainer };

function collectTensors(value: unknown, into: Set<unknown>): void {
  if (value === null || typeof value !== "object") return;
  if (into.has(value)) return;
  if ("dataSync" in value && "shape" in value) {
    into.add(value);
    return;
  }
  for (const item of Array.isArray(value) ? value : Object.values(value)) collectTensors(item, into);
}

/**
 * Runs `fn` and disposes every tensor created during it except the ones it returns (which
 * move to the enclosing scope) and the ones passed to `keep`. Free on CPU; on GPU.js this is
 * how device memory is given back. `fn` must be synchronous.
 */
export function tidy<T extends TensorContainer>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T | undefined;
  try {
    result = fn();
    return result;
  } finally {
    scopes.pop();
    const returned = new Set<unknown>();
    collectTensors(result, returned);
    const parent = scopes.at(-1);
    for (const tensor of scope) {
      if (returned.has(tensor)) parent?.add(tensor);
      else tensor.dispose();
    }
  }
}
