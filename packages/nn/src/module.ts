// Module, Parameter and Buffer: state discovered from fields, train/eval, to(), repr and state dicts.
import {
  type Device,
  type DType,
  formatShape,
  isFloating,
  keep,
  noGrad,
  type RemovableHandle,
  shapesEqual,
  Tensor,
} from "@normgrad/core";
import {
  type FullBackwardHook,
  fullBackwardHookPair,
  hookedForward,
  isHookedForward,
  type ModuleHooks,
} from "./module-hooks.ts";
import { indentNested } from "./repr.ts";

/**
 * The hook lists of a module, created (and its `forward` wrapped to run them) on the first
 * registration. The wrapper is an own, non-enumerable property shadowing the class's forward,
 * so hooks run however the module is called (`forward`, `call`, from a Sequential) and the
 * state walk never sees it.
 */
function hookListsOf(module: Module<Tensor[], Tensor>): ModuleHooks<Tensor[], Tensor> {
  const forward = module.forward;
  if (isHookedForward(forward)) return forward.hooks;
  const hooked = hookedForward(forward.bind(module), { pre: [], post: [] });
  Object.defineProperty(module, "forward", {
    value: hooked,
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return hooked.hooks;
}

/** Adds `entry` to `list` and returns the handle that takes it out again. */
function register<T>(list: T[], entry: T): RemovableHandle {
  list.push(entry);
  return {
    remove: () => {
      const index = list.indexOf(entry);
      if (index >= 0) list.splice(index, 1);
    },
  };
}

/** A tensor that owns its whole storage (in-place updates need it); copies views and expanded tensors. */
function ownedCopyIfView(data: Tensor): Tensor {
  return data.ownsStorage() ? data : noGrad(() => data.clone());
}

/**
 * A tensor that is a module's learnable state: a leaf that requires grad (unless built with
 * `requiresGrad: false`). It shares storage with `data`, like PyTorch's `nn.Parameter(data)`;
 * optimizers update it in place (`sub_`, `copy_` under `noGrad`).
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, { requiresGrad = true }: { requiresGrad?: boolean } = {}) {
    super(ownedCopyIfView(data));
    if (requiresGrad && !isFloating(this.dtype)) {
      throw new TypeError(
        `a Parameter that requires grad must be float, got ${this.dtype}: pass { requiresGrad: false } or cast`,
      );
    }
    this.requiresGrad = requiresGrad;
    // Module state outlives any `tidy` scope it was created in.
    keep(this);
  }

  /** `Parameter containing:` and the tensor, as PyTorch prints it. */
  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }
}

/**
 * A tensor that is module state but not learned (running statistics, counters). It never
 * requires grad. `persistent: false` keeps it out of `stateDict()` (default true).
 */
export class Buffer extends Tensor {
  /** Whether `stateDict()` saves it. */
  readonly persistent: boolean;

  constructor(data: Tensor, { persistent = true }: { persistent?: boolean } = {}) {
    super(ownedCopyIfView(data));
    this.persistent = persistent;
    keep(this);
  }
}

/**
 * A state dict: PyTorch key names (`0.weight`, `1.running_mean`) to tensors, in registration
 * order, plus the state version of every module that contributed (by prefix: `""` for the
 * root, `"1"` for child 1), so a future layout change can migrate old files.
 */
export class StateDict extends Map<string, Tensor> {
  /** Module prefix → the version of its state layout when it was saved. */
  readonly versions = new Map<string, number>();
  /** Free-form string metadata (a safetensors file's `__metadata__`, less normgrad's own keys). */
  readonly metadata = new Map<string, string>();
}

/** What `loadStateDict` found when not strict (strict mode throws on either list). */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Options of `loadStateDict`. */
export interface LoadStateDictOptions {
  /** Throw when keys are missing or unexpected (default true). Shape and dtype mismatches always throw. */
  strict?: boolean;
}

/** Any module, whatever its forward signature (children, containers, `apply` callbacks). */
export type AnyModule = Module<never[], unknown>;

/** The PyTorch name of a field: camelCase becomes snake_case (`runningMean` → `running_mean`). */
export function stateKeyOf(field: string): string {
  return field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function joinKey(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}.${name}`;
}

interface Member<T> {
  /** The JS property that holds it. */
  readonly field: string;
  /** Its PyTorch name. */
  readonly name: string;
  readonly value: T;
}

/**
 * The base of every layer. Subclasses declare their state as fields:
 *
 * ```ts
 * class Affine extends Module {
 *   weight = new Parameter(randn([4, 3]));
 *   bias: Parameter | null = new Parameter(zeros([4]));   // null when absent
 *   steps = new Buffer(zeros([], { dtype: "int32" }));
 *   forward(x: Tensor): Tensor {
 *     const y = x.matmul(this.weight.mT);
 *     return this.bias === null ? y : y.add(this.bias);
 *   }
 * }
 * ```
 * `Parameter`, `Buffer` and `Module` fields are found by walking the module's own enumerable
 * properties in declaration order (no registration calls); other fields are configuration.
 * Names follow PyTorch: camelCase fields are reported in snake_case (`runningMean` →
 * `running_mean`), children by their field name (Sequential's are `0`, `1`, …). JavaScript
 * lists integer-like property names first, so use them only for containers. Keep modules in a
 * `ModuleList`, not a plain array (arrays are refused with an error, as they are not walked).
 *
 * Call a module with `module.forward(x)`; `module.call(x)` is the same call.
 */
export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  /** Training mode (dropout active, batch statistics); switch with `train()` / `eval()`. */
  training = true;

  /** The computation. */
  abstract forward(...inputs: In): Out;

  /** Runs `forward` (the equivalent of calling a PyTorch module). */
  call(...inputs: In): Out {
    return this.forward(...inputs);
  }

  /**
   * Runs `hook(module, inputs)` before every forward; returning an array (of as many tensors)
   * replaces the inputs (PyTorch's `register_forward_pre_hook`). `remove()` on the handle
   * unregisters it. Hooks are for modules whose inputs and output are tensors.
   */
  registerForwardPreHook<M extends Module<Tensor[], Tensor>>(
    this: M,
    hook: (module: M, inputs: Tensor[]) => Tensor[] | undefined,
  ): RemovableHandle {
    return register(hookListsOf(this).pre, (inputs) => {
      const replaced = hook(this, inputs);
      if (replaced !== undefined && replaced.length !== inputs.length) {
        throw new Error(
          `${this.constructor.name}: a forward pre-hook returned ${replaced.length} inputs for ${inputs.length}`,
        );
      }
      return replaced;
    });
  }

  /**
   * Runs `hook(module, inputs, output)` after every forward; returning a tensor replaces the
   * output (PyTorch's `register_forward_hook`): the way to record activations without changing
   * the model.
   */
  registerForwardHook<M extends Module<Tensor[], Tensor>>(
    this: M,
    hook: (module: M, inputs: Tensor[], output: Tensor) => Tensor | undefined,
  ): RemovableHandle {
    return register(hookListsOf(this).post, (inputs, output) => hook(this, inputs, output));
  }

  /**
   * Runs `hook(module, gradInput, gradOutput)` when backward has computed the gradient w.r.t. the
   * module's input (`gradInput`, `[null]` when the input does not require grad) and output
   * (`gradOutput`); returning an array replaces `gradInput` (PyTorch's
   * `register_full_backward_hook`). For modules called with one tensor that return a tensor.
   */
  registerFullBackwardHook<M extends Module<Tensor[], Tensor>>(
    this: M,
    hook: FullBackwardHook<M>,
  ): RemovableHandle {
    const pair = fullBackwardHookPair(this.constructor.name, (gradInput, gradOutput) =>
      hook(this, gradInput, gradOutput),
    );
    const hooks = hookListsOf(this);
    const handles = [register(hooks.pre, pair.pre), register(hooks.post, pair.post)];
    return {
      remove: () => {
        for (const handle of handles) handle.remove();
      },
    };
  }

  /**
   * The version of this module's state-dict layout, saved with its entries. Bump it in a
   * subclass when the layout changes and migrate older entries in `upgradeStateDict`.
   */
  get stateVersion(): number {
    return 1;
  }

  /**
   * Rewrites the entries of this module (keys starting with `prefix`) saved at an older
   * `fromVersion` into the current layout, before they are loaded. `fromVersion` is null when the
   * state records no version for this module (a plain map or record, a safetensors file written
   * by PyTorch), as PyTorch's `version is None`: the layout is unknown, so migrate only what is
   * visibly old. Default: nothing to do.
   */
  protected upgradeStateDict(
    _state: Map<string, Tensor>,
    _prefix: string,
    _fromVersion: number | null,
  ): void {}

  /** Extra text inside the repr's parentheses (PyTorch's `extra_repr`), e.g. `in_features=3, ...`. */
  extraRepr(): string {
    return "";
  }

  /** The name printed by `toString()`; the class name by default. */
  get typeName(): string {
    return this.constructor.name;
  }

  #members(): {
    parameters: Member<Parameter>[];
    buffers: Member<Buffer>[];
    children: Member<AnyModule>[];
  } {
    const parameters: Member<Parameter>[] = [];
    const buffers: Member<Buffer>[] = [];
    const children: Member<AnyModule>[] = [];
    for (const [field, value] of Object.entries(this)) {
      if (value instanceof Parameter) parameters.push({ field, name: stateKeyOf(field), value });
      else if (value instanceof Buffer) buffers.push({ field, name: stateKeyOf(field), value });
      else if (value instanceof Module) children.push({ field, name: stateKeyOf(field), value });
      else if (
        Array.isArray(value) &&
        value.some((item) => item instanceof Module || item instanceof Tensor)
      ) {
        throw new TypeError(
          `${this.typeName}.${field} is an array of modules or tensors, which the module does not walk: ` +
            "use a ModuleList for modules, or one Parameter/Buffer field per tensor",
        );
      }
    }
    return { parameters, buffers, children };
  }

  /** Direct children with their names, in declaration order. */
  *namedChildren(): Generator<[string, AnyModule]> {
    const seen = new Set<AnyModule>();
    for (const { name, value } of this.#members().children) {
      if (seen.has(value)) continue;
      seen.add(value);
      yield [name, value];
    }
  }

  /** Direct children, in declaration order. */
  *children(): Generator<AnyModule> {
    for (const [, child] of this.namedChildren()) yield child;
  }

  /**
   * This module (name `""`, or `prefix`) and every descendant with its dotted name, depth first
   * in declaration order; a module reachable twice is listed once.
   */
  *namedModules(prefix = ""): Generator<[string, AnyModule]> {
    yield* this.#walkModules(prefix, new Set());
  }

  *#walkModules(prefix: string, seen: Set<AnyModule>): Generator<[string, AnyModule]> {
    if (seen.has(this)) return;
    seen.add(this);
    yield [prefix, this];
    for (const { name, value } of this.#members().children)
      yield* value.#walkModules(joinKey(prefix, name), seen);
  }

  /** This module and every descendant. */
  *modules(): Generator<AnyModule> {
    for (const [, module] of this.namedModules()) yield module;
  }

  /** Every parameter with its dotted PyTorch name (`0.weight`), each listed once. */
  *namedParameters({ recurse = true }: { recurse?: boolean } = {}): Generator<[string, Parameter]> {
    const seen = new Set<Parameter>();
    const owners: Iterable<[string, AnyModule]> = recurse ? this.namedModules() : [["", this]];
    for (const [prefix, module] of owners) {
      for (const { name, value } of module.#members().parameters) {
        if (seen.has(value)) continue;
        seen.add(value);
        yield [joinKey(prefix, name), value];
      }
    }
  }

  /** Every parameter (what an optimizer takes), each listed once. */
  *parameters({ recurse = true }: { recurse?: boolean } = {}): Generator<Parameter> {
    for (const [, parameter] of this.namedParameters({ recurse })) yield parameter;
  }

  /** Every buffer with its dotted PyTorch name (`1.running_mean`), persistent or not. */
  *namedBuffers({ recurse = true }: { recurse?: boolean } = {}): Generator<[string, Buffer]> {
    const seen = new Set<Buffer>();
    const owners: Iterable<[string, AnyModule]> = recurse ? this.namedModules() : [["", this]];
    for (const [prefix, module] of owners) {
      for (const { name, value } of module.#members().buffers) {
        if (seen.has(value)) continue;
        seen.add(value);
        yield [joinKey(prefix, name), value];
      }
    }
  }

  /** Every buffer. */
  *buffers({ recurse = true }: { recurse?: boolean } = {}): Generator<Buffer> {
    for (const [, buffer] of this.namedBuffers({ recurse })) yield buffer;
  }

  /** Calls `fn` on every descendant, then on this module (as PyTorch: children first). */
  apply(fn: (module: AnyModule) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /** Sets training mode (`true`) or evaluation mode (`false`) on this module and every descendant. */
  train(mode = true): this {
    for (const module of this.modules()) module.training = mode;
    return this;
  }

  /** Evaluation mode: `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Sets `requiresGrad` on every parameter of this module and its descendants (PyTorch's
   * `requires_grad_`; default true): `false` freezes them, so backward gives them no gradient.
   * Returns this module. Training mode is separate: a frozen BatchNorm in `train()` still
   * normalizes with batch statistics and updates its running ones; call `eval()` on it as well.
   */
  requiresGrad_(requiresGrad = true): this {
    for (const parameter of this.parameters()) parameter.requiresGrad = requiresGrad;
    return this;
  }

  /**
   * Clears every parameter's gradient: sets it to null and disposes the old gradient tensor
   * (default, as PyTorch 2; on GPU this frees its memory) or, with `setToNone: false`, fills it
   * with zeros in place.
   */
  zeroGrad({ setToNone = true }: { setToNone?: boolean } = {}): void {
    for (const parameter of this.parameters()) {
      const grad = parameter.grad;
      if (grad === null) continue;
      if (setToNone) {
        parameter.grad = null;
        grad.dispose();
      } else {
        noGrad(() => grad.zero_());
      }
    }
  }

  /**
   * Converts every float parameter and buffer to `dtype`, or moves every parameter and buffer to
   * `device` (integer buffers such as `num_batches_tracked` keep their dtype, as in PyTorch).
   * Returns this module. The converted tensors are new Parameter/Buffer objects assigned to the
   * same fields (gradients are converted along), so build optimizers after calling `to`: an
   * optimizer made before holds the old tensors.
   */
  to(target: DType | Device): this {
    const converted = new Map<Tensor, Tensor>();
    const convert = (tensor: Tensor): Tensor | null => {
      const isDevice = target === "cpu" || target === "gpu";
      if (!isDevice && !isFloating(tensor.dtype)) return null;
      const moved = noGrad(() => tensor.to(target));
      return moved === tensor ? null : moved;
    };
    for (const module of this.modules()) {
      const { parameters, buffers } = module.#members();
      const members: Member<Parameter | Buffer>[] = [...parameters, ...buffers];
      for (const { field, value } of members) {
        let replacement = converted.get(value);
        if (replacement === undefined) {
          const data = convert(value);
          if (data === null) continue;
          if (value instanceof Parameter) {
            const parameter = new Parameter(data, { requiresGrad: value.requiresGrad });
            const grad = value.grad;
            if (grad !== null) parameter.grad = noGrad(() => grad.to(target));
            replacement = parameter;
          } else {
            replacement = new Buffer(data, { persistent: value.persistent });
          }
          converted.set(value, replacement);
        }
        Reflect.set(module, field, replacement);
      }
    }
    return this;
  }

  /**
   * The module's persistent state under PyTorch key names: for each module (depth first), its
   * parameters, then its persistent buffers. Tensors are detached views sharing storage with
   * the module (as PyTorch's `state_dict()`); `versions` records each module's `stateVersion`.
   */
  stateDict(): StateDict {
    const state = new StateDict();
    this.#collectState("", state, new Set());
    return state;
  }

  #collectState(prefix: string, state: StateDict, visiting: Set<AnyModule>): void {
    if (visiting.has(this))
      throw new Error(`${this.typeName} contains itself: a module cycle has no state dict`);
    visiting.add(this);
    const { parameters, buffers, children } = this.#members();
    state.versions.set(prefix, this.stateVersion);
    for (const { name, value } of parameters) state.set(joinKey(prefix, name), value.detach());
    for (const { name, value } of buffers) {
      if (value.persistent) state.set(joinKey(prefix, name), value.detach());
    }
    for (const { name, value } of children) value.#collectState(joinKey(prefix, name), state, visiting);
    visiting.delete(this);
  }

  /** Every (key, tensor) the state dict of this module expects, in stateDict order. */
  #expectedState(): Map<string, Tensor> {
    const expected = new Map<string, Tensor>();
    const visit = (module: AnyModule, prefix: string): void => {
      const { parameters, buffers, children } = module.#members();
      for (const { name, value } of parameters) expected.set(joinKey(prefix, name), value);
      for (const { name, value } of buffers) if (value.persistent) expected.set(joinKey(prefix, name), value);
      for (const { name, value } of children) visit(value, joinKey(prefix, name));
    };
    visit(this, "");
    return expected;
  }

  /**
   * Copies `state` into this module's parameters and persistent buffers, in place (optimizers
   * keep working). Every problem is reported in one error: missing and unexpected keys (when
   * `strict`, the default), shape or dtype mismatches naming the key and both shapes, disposed
   * tensors, and a copy from an asynchronous device to another. Nothing is copied unless every
   * entry fits. Entries saved at an older `stateVersion`, or with none
   * recorded, are migrated first by `upgradeStateDict`.
   */
  loadStateDict(
    state: StateDict | ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
    { strict = true }: LoadStateDictOptions = {},
  ): LoadStateDictResult {
    const incoming = new Map<string, Tensor>(state instanceof Map ? state : Object.entries(state));
    for (const [prefix, module] of this.namedModules()) {
      const saved = state instanceof StateDict ? (state.versions.get(prefix) ?? null) : null;
      if (saved === null || saved < module.stateVersion) {
        module.upgradeStateDict(incoming, prefix === "" ? "" : `${prefix}.`, saved);
      }
    }
    const expected = this.#expectedState();
    const missingKeys = [...expected.keys()].filter((key) => !incoming.has(key));
    const unexpectedKeys = [...incoming.keys()].filter((key) => !expected.has(key));
    const mismatches: string[] = [];
    for (const [key, target] of expected) {
      const source = incoming.get(key);
      if (source === undefined) continue;
      if (!(source instanceof Tensor)) {
        mismatches.push(`${key}: expected a Tensor, got ${typeof source}`);
      } else if (source.isDisposed) {
        mismatches.push(`${key}: the state dict's tensor was disposed; load it before disposing it`);
      } else if (target.isDisposed) {
        mismatches.push(`${key}: the module's tensor was disposed; build a new module to load into`);
      } else if (!shapesEqual(source.shape, target.shape)) {
        mismatches.push(
          `size mismatch for ${key}: copying a tensor of shape ${formatShape(source.shape)} from the state dict, ` +
            `the shape in the current module is ${formatShape(target.shape)}`,
        );
      } else if (source.dtype !== target.dtype) {
        mismatches.push(
          `dtype mismatch for ${key}: the state dict has ${source.dtype}, the module has ${target.dtype} ` +
            `(shape ${formatShape(target.shape)}); convert the module with .to("${source.dtype}") or the tensor first`,
        );
      } else if (source.device !== target.device && !source.backend.readsSynchronously) {
        // Copying to another device reads the values on the host, which an asynchronous device
        // cannot do synchronously: found here, before anything is copied.
        mismatches.push(
          `device mismatch for ${key}: the state dict's tensor is on ${source.device}, which is read ` +
            `asynchronously, the module's is on ${target.device}; move the module first with .to("${source.device}")`,
        );
      }
    }
    const problems = [
      ...(strict && missingKeys.length > 0 ? [`missing key(s): ${missingKeys.join(", ")}`] : []),
      ...(strict && unexpectedKeys.length > 0 ? [`unexpected key(s): ${unexpectedKeys.join(", ")}`] : []),
      ...mismatches,
    ];
    if (problems.length > 0) {
      throw new Error(`error(s) loading the state dict of ${this.typeName}:\n  ${problems.join("\n  ")}`);
    }
    noGrad(() => {
      for (const [key, target] of expected) {
        const source = incoming.get(key);
        if (source !== undefined && source !== target) target.copy_(source);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /**
   * The PyTorch repr: `Linear(in_features=3, out_features=4, bias=True)`, and for containers one
   * `(name): child` line per child, indented by two spaces per level.
   */
  toString(): string {
    const extraLines = this.extraRepr() === "" ? [] : this.extraRepr().split("\n");
    const childLines = [...this.namedChildren()].map(
      ([name, child]) => `(${name}): ${indentNested(child.toString(), 2)}`,
    );
    const lines = [...extraLines, ...childLines];
    if (lines.length === 0) return `${this.typeName}()`;
    if (extraLines.length === 1 && childLines.length === 0) return `${this.typeName}(${extraLines[0]})`;
    return `${this.typeName}(\n  ${lines.join("\n  ")}\n)`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
