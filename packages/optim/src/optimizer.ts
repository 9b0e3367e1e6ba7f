// The Optimizer base class: parameter groups, per-parameter state (camelCase), zeroGrad, and state dicts (PyTorch's names).
import { formatShape, formatValue, keep, noGrad, Tensor, tidy } from "@normgrad/core";

/** The options every optimizer has: the learning rate (what schedulers change). */
export interface BaseOptions {
  lr: number;
  /**
   * Update each parameter with its backend's fused kernel where the backend has one (the CPU and
   * GPU backends do; default true). `false` forces the update composed of tensor ops; both give
   * PyTorch's numbers.
   */
  fused: boolean;
}

/** A parameter group as the optimizer holds it: its parameters and every option filled in. */
export type ParamGroup<O> = O & { params: Tensor[] };

/** A parameter group as given to a constructor: its parameters and the options it overrides. */
export type ParamGroupSpec<O> = Partial<O> & { readonly params: Iterable<Tensor> };

/** What an optimizer takes: parameters (one group with the defaults) or parameter groups. */
export type OptimizerParams<O> = Iterable<Tensor> | readonly ParamGroupSpec<O>[];

/** Per-parameter state: tensors (moments, momentum buffers) and numbers (step counts), camelCase in code. */
export type ParamState = { readonly [key: string]: Tensor | number | null };

/** A camelCase name in snake_case: `expAvgSq` → `exp_avg_sq` (PyTorch's spelling). */
type SnakeCase<Name extends string> = Name extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}`
  : Name;

/**
 * Per-parameter state as a state dict holds it: the same values under PyTorch's names
 * (`{ expAvg, expAvgSq }` → `{ exp_avg, exp_avg_sq }`), as nn's state dicts name `runningMean`
 * `running_mean`.
 */
export type SavedState<S extends ParamState> = { [K in keyof S & string as SnakeCase<K>]: S[K] };

/**
 * An optimizer's resumable state, in PyTorch's layout and names: `state` is keyed by each
 * parameter's position across all groups (0, 1, … in group order) and holds copies of its state
 * (`exp_avg`, `momentum_buffer`, …); `paramGroups` holds each group's options and the positions
 * of its parameters.
 */
export interface OptimizerStateDict<O, S extends ParamState> {
  state: Record<number, SavedState<S>>;
  paramGroups: (O & { params: number[] })[];
}

function isTensor(value: unknown): value is Tensor {
  return value instanceof Tensor;
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.iterator in value;
}

/** An object whose `params` is iterable (its items are checked when the group is added). */
function isGroupSpec(value: unknown): value is { readonly params: Iterable<Tensor> } {
  return typeof value === "object" && value !== null && "params" in value && isIterable(value.params);
}

/**
 * Base class of the optimizers. Subclasses supply the defaults, validate options, and update one
 * parameter at a time; the base class owns the groups, the state map, `step`'s bookkeeping
 * (`noGrad`, `tidy`, skipping parameters without a gradient), `zeroGrad` and the state dict.
 */
export abstract class Optimizer<O extends BaseOptions, S extends ParamState> {
  /** The parameter groups, each with all of its options (schedulers write `lr` here). */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state (PyTorch's `optimizer.state[p]`), created on a parameter's first update. */
  readonly state = new Map<Tensor, S>();
  /** The options a group gets when it does not set them. */
  readonly defaults: O;

  constructor(
    readonly name: string,
    params: OptimizerParams<O>,
    defaults: O,
  ) {
    this.defaults = defaults;
    if (!isIterable(params)) {
      throw new TypeError(
        `${name}: params must be an iterable of tensors (e.g. model.parameters()) or of parameter groups ` +
          `{ params, ...options }, got ${formatValue(params)}`,
      );
    }
    const items = [...params];
    if (items.length === 0) throw new Error(`${name}: got an empty parameter list`);
    items.forEach((item, i) => {
      if (!isTensor(item) && !isGroupSpec(item)) {
        throw new TypeError(
          `${name}: params must be tensors (e.g. model.parameters()) or parameter groups { params, ...options }, ` +
            `but item ${i} is ${formatValue(item)}`,
        );
      }
    });
    const tensors = items.filter(isTensor);
    const groups = items.filter((item): item is ParamGroupSpec<O> => !isTensor(item));
    if (groups.length === 0) this.#addGroup(tensors, {});
    else if (tensors.length === 0) for (const group of groups) this.addParamGroup(group);
    else {
      throw new TypeError(
        `${name}: params must be all tensors or all parameter groups { params, ...options }`,
      );
    }
  }

  /** Checks one group's options, throwing with the offending value (called for every group). */
  protected abstract validate(options: O, where: string): void;

  /** Updates `param` in place from `grad` (called under `noGrad` inside `tidy`). */
  protected abstract update(param: Tensor, grad: Tensor, group: ParamGroup<O>): void;

  /** `state` under PyTorch's names, every tensor replaced by `copy(tensor)` (for `stateDict`). */
  protected abstract saveState(state: S, copy: (tensor: Tensor) => Tensor): SavedState<S>;

  /** The inverse of `saveState`: camelCase state from a state dict's entry (for `loadStateDict`). */
  protected abstract loadState(saved: SavedState<S>, copy: (tensor: Tensor) => Tensor): S;

  /** Adds a group of parameters with its own options (the others come from `defaults`). */
  addParamGroup(spec: ParamGroupSpec<O>): void {
    if (!isGroupSpec(spec)) {
      throw new TypeError(
        `${this.name}: parameter group ${this.paramGroups.length} must be { params, ...options } with an ` +
          `iterable of tensors as params, got ${formatValue(spec)}`,
      );
    }
    this.#addGroup([...spec.params], spec);
  }

  #addGroup(params: Tensor[], overrides: Partial<O>): void {
    const where = `${this.name}: parameter group ${this.paramGroups.length}`;
    params.forEach((param, i) => {
      if (!isTensor(param)) throw new TypeError(`${where}: parameter ${i} is not a Tensor`);
      if (param.dtype === "int32") {
        throw new TypeError(`${where}: parameter ${i} is int32; only float tensors can be optimized`);
      }
      if (!param.isLeaf) {
        throw new Error(`${where}: parameter ${i} is not a leaf tensor; optimize the leaf (detach() it)`);
      }
    });
    const seen = new Set(this.paramGroups.flatMap((group) => group.params));
    if (params.some((param) => seen.has(param)) || new Set(params).size !== params.length) {
      throw new Error(`${where}: some parameters appear more than once (in this group or an earlier one)`);
    }
    const group: ParamGroup<O> = { ...this.defaults, ...definedOptions(overrides), params };
    this.validate(group, where);
    this.paramGroups.push(group);
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    noGrad(() =>
      tidy(() => {
        for (const group of this.paramGroups) {
          for (const param of group.params) {
            if (param.grad !== null) this.update(param, param.grad, group);
          }
        }
      }),
    );
  }

  /**
   * Clears the gradients of every parameter. With `setToNone` (default, as PyTorch 2) the
   * gradient tensors are disposed and set to null, so memory stays flat on every device;
   * `setToNone: false` zeroes them in place instead.
   */
  zeroGrad({ setToNone = true }: { setToNone?: boolean } = {}): void {
    for (const group of this.paramGroups) {
      for (const param of group.params) {
        const grad = param.grad;
        if (grad === null) continue;
        if (setToNone) {
          param.grad = null;
          grad.dispose();
        } else noGrad(() => grad.zero_());
      }
    }
  }

  /** The state of `param`, created by `init` on its first update and kept alive past `tidy`. */
  protected stateOf(param: Tensor, init: () => S): S {
    let state = this.state.get(param);
    if (state === undefined) {
      state = init();
      this.state.set(param, state);
    }
    return state;
  }

  /** A snapshot of the optimizer (copies of the state tensors) that `loadStateDict` restores. */
  stateDict(): OptimizerStateDict<O, S> {
    const state: Record<number, SavedState<S>> = {};
    let index = 0;
    const paramGroups = this.paramGroups.map((group) => {
      const indices = group.params.map((param) => {
        const paramState = this.state.get(param);
        if (paramState !== undefined)
          state[index] = this.saveState(paramState, (t) => noGrad(() => t.clone()));
        return index++;
      });
      return { ...group, params: indices };
    });
    return { state, paramGroups };
  }

  /**
   * Restores a `stateDict()`: group options and per-parameter state (copied, cast to each
   * parameter's dtype and device). The groups must have the same sizes as this optimizer's.
   */
  loadStateDict(dict: OptimizerStateDict<O, S>): void {
    if (dict.paramGroups.length !== this.paramGroups.length) {
      throw new Error(
        `${this.name}.loadStateDict: the state dict has ${dict.paramGroups.length} parameter group(s), ` +
          `this optimizer ${this.paramGroups.length}`,
      );
    }
    dict.paramGroups.forEach((saved, g) => {
      if (saved.params.length !== this.paramGroups[g].params.length) {
        throw new Error(
          `${this.name}.loadStateDict: parameter group ${g} has ${saved.params.length} parameter(s) in the ` +
            `state dict but ${this.paramGroups[g].params.length} here`,
        );
      }
      this.validate({ ...saved }, `${this.name}.loadStateDict: parameter group ${g}`);
    });
    this.state.clear();
    dict.paramGroups.forEach((saved, g) => {
      const group = this.paramGroups[g];
      const { params: indices, ...options } = saved;
      indices.forEach((index, i) => {
        const param = group.params[i];
        const paramState = dict.state[index];
        if (paramState === undefined) return;
        const copy = (t: Tensor): Tensor => {
          if (t.size !== param.size) {
            throw new Error(
              `${this.name}.loadStateDict: state of parameter ${index} has shape ${formatShape(t.shape)}, ` +
                `the parameter ${formatShape(param.shape)}`,
            );
          }
          return keep(noGrad(() => t.to(param.device).to(param.dtype).clone().reshape(param.shape)));
        };
        this.state.set(param, this.loadState(paramState, copy));
      });
      Object.assign(group, options);
    });
  }
}

/** `options` without its undefined entries, so that `{ momentum: undefined }` keeps the default. */
export function definedOptions<T extends object>(options: T): Partial<T> {
  const defined: Partial<T> = {};
  for (const key in options) {
    if (options[key] !== undefined) defined[key] = options[key];
  }
  return defined;
}

/** Throws unless `value` is a finite number ≥ 0, naming the option and the value (NaN, Infinity, "0.1" as such). */
export function assertNonNegative(where: string, option: string, value: number): void {
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${where}: ${option} must be a finite number >= 0, got ${formatValue(value)}`);
  }
}
