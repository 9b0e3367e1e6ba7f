// Recurrent layers: RNN, LSTM and GRU (multi-layer, bidirectional, batch-first) and their single-step cells, composed from linear and gates.
import { cat, formatShape, type Generator, stack, type Tensor, zeros } from "@normgrad/core";
import { dropout } from "../functional/activation.ts";
import { linear } from "../functional/linear.ts";
import { assertFloat, assertPositiveInt, type FactoryOptions } from "../functional/validate.ts";
import { uniform_ } from "../init.ts";
import { Module, Parameter } from "../module.ts";
import { formatPythonBool, formatPythonFloat } from "../repr.ts";

/** Which recurrence: the gates per step and their count (PyTorch's gate order). */
type RecurrentMode = "RNN_TANH" | "RNN_RELU" | "LSTM" | "GRU";

const GATES: { [M in RecurrentMode]: number } = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

/** A step's state: h alone, or LSTM's (h, c). */
interface StepState {
  h: Tensor;
  c: Tensor | null;
}

/**
 * One step of `mode` from the input's share of the gates `xGates` = W_ih·x + b_ih and the state:
 * - RNN: h' = act(xGates + W_hh·h + b_hh)
 * - LSTM: (i, f, g, o) = (σ, σ, tanh, σ) of xGates + W_hh·h + b_hh; c' = f·c + i·g; h' = o·tanh(c')
 * - GRU: with (x_r, x_z, x_n) = xGates and (h_r, h_z, h_n) = W_hh·h + b_hh: r = σ(x_r + h_r),
 *   z = σ(x_z + h_z), n = tanh(x_n + r·h_n), h' = (1 − z)·n + z·h
 */
function step(
  mode: RecurrentMode,
  xGates: Tensor,
  state: StepState,
  weightHh: Tensor,
  biasHh: Tensor | null,
): StepState {
  const hGates = linear(state.h, weightHh, biasHh);
  switch (mode) {
    case "RNN_TANH":
      return { h: xGates.add(hGates).tanh(), c: null };
    case "RNN_RELU":
      return { h: xGates.add(hGates).relu(), c: null };
    case "LSTM": {
      const [i, f, g, o] = xGates.add(hGates).chunk(4, -1);
      if (state.c === null) throw new Error("LSTM step without a cell state");
      const c = f.sigmoid().mul(state.c).add(i.sigmoid().mul(g.tanh()));
      return { h: o.sigmoid().mul(c.tanh()), c };
    }
    case "GRU": {
      const [xr, xz, xn] = xGates.chunk(3, -1);
      const [hr, hz, hn] = hGates.chunk(3, -1);
      const r = xr.add(hr).sigmoid();
      const z = xz.add(hz).sigmoid();
      const n = xn.add(r.mul(hn)).tanh();
      return { h: n.sub(z.mul(n)).add(z.mul(state.h)), c: null };
    }
    default:
      return mode satisfies never;
  }
}

/**
 * A given initial state checked against the input `x` (dtype, and `shape`, less its batch
 * dimension `batchDim` for unbatched input) with that dimension restored; zeros when absent.
 */
function initialState(
  module: string,
  what: string,
  state: Tensor | null | undefined,
  x: Tensor,
  shape: number[],
  batchDim: number,
  batched: boolean,
): Tensor {
  if (state === null || state === undefined) return zeros(shape, { dtype: x.dtype, device: x.device });
  const expected = batched ? shape : shape.filter((_, i) => i !== batchDim);
  if (state.ndim !== expected.length || state.shape.some((size, i) => size !== expected[i])) {
    throw new RangeError(
      `${module}: expected ${what} of shape ${formatShape(expected)}, got ${formatShape(state.shape)}`,
    );
  }
  if (state.dtype !== x.dtype) {
    throw new TypeError(`${module}: ${what} is ${state.dtype} but the input is ${x.dtype}; they must match`);
  }
  return batched ? state : state.unsqueeze(batchDim);
}

/** Options shared by {@link RNN}, {@link LSTM} and {@link GRU}; PyTorch's names and defaults. */
export interface RecurrentOptions extends FactoryOptions {
  /** Stacked layers, each feeding the next. Default 1. */
  numLayers?: number;
  /** Whether the layers have b_ih and b_hh. Default true. */
  bias?: boolean;
  /** Input and output as (N, T, features) instead of (T, N, features). Default false. */
  batchFirst?: boolean;
  /**
   * Dropout on every layer's output but the last, in training. Default 0. With `numLayers` 1 it
   * does nothing, and the constructor warns on the console (PyTorch's UserWarning).
   */
  dropout?: number;
  /** A second pass from the last step to the first, its outputs concatenated. Default false. */
  bidirectional?: boolean;
}

/**
 * The multi-layer recurrence behind RNN, LSTM and GRU. Parameters per layer k and direction, named
 * as PyTorch's: `weight_ih_l{k}` (gates·hidden, input), `weight_hh_l{k}` (gates·hidden, hidden),
 * `bias_ih_l{k}`, `bias_hh_l{k}`, with `_reverse` for the backward direction; all drawn from
 * U(−1/√hidden, 1/√hidden). Each layer's input projection is one matmul over every step; only
 * W_hh·h runs step by step.
 */
abstract class RecurrentBase extends Module<[Tensor, (Tensor | [Tensor, Tensor] | null)?], unknown> {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly #mode: RecurrentMode;

  constructor(mode: RecurrentMode, inputSize: number, hiddenSize: number, options: RecurrentOptions) {
    super();
    const { numLayers = 1, bias = true, batchFirst = false, dropout = 0, bidirectional = false } = options;
    const name = mode === "LSTM" || mode === "GRU" ? mode : "RNN";
    assertPositiveInt(inputSize, `${name} inputSize`);
    assertPositiveInt(hiddenSize, `${name} hiddenSize`);
    assertPositiveInt(numLayers, `${name} numLayers`);
    if (!(dropout >= 0 && dropout <= 1)) {
      throw new RangeError(`${name} dropout must be a probability in [0, 1], got ${dropout}`);
    }
    if (dropout > 0 && numLayers === 1) {
      // PyTorch accepts this with a UserWarning (the dropout never applies); so do we, on the console.
      console.warn(
        `${name}: dropout applies after every layer but the last, so dropout=${dropout} does nothing with numLayers=1`,
      );
    }
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.numLayers = numLayers;
    this.bias = bias;
    this.batchFirst = batchFirst;
    this.dropout = dropout;
    this.bidirectional = bidirectional;
    this.#mode = mode;
    const { dtype = "float32", device = "cpu" } = options;
    for (let layer = 0; layer < numLayers; layer++) {
      const layerInput = layer === 0 ? inputSize : hiddenSize * this.directions;
      for (const suffix of this.directions === 2 ? ["", "_reverse"] : [""]) {
        const rows = GATES[mode] * hiddenSize;
        const shapes: [string, number[]][] = [
          [`weight_ih_l${layer}${suffix}`, [rows, layerInput]],
          [`weight_hh_l${layer}${suffix}`, [rows, hiddenSize]],
        ];
        if (bias) shapes.push([`bias_ih_l${layer}${suffix}`, [rows]], [`bias_hh_l${layer}${suffix}`, [rows]]);
        for (const [field, shape] of shapes) {
          // Enumerable own fields, in PyTorch's order, so the state dict has its keys.
          Object.defineProperty(this, field, {
            value: new Parameter(zeros(shape, { dtype, device })),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
      }
    }
    this.resetParameters({ generator: options.generator });
  }

  /** 2 when bidirectional, else 1. */
  get directions(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** Re-draws every weight and bias from U(−1/√hiddenSize, 1/√hiddenSize), as PyTorch does. */
  resetParameters({ generator }: { generator?: Generator } = {}): void {
    const bound = 1 / Math.sqrt(this.hiddenSize);
    for (const parameter of this.parameters()) uniform_(parameter, -bound, bound, { generator });
  }

  #parameter(field: string): Parameter {
    const value: unknown = Reflect.get(this, field);
    if (!(value instanceof Parameter)) throw new Error(`${this.typeName} has no parameter ${field}`);
    return value;
  }

  /** The recurrence over (T, N, input) or batch-first (N, T, input), or one unbatched (T, input) sequence. */
  protected run(input: Tensor, hx: StepState | null): { output: Tensor; h: Tensor; c: Tensor | null } {
    const name = this.typeName;
    assertFloat(input, `${name} input`);
    if ((input.ndim !== 2 && input.ndim !== 3) || input.shape[input.ndim - 1] !== this.inputSize) {
      throw new RangeError(
        `${name}: expected input of shape (T, N, ${this.inputSize})${this.batchFirst ? " with batchFirst: (N, T, …)" : ""} ` +
          `or unbatched (T, ${this.inputSize}), got ${formatShape(input.shape)}`,
      );
    }
    const batched = input.ndim === 3;
    let x = batched ? (this.batchFirst ? input.transpose(0, 1) : input) : input.unsqueeze(1);
    const [steps, batch] = x.shape;
    const stateShape = [this.numLayers * this.directions, batch, this.hiddenSize];
    const h0 = initialState(name, "h_0", hx?.h, x, stateShape, 1, batched);
    const c0 = this.#mode === "LSTM" ? initialState(name, "c_0", hx?.c, x, stateShape, 1, batched) : null;
    const hn: Tensor[] = [];
    const cn: Tensor[] = [];
    for (let layer = 0; layer < this.numLayers; layer++) {
      const outputs: Tensor[] = [];
      for (let direction = 0; direction < this.directions; direction++) {
        const suffix = `l${layer}${direction === 1 ? "_reverse" : ""}`;
        const index = layer * this.directions + direction;
        const biasOf = (field: string) => (this.bias ? this.#parameter(field) : null);
        const xGates = linear(x, this.#parameter(`weight_ih_${suffix}`), biasOf(`bias_ih_${suffix}`));
        let state: StepState = {
          h: h0.narrow(0, index, 1).squeeze(0),
          c: c0 === null ? null : c0.narrow(0, index, 1).squeeze(0),
        };
        const hs: Tensor[] = new Array(steps);
        for (let i = 0; i < steps; i++) {
          const t = direction === 0 ? i : steps - 1 - i;
          const weightHh = this.#parameter(`weight_hh_${suffix}`);
          state = step(
            this.#mode,
            xGates.narrow(0, t, 1).squeeze(0),
            state,
            weightHh,
            biasOf(`bias_hh_${suffix}`),
          );
          hs[t] = state.h;
        }
        outputs.push(stack(hs, 0));
        hn.push(state.h);
        if (state.c !== null) cn.push(state.c);
      }
      x = outputs.length === 1 ? outputs[0] : cat(outputs, -1);
      if (layer < this.numLayers - 1) x = dropout(x, { p: this.dropout, training: this.training });
    }
    const unbatch = (t: Tensor) => (batched ? t : t.squeeze(1));
    const output = batched ? (this.batchFirst ? x.transpose(0, 1) : x) : x.squeeze(1);
    return { output, h: unbatch(stack(hn, 0)), c: cn.length === 0 ? null : unbatch(stack(cn, 0)) };
  }

  override extraRepr(): string {
    const parts = [`${this.inputSize}, ${this.hiddenSize}`];
    if (this.numLayers !== 1) parts.push(`num_layers=${this.numLayers}`);
    if (!this.bias) parts.push("bias=False");
    if (this.batchFirst) parts.push("batch_first=True");
    if (this.dropout !== 0) parts.push(`dropout=${formatPythonFloat(this.dropout)}`);
    if (this.bidirectional) parts.push(`bidirectional=${formatPythonBool(true)}`);
    return parts.join(", ");
  }
}

/** Options of {@link RNN}: the shared ones and the nonlinearity (default "tanh"). */
export interface RNNOptions extends RecurrentOptions {
  nonlinearity?: "tanh" | "relu";
}

/**
 * Elman RNN, PyTorch's `nn.RNN`: `h_t = act(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh)` with act tanh
 * (default) or relu. `forward(input, h0?)` → `[output, h_n]`: output (T, N, D·hidden) (batch-first
 * (N, T, …); unbatched (T, …)), h_n (layers·D, N, hidden) the last step of each layer and direction.
 */
export class RNN extends RecurrentBase {
  readonly nonlinearity: "tanh" | "relu";

  constructor(inputSize: number, hiddenSize: number, options: RNNOptions = {}) {
    const { nonlinearity = "tanh" } = options;
    if (nonlinearity !== "tanh" && nonlinearity !== "relu") {
      throw new RangeError(`RNN nonlinearity must be "tanh" or "relu", got ${JSON.stringify(nonlinearity)}`);
    }
    super(nonlinearity === "tanh" ? "RNN_TANH" : "RNN_RELU", inputSize, hiddenSize, options);
    this.nonlinearity = nonlinearity;
  }

  forward(input: Tensor, h0: Tensor | null = null): [output: Tensor, hn: Tensor] {
    const { output, h } = this.run(input, h0 === null ? null : { h: h0, c: null });
    return [output, h];
  }
}

/**
 * Long short-term memory, PyTorch's `nn.LSTM` (gates i, f, g, o in that order in each weight's
 * rows). `forward(input, [h0, c0]?)` → `[output, [h_n, c_n]]`, shapes as {@link RNN}'s; states
 * default to zeros.
 */
export class LSTM extends RecurrentBase {
  constructor(inputSize: number, hiddenSize: number, options: RecurrentOptions = {}) {
    super("LSTM", inputSize, hiddenSize, options);
  }

  forward(
    input: Tensor,
    hx: [h0: Tensor, c0: Tensor] | null = null,
  ): [output: Tensor, state: [hn: Tensor, cn: Tensor]] {
    const { output, h, c } = this.run(input, hx === null ? null : { h: hx[0], c: hx[1] });
    if (c === null) throw new Error("LSTM produced no cell state");
    return [output, [h, c]];
  }
}

/**
 * Gated recurrent unit, PyTorch's `nn.GRU` (gates r, z, n; the reset gate scales W_hn·h + b_hn).
 * `forward(input, h0?)` → `[output, h_n]`, shapes as {@link RNN}'s.
 */
export class GRU extends RecurrentBase {
  constructor(inputSize: number, hiddenSize: number, options: RecurrentOptions = {}) {
    super("GRU", inputSize, hiddenSize, options);
  }

  forward(input: Tensor, h0: Tensor | null = null): [output: Tensor, hn: Tensor] {
    const { output, h } = this.run(input, h0 === null ? null : { h: h0, c: null });
    return [output, h];
  }
}

/** One step of a recurrence: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` as PyTorch's cells. */
abstract class CellBase extends Module<[Tensor, (Tensor | [Tensor, Tensor] | null)?], unknown> {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly bias: boolean;
  weight_ih: Parameter;
  weight_hh: Parameter;
  bias_ih: Parameter | null;
  bias_hh: Parameter | null;
  readonly #mode: RecurrentMode;

  constructor(
    mode: RecurrentMode,
    inputSize: number,
    hiddenSize: number,
    { bias = true, dtype = "float32", device = "cpu", generator }: FactoryOptions & { bias?: boolean },
  ) {
    super();
    const name = `${mode === "LSTM" || mode === "GRU" ? mode : "RNN"}Cell`;
    assertPositiveInt(inputSize, `${name} inputSize`);
    assertPositiveInt(hiddenSize, `${name} hiddenSize`);
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.bias = bias;
    this.#mode = mode;
    const rows = GATES[mode] * hiddenSize;
    const parameter = (shape: number[]) => new Parameter(zeros(shape, { dtype, device }));
    this.weight_ih = parameter([rows, inputSize]);
    this.weight_hh = parameter([rows, hiddenSize]);
    this.bias_ih = bias ? parameter([rows]) : null;
    this.bias_hh = bias ? parameter([rows]) : null;
    const bound = 1 / Math.sqrt(hiddenSize);
    for (const p of this.parameters()) uniform_(p, -bound, bound, { generator });
  }

  /** One step from (N, input) or unbatched (input); states default to zeros. */
  protected cell(input: Tensor, hx: StepState | null): StepState {
    const name = this.typeName;
    assertFloat(input, `${name} input`);
    if ((input.ndim !== 1 && input.ndim !== 2) || input.shape[input.ndim - 1] !== this.inputSize) {
      throw new RangeError(
        `${name}: expected input of shape (N, ${this.inputSize}) or (${this.inputSize}), got ${formatShape(input.shape)}`,
      );
    }
    const batched = input.ndim === 2;
    const x = batched ? input : input.unsqueeze(0);
    const shape = [x.shape[0], this.hiddenSize];
    const state = {
      h: initialState(name, "hx", hx?.h, x, shape, 0, batched),
      c: this.#mode === "LSTM" ? initialState(name, "cx", hx?.c, x, shape, 0, batched) : null,
    };
    const next = step(
      this.#mode,
      linear(x, this.weight_ih, this.bias_ih),
      state,
      this.weight_hh,
      this.bias_hh,
    );
    const unbatch = (t: Tensor) => (batched ? t : t.squeeze(0));
    return { h: unbatch(next.h), c: next.c === null ? null : unbatch(next.c) };
  }

  override extraRepr(): string {
    const relu = this.#mode === "RNN_RELU" ? ", nonlinearity=relu" : "";
    return `${this.inputSize}, ${this.hiddenSize}${this.bias ? "" : ", bias=False"}${relu}`;
  }
}

/** Options of {@link RNNCell}: `bias` (default true) and the nonlinearity (default "tanh"). */
export interface RNNCellOptions extends FactoryOptions {
  bias?: boolean;
  nonlinearity?: "tanh" | "relu";
}

/** One Elman RNN step, PyTorch's `nn.RNNCell`: `forward(input, h?)` → h' = act(W_ih·x + b_ih + W_hh·h + b_hh). */
export class RNNCell extends CellBase {
  readonly nonlinearity: "tanh" | "relu";

  constructor(inputSize: number, hiddenSize: number, options: RNNCellOptions = {}) {
    const { nonlinearity = "tanh" } = options;
    if (nonlinearity !== "tanh" && nonlinearity !== "relu") {
      throw new RangeError(
        `RNNCell nonlinearity must be "tanh" or "relu", got ${JSON.stringify(nonlinearity)}`,
      );
    }
    super(nonlinearity === "tanh" ? "RNN_TANH" : "RNN_RELU", inputSize, hiddenSize, options);
    this.nonlinearity = nonlinearity;
  }

  forward(input: Tensor, hx: Tensor | null = null): Tensor {
    return this.cell(input, hx === null ? null : { h: hx, c: null }).h;
  }
}

/** One LSTM step, PyTorch's `nn.LSTMCell`: `forward(input, [h, c]?)` → `[h', c']`. */
export class LSTMCell extends CellBase {
  constructor(inputSize: number, hiddenSize: number, options: FactoryOptions & { bias?: boolean } = {}) {
    super("LSTM", inputSize, hiddenSize, options);
  }

  forward(input: Tensor, hx: [h: Tensor, c: Tensor] | null = null): [h: Tensor, c: Tensor] {
    const { h, c } = this.cell(input, hx === null ? null : { h: hx[0], c: hx[1] });
    if (c === null) throw new Error("LSTMCell produced no cell state");
    return [h, c];
  }
}

/** One GRU step, PyTorch's `nn.GRUCell`: `forward(input, h?)` → h'. */
export class GRUCell extends CellBase {
  constructor(inputSize: number, hiddenSize: number, options: FactoryOptions & { bias?: boolean } = {}) {
    super("GRU", inputSize, hiddenSize, options);
  }

  forward(input: Tensor, hx: Tensor | null = null): Tensor {
    return this.cell(input, hx === null ? null : { h: hx, c: null }).h;
  }
}
