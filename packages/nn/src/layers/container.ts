// Containers: Sequential (chains its children), ModuleList and ModuleDict (hold them for a custom forward), ParameterList.
import { Tensor } from "@normgrad/core";
import { type AnyModule, Module, Parameter } from "../module.ts";

/** A module mapping one tensor to one tensor, as Sequential chains them. */
export type TensorModule = Module<[Tensor], Tensor>;

/**
 * Stores `modules` as fields named "0", "1", … after the `start` already held (so state keys read
 * `0.weight`, as PyTorch); the typed list is kept privately for iteration.
 */
function assignIndexed(owner: object, modules: readonly AnyModule[], start: number): void {
  modules.forEach((module, i) => {
    if (!(module instanceof Module))
      throw new TypeError(`item ${start + i} is not a Module: ${String(module)}`);
    Reflect.set(owner, String(start + i), module);
  });
}

function checkedIndex(index: number, length: number, what: string): number {
  const position = index < 0 ? index + length : index;
  if (!Number.isInteger(position) || position < 0 || position >= length) {
    throw new RangeError(`${what} index ${index} is out of range for length ${length}`);
  }
  return position;
}

/**
 * Applies its children in order: `new Sequential(new Linear(2, 3), new ReLU())`. Children are
 * named `0`, `1`, … in reprs and state dicts, as PyTorch.
 */
export class Sequential extends Module implements Iterable<TensorModule> {
  #items: TensorModule[] = [];

  constructor(...modules: TensorModule[]) {
    super();
    this.append(...modules);
  }

  /** Adds modules at the end. */
  append(...modules: TensorModule[]): this {
    assignIndexed(this, modules, this.#items.length);
    this.#items.push(...modules);
    return this;
  }

  /** Number of children. */
  get length(): number {
    return this.#items.length;
  }

  /** The child at `index` (negative counts from the end). */
  at(index: number): TensorModule {
    return this.#items[checkedIndex(index, this.#items.length, "Sequential")];
  }

  /** Replaces the child at `index` (negative counts from the end), as PyTorch's `seq[i] = module`. */
  set(index: number, module: TensorModule): this {
    const position = checkedIndex(index, this.#items.length, "Sequential");
    assignIndexed(this, [module], position);
    this.#items[position] = module;
    return this;
  }

  /** The children in order. */
  *[Symbol.iterator](): Iterator<TensorModule> {
    yield* this.#items;
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const module of this) y = module.forward(y);
    return y;
  }
}

/**
 * Holds modules so their parameters are found (a plain array is not walked), for a forward
 * written by hand: `for (const block of this.blocks) x = block.forward(x)`. It has no forward.
 */
export class ModuleList<M extends AnyModule = AnyModule>
  extends Module<never[], never>
  implements Iterable<M>
{
  #items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    this.append(...modules);
  }

  /** Adds modules at the end. */
  append(...modules: M[]): this {
    assignIndexed(this, modules, this.#items.length);
    this.#items.push(...modules);
    return this;
  }

  /** Number of modules. */
  get length(): number {
    return this.#items.length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): M {
    return this.#items[checkedIndex(index, this.#items.length, "ModuleList")];
  }

  /** Replaces the module at `index` (negative counts from the end), as PyTorch's `modules[i] = module`. */
  set(index: number, module: M): this {
    const position = checkedIndex(index, this.#items.length, "ModuleList");
    assignIndexed(this, [module], position);
    this.#items[position] = module;
    return this;
  }

  /** The modules in order. */
  *[Symbol.iterator](): Iterator<M> {
    yield* this.#items;
  }

  forward(): never {
    throw new Error("ModuleList has no forward(): iterate it and call each module's forward yourself");
  }
}

/**
 * Holds modules by string key, in insertion order, so their parameters are found (state-dict
 * keys `<key>.<param>`, as PyTorch's `nn.ModuleDict`). Keys must be non-empty, without `.`,
 * without capital letters (field names map to snake_case state keys) and not integer-like
 * (JavaScript orders those first). It has no forward.
 */
export class ModuleDict<M extends AnyModule = AnyModule>
  extends Module<never[], never>
  implements Iterable<[string, M]>
{
  #items = new Map<string, M>();

  constructor(modules: Record<string, M> | Iterable<readonly [string, M]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? modules : Object.entries(modules);
    for (const [key, module] of entries as Iterable<readonly [string, M]>) this.set(key, module);
  }

  /** Adds or replaces the module at `key`. */
  set(key: string, module: M): this {
    if (
      typeof key !== "string" ||
      key === "" ||
      key.includes(".") ||
      /[A-Z]/.test(key) ||
      /^\d+$/.test(key)
    ) {
      throw new RangeError(
        `ModuleDict key ${JSON.stringify(key)} is not allowed: use a non-empty key without ".", capital letters or only digits`,
      );
    }
    if (!this.#items.has(key) && key in this)
      throw new RangeError(`ModuleDict key ${JSON.stringify(key)} clashes with a Module property`);
    if (!(module instanceof Module))
      throw new TypeError(`ModuleDict["${key}"] is not a Module: ${String(module)}`);
    Reflect.set(this, key, module);
    this.#items.set(key, module);
    return this;
  }

  /** The module at `key`; throws when absent. */
  get(key: string): M {
    const module = this.#items.get(key);
    if (module === undefined) throw new RangeError(`ModuleDict has no key ${JSON.stringify(key)}`);
    return module;
  }

  /** Whether `key` is held. */
  has(key: string): boolean {
    return this.#items.has(key);
  }

  /** Removes `key` and returns its module; throws when absent. */
  delete(key: string): M {
    const module = this.get(key);
    Reflect.deleteProperty(this, key);
    this.#items.delete(key);
    return module;
  }

  /** Number of modules. */
  get size(): number {
    return this.#items.size;
  }

  /** The keys in insertion order. */
  keys(): IterableIterator<string> {
    return this.#items.keys();
  }

  /** The modules in insertion order. */
  values(): IterableIterator<M> {
    return this.#items.values();
  }

  /** `[key, module]` pairs in insertion order. */
  *[Symbol.iterator](): Iterator<[string, M]> {
    yield* this.#items;
  }

  forward(): never {
    throw new Error("ModuleDict has no forward(): look modules up with get(key) and call them yourself");
  }
}

/**
 * Holds parameters in order (state-dict keys `0`, `1`, …, as PyTorch's `nn.ParameterList`);
 * plain tensors are wrapped as `Parameter`s. It has no forward.
 */
export class ParameterList extends Module<never[], never> implements Iterable<Parameter> {
  #items: Parameter[] = [];

  constructor(parameters: Iterable<Tensor> = []) {
    super();
    this.append(...parameters);
  }

  /** Adds parameters (tensors are wrapped) at the end. */
  append(...parameters: Tensor[]): this {
    for (const tensor of parameters) {
      if (!(tensor instanceof Tensor))
        throw new TypeError(`ParameterList item ${this.#items.length} is not a tensor: ${String(tensor)}`);
      const parameter = tensor instanceof Parameter ? tensor : new Parameter(tensor);
      Reflect.set(this, String(this.#items.length), parameter);
      this.#items.push(parameter);
    }
    return this;
  }

  /** Number of parameters. */
  get length(): number {
    return this.#items.length;
  }

  /** The parameter at `index` (negative counts from the end). */
  at(index: number): Parameter {
    return this.#items[checkedIndex(index, this.#items.length, "ParameterList")];
  }

  /** The parameters in order. */
  *[Symbol.iterator](): Iterator<Parameter> {
    yield* this.#items;
  }

  /** One line per parameter, as PyTorch: `(0): Parameter containing: [torch.float32 of size 3x4]`. */
  override extraRepr(): string {
    return this.#items
      .map((p, i) => `  (${i}): Parameter containing: [torch.${p.dtype} of size ${p.shape.join("x")}]`)
      .join("\n");
  }

  forward(): never {
    throw new Error("ParameterList has no forward(): iterate it and use the parameters yourself");
  }
}
