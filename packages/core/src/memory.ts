// Memory scopes: tidy() disposes every tensor made inside it that the callback does not return.
import type { Tensor } from "./tensor.ts";

const scopes: Set<Tensor>[] = [];

let created = 0;

/**
 * Records a new tensor in the innermost `tidy` scope (called by the Tensor constructor) and
 * returns its serial number: tensors are numbered in creation order from 0.
 */
export function trackTensor(tensor: Tensor): number {
  scopes.at(-1)?.add(tensor);
  return created++;
}

/** The number of tensors created so far: the next tensor's serial number. */
export function tensorsCreated(): number {
  return created;
}

/** Keeps `tensor` alive past every enclosing `tidy` (for state such as optimizer moments). */
export function keep<T extends Tensor>(tensor: T): T {
  for (const scope of scopes) scope.delete(tensor);
  return tensor;
}

/** Anything `tidy` can return: tensors, possibly nested in arrays, plain objects, Maps and Sets. */
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
  | ReadonlyMap<TensorContainer, TensorContainer>
  | ReadonlySet<TensorContainer>
  | { readonly [key: string]: TensorContainer };

function collectTensors(value: unknown, into: Set<unknown>): void {
  // Containers are recorded too, so a container that holds itself is walked once.
  if (value === null || typeof value !== "object" || into.has(value)) return;
  into.add(value);
  if ("dataSync" in value && "shape" in value) return;
  if (value instanceof Map) {
    for (const [key, item] of value) {
      collectTensors(key, into);
      collectTensors(item, into);
    }
    return;
  }
  const items: Iterable<unknown> =
    Array.isArray(value) || value instanceof Set ? value : Object.values(value);
  for (const item of items) collectTensors(item, into);
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && "then" in value && typeof value.then === "function";
}

/**
 * Runs `fn` and disposes every tensor created during it except the ones it returns (which
 * move to the enclosing scope; they are found in arrays, plain objects, Maps and Sets) and the
 * ones passed to `keep`. Free on CPU; on GPU.js this is how device memory is given back. `fn`
 * must be synchronous: a callback returning a Promise (an async function) is refused, as TF.js
 * does, because the scope would close at its first `await`.
 */
export function tidy<T extends TensorContainer>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T | undefined;
  try {
    result = fn();
    if (isPromiseLike(result)) {
      // The work after its first await still runs; keep its failures (on tensors this tidy
      // disposes) from surfacing as an unhandled rejection on top of this error.
      result.then(undefined, () => undefined);
      throw new TypeError(
        "tidy(fn): fn returned a Promise, but tidy is synchronous and would dispose tensors the async " +
          "work still uses: await outside, and wrap each synchronous part in its own tidy",
      );
    }
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
