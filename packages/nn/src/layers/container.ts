// Containers: Sequential (chains its children) and ModuleList (holds them for a custom forward).
import type { Tensor } from "@normgrad/core";
import { type AnyModule, Module } from "../module.ts";

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
