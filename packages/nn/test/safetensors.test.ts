// The safetensors reader and writer: layout, dtypes (half precision exactly), views at an offset, every malformed-input error, and a seeded fuzz test.
import { Generator, tensor } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import {
  Conv2d,
  fromBytes,
  Linear,
  MAX_HEADER_BYTES,
  SafetensorsError,
  Sequential,
  toBytes,
} from "../src/index.ts";

/** Safetensors bytes from a header (an object, or raw text) and a data section; `length` overrides the length field. */
function build(header: unknown, data: ArrayLike<number> = [], length?: bigint): Uint8Array {
  const text = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

const F32_PAIR = { dtype: "F32", shape: [2], data_offsets: [0, 8] };

describe("writer", () => {
  it("writes a u64 header length, an 8-byte aligned JSON header and the data in state-dict order", () => {
    const model = new Linear(2, 3);
    const bytes = toBytes(model);
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(length % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
    expect(header.weight).toEqual({ dtype: "F32", shape: [3, 2], data_offsets: [0, 24] });
    expect(header.bias).toEqual({ dtype: "F32", shape: [3], data_offsets: [24, 36] });
    expect(header.__metadata__.format).toBe("pt");
    expect(bytes.length).toBe(8 + length + 36);
    expect(Array.from(new Float32Array(bytes.slice(8 + length, 8 + length + 24).buffer))).toEqual(
      Array.from(model.weight.dataSync()),
    );
  });

  it("round-trips every dtype exactly, int32 through I64", () => {
    const state = new Map([
      ["a", tensor([1.5, -2.25, 1e-30], { dtype: "float32" })],
      ["b", tensor([[Math.PI, -Math.E]], { dtype: "float64" })],
      ["c", tensor(-7, { dtype: "int32" })],
      ["empty", tensor([], { dtype: "float32" })],
    ]);
    const loaded = fromBytes(toBytes(state));
    for (const [key, value] of state) {
      expect(loaded.get(key)?.dtype).toBe(value.dtype);
      expect(loaded.get(key)?.shape).toEqual(value.shape);
      expect(loaded.get(key)?.tolist()).toEqual(value.tolist());
    }
  });

  it("refuses a tensor named __metadata__", () => {
    expect(() => toBytes({ __metadata__: tensor([1]) })).toThrow(/"__metadata__" is reserved/);
  });
});

describe("reader", () => {
  it("converts the other file dtypes: F16, BF16 to float32; I8, U8, I16, U16, U32 to int32; BOOL to bool", () => {
    const data = new Uint8Array([
      ...[0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c], // F16 1, -2, inf
      ...[0x80, 0x3f, 0x40, 0xc0], // BF16 1, -3
      ...[0xff, 0x05], // I8 -1, 5
      ...[0xff, 0x05], // U8 255, 5
      ...[0xfe, 0xff], // I16 -2
      ...[0xfe, 0xff], // U16 65534
      ...[0x01, 0x00, 0x00, 0x01], // U32 16777217
      ...[0x00, 0x02], // BOOL false, true
    ]);
    const state = fromBytes(
      build(
        {
          h: { dtype: "F16", shape: [3], data_offsets: [0, 6] },
          bh: { dtype: "BF16", shape: [2], data_offsets: [6, 10] },
          i8: { dtype: "I8", shape: [2], data_offsets: [10, 12] },
          u8: { dtype: "U8", shape: [2], data_offsets: [12, 14] },
          i16: { dtype: "I16", shape: [1], data_offsets: [14, 16] },
          u16: { dtype: "U16", shape: [1], data_offsets: [16, 18] },
          u32: { dtype: "U32", shape: [], data_offsets: [18, 22] },
          flags: { dtype: "BOOL", shape: [2], data_offsets: [22, 24] },
        },
        data,
      ),
    );
    expect(state.get("h")?.tolist()).toEqual([1, -2, Number.POSITIVE_INFINITY]);
    expect(state.get("bh")?.tolist()).toEqual([1, -3]);
    expect(state.get("i8")?.tolist()).toEqual([-1, 5]);
    expect(state.get("u8")?.tolist()).toEqual([255, 5]);
    expect(state.get("i16")?.tolist()).toEqual([-2]);
    expect(state.get("u16")?.tolist()).toEqual([65534]);
    expect(state.get("u32")?.item()).toBe(16777217);
    expect(state.get("flags")?.tolist()).toEqual([0, 1]);
    expect(state.get("flags")?.dtype).toBe("bool");
  });

  it("writes bool tensors as BOOL and reads them back as bool", () => {
    const flags = tensor([1, 0, 1], { dtype: "bool" });
    const back = fromBytes(toBytes(new Map([["flags", flags]]))).get("flags");
    expect(back?.dtype).toBe("bool");
    expect(back?.tolist()).toEqual([1, 0, 1]);
  });

  it("reads keys such as __proto__ and constructor as plain names, polluting nothing", () => {
    const header = `{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
      "constructor": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
      "__metadata__": {"__proto__": "x", "prototype": "y"}}`;
    const state = fromBytes(build(header, f32Bytes([1, 2])));
    expect([...state.keys()]).toEqual(["__proto__", "constructor"]);
    expect(state.get("__proto__")?.tolist()).toEqual([1]);
    expect(state.metadata.get("__proto__")).toBe("x");
    expect(Object.getPrototypeOf(state)).toBe(Object.getPrototypeOf(new (state.constructor as typeof Map)()));
    expect(({} as Record<string, unknown>).dtype).toBeUndefined();
  });
});

/** One tensor `h` of `dtype` holding each 16-bit pattern, little-endian. */
function halfFile(dtype: "F16" | "BF16", patterns: readonly number[]): Uint8Array {
  const data = new Uint8Array(2 * patterns.length);
  const view = new DataView(data.buffer);
  for (const [i, bits] of patterns.entries()) view.setUint16(2 * i, bits, true);
  return build({ h: { dtype, shape: [patterns.length], data_offsets: [0, data.length] } }, data);
}

// Every value below is exact in float32. The expected values are the format's definitions, and
// PyTorch 1.13.1 agrees: torch.tensor(bits, dtype=torch.int16).view(torch.float16 or torch.bfloat16).
const HALF_CASES: { dtype: "F16" | "BF16"; name: string; bits: number; value: number }[] = [
  { dtype: "F16", name: "smallest subnormal", bits: 0x0001, value: 2 ** -24 },
  { dtype: "F16", name: "negative smallest subnormal", bits: 0x8001, value: -(2 ** -24) },
  { dtype: "F16", name: "largest subnormal", bits: 0x03ff, value: 1023 * 2 ** -24 },
  { dtype: "F16", name: "smallest normal", bits: 0x0400, value: 2 ** -14 },
  { dtype: "F16", name: "largest finite", bits: 0x7bff, value: 65504 },
  { dtype: "F16", name: "a fraction (1/3 rounded)", bits: 0x3555, value: 0.333251953125 },
  { dtype: "F16", name: "-0", bits: 0x8000, value: -0 },
  { dtype: "F16", name: "+0", bits: 0x0000, value: 0 },
  { dtype: "F16", name: "+inf", bits: 0x7c00, value: Number.POSITIVE_INFINITY },
  { dtype: "F16", name: "-inf", bits: 0xfc00, value: Number.NEGATIVE_INFINITY },
  { dtype: "F16", name: "quiet NaN", bits: 0x7e00, value: Number.NaN },
  { dtype: "F16", name: "NaN with the lowest fraction bit", bits: 0x7c01, value: Number.NaN },
  { dtype: "BF16", name: "smallest subnormal", bits: 0x0001, value: 2 ** -133 },
  { dtype: "BF16", name: "negative smallest subnormal", bits: 0x8001, value: -(2 ** -133) },
  { dtype: "BF16", name: "largest subnormal", bits: 0x007f, value: 127 * 2 ** -133 },
  { dtype: "BF16", name: "smallest normal", bits: 0x0080, value: 2 ** -126 },
  { dtype: "BF16", name: "largest finite", bits: 0x7f7f, value: (2 - 2 ** -7) * 2 ** 127 },
  { dtype: "BF16", name: "-0", bits: 0x8000, value: -0 },
  { dtype: "BF16", name: "+inf", bits: 0x7f80, value: Number.POSITIVE_INFINITY },
  { dtype: "BF16", name: "-inf", bits: 0xff80, value: Number.NEGATIVE_INFINITY },
  { dtype: "BF16", name: "quiet NaN", bits: 0x7fc0, value: Number.NaN },
  { dtype: "BF16", name: "NaN with the lowest fraction bit", bits: 0x7f81, value: Number.NaN },
];

describe("half-precision decoding, exact", () => {
  it.each(
    HALF_CASES.map(
      ({ dtype, name, bits, value }) =>
        [dtype, bits.toString(16).padStart(4, "0"), name, bits, value] as const,
    ),
  )("%s 0x%s: %s", (dtype, _, __, bits, value) => {
    const loaded = fromBytes(halfFile(dtype, [bits])).get("h");
    expect(loaded?.dtype).toBe("float32");
    const [actual] = loaded?.dataSync() ?? [];
    // Object.is tells -0 from +0 and accepts NaN for NaN.
    expect(Object.is(actual, value), `${actual} is not ${value}`).toBe(true);
  });

  it.each(["F16", "BF16"] as const)("decodes all %s cases in one tensor, in order", (dtype) => {
    const cases = HALF_CASES.filter((entry) => entry.dtype === dtype);
    const values = Array.from(
      fromBytes(
        halfFile(
          dtype,
          cases.map(({ bits }) => bits),
        ),
      )
        .get("h")
        ?.dataSync() ?? [],
    );
    expect(values.map((value, i) => Object.is(value, cases[i].value))).toEqual(cases.map(() => true));
  });

  it("gives every F16 subnormal k·2⁻²⁴ and every BF16 subnormal k·2⁻¹³³", () => {
    const ks = Array.from({ length: 127 }, (_, i) => i + 1);
    const f16 = fromBytes(
      halfFile(
        "F16",
        ks.map((k) => k * 8),
      ),
    )
      .get("h")
      ?.tolist();
    expect(f16).toEqual(ks.map((k) => k * 8 * 2 ** -24));
    const bf16 = fromBytes(halfFile("BF16", ks)).get("h")?.tolist();
    expect(bf16).toEqual(ks.map((k) => k * 2 ** -133));
  });
});

describe("reading from a view that does not start at byte 0 of its buffer", () => {
  const state = new Map([
    [
      "w",
      tensor(
        [
          [1.5, -2.25, 3],
          [0.125, 1e-7, -8],
        ],
        { dtype: "float64" },
      ),
    ],
    ["b", tensor([0.5, -0.75], { dtype: "float32" })],
    ["n", tensor([3, -4, 5], { dtype: "int32" })],
  ]);
  const bytes = toBytes(state);

  function expectSameState(source: Uint8Array | ArrayBuffer): void {
    const loaded = fromBytes(source);
    expect([...loaded.keys()]).toEqual([...state.keys()]);
    for (const [key, value] of state) {
      expect(loaded.get(key)?.dtype, key).toBe(value.dtype);
      expect(loaded.get(key)?.tolist(), key).toEqual(value.tolist());
    }
  }

  it("a Node Buffer (Buffer.from copies small inputs into a shared pool, at an offset)", () => {
    const buffer = Buffer.from(bytes);
    expect(buffer.byteLength).toBe(bytes.length);
    expectSameState(buffer);
  });

  it.each([1, 3, 8, 13, 64])("subarray(%i) of a larger buffer with junk before and after", (k) => {
    const big = new Uint8Array(k + bytes.length + 11).fill(0xa5);
    big.set(bytes, k);
    const view = big.subarray(k, k + bytes.length);
    expect(view.byteOffset).toBe(k);
    expectSameState(view);
  });

  it("a Buffer sliced out of a larger Buffer", () => {
    const big = Buffer.concat([Buffer.alloc(7, 0xff), Buffer.from(bytes), Buffer.alloc(5, 0xff)]);
    const view = big.subarray(7, 7 + bytes.length);
    expect(view.byteOffset).toBeGreaterThan(0);
    expectSameState(view);
  });

  it("a plain ArrayBuffer, and a copy that owns its buffer", () => {
    const big = new Uint8Array(5 + bytes.length);
    big.set(bytes, 5);
    expectSameState(big.buffer.slice(5));
    expectSameState(big.slice(5));
  });
});

const u64 = (value: bigint) => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return out;
};

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

const errorCases: [name: string, bytes: () => Uint8Array, message: RegExp][] = [
  ["empty input", () => new Uint8Array(0), /truncated: 0 bytes, less than the 8-byte header length/],
  ["a cut header length", () => new Uint8Array(5), /truncated: 5 bytes/],
  ["a header longer than the file", () => build({}, [], 100n), /header claims 100 bytes but only 2 follow/],
  ["an oversize header", () => u64(BigInt(MAX_HEADER_BYTES) + 1n), /exceeds the 100000000-byte limit/],
  ["a u64 length beyond 2^53", () => u64(2n ** 63n), /exceeds the 100000000-byte limit/],
  ["invalid UTF-8", () => build("\u0000", []).map((b, i) => (i === 8 ? 0xff : b)), /not valid UTF-8/],
  ["malformed JSON", () => build('{"a": '), /header is not valid JSON/],
  ["a JSON array header", () => build("[1, 2]"), /must be a JSON object, got \[1,2\]/],
  ["a JSON null header", () => build("null"), /must be a JSON object, got null/],
  ["an entry that is not an object", () => build({ w: 3 }), /tensor "w": expected an object/],
  [
    "a missing dtype",
    () => build({ w: { shape: [], data_offsets: [0, 0] } }),
    /tensor "w": dtype must be a string/,
  ],
  [
    "an unknown dtype",
    () => build({ w: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, [0]),
    /tensor "w": unknown or unsupported dtype "F8_E4M3" \(supported: F64, F32/,
  ],
  [
    "a dtype named like an Object.prototype member",
    () => build({ w: { dtype: "toString", shape: [], data_offsets: [0, 0] } }),
    /unknown or unsupported dtype "toString"/,
  ],
  [
    "a negative dim",
    () => build({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 0] } }),
    /shape must be a list of non-negative integers, got \[-1\]/,
  ],
  [
    "a fractional dim",
    () => build({ w: { dtype: "F32", shape: [1.5], data_offsets: [0, 0] } }),
    /shape must be a list of non-negative integers/,
  ],
  [
    "offsets that are not a pair",
    () => build({ w: { dtype: "F32", shape: [1], data_offsets: [0] } }, [0, 0, 0, 0]),
    /data_offsets must be \[begin, end\] integers, got \[0\]/,
  ],
  [
    "begin after end",
    () => build({ w: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, [0, 0, 0, 0]),
    /data_offsets \[4, 0\] are out of range for a data section of 4 bytes/,
  ],
  [
    "an end beyond the data",
    () => build({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, [0, 0, 0, 0]),
    /data_offsets \[0, 8\] are out of range for a data section of 4 bytes/,
  ],
  [
    "a shape that does not match the byte range",
    () => build({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32Bytes([1, 2])),
    /shape \[3\] of F32 needs 12 bytes, but data_offsets \[0, 8\] span 8/,
  ],
  [
    "a huge shape",
    () => build({ w: { dtype: "F64", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, f32Bytes([1, 2])),
    /shape \[1099511627776, 1099511627776\] of F64 needs more bytes than any file can hold/,
  ],
  [
    "overlapping tensors",
    () => build({ a: F32_PAIR, b: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, f32Bytes([1, 2])),
    /tensor "b" overlaps another: it starts at byte 4, before 8/,
  ],
  [
    "a gap",
    () => build({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, f32Bytes([1, 2])),
    /data has a gap: bytes 0\.\.4 belong to no tensor/,
  ],
  [
    "trailing bytes",
    () => build({ a: F32_PAIR }, f32Bytes([1, 2, 3])),
    /4 trailing bytes that belong to no tensor/,
  ],
  [
    "metadata that is not an object",
    () => build({ __metadata__: [1] }),
    /__metadata__ must be an object of strings/,
  ],
  [
    "a metadata value that is not a string",
    () => build({ __metadata__: { a: 1 } }),
    /__metadata__ "a" must be a string, got 1/,
  ],
  [
    "a malformed version list",
    () => build({ __metadata__: { "normgrad.versions": "{oops" } }),
    /normgrad\.versions is not valid JSON/,
  ],
  [
    "a bad version pair",
    () => build({ __metadata__: { "normgrad.versions": '[["", -1]]' } }),
    /\["",-1\] is not a \[prefix, version\] pair/,
  ],
  [
    "an I64 value beyond int32",
    () => build({ n: { dtype: "I64", shape: [], data_offsets: [0, 8] } }, u64(2n ** 40n)),
    /tensor "n": I64 value 1099511627776 does not fit in int32/,
  ],
  [
    "a U32 value beyond int32",
    () => build({ n: { dtype: "U32", shape: [], data_offsets: [0, 4] } }, [0, 0, 0, 0x80]),
    /U32 value 2147483648 does not fit in int32/,
  ],
  [
    "a header value nested 100,000 deep",
    () => build(`{"w": {"dtype": ${nested(100_000)}, "shape": [], "data_offsets": [0, 0]}}`),
    /tensor "w": dtype must be a string, got \[\[\[\[.*\.\.\.$/,
  ],
  [
    "a header nested 100,000 deep",
    () => build(nested(100_000)),
    /must be a JSON object, got \[\[\[.*\.\.\.$/,
  ],
  [
    "metadata nested 100,000 deep",
    () => build(`{"__metadata__": ${nested(100_000)}}`),
    /__metadata__ must be an object of strings, got \[\[\[/,
  ],
  [
    "a version list nested 100,000 deep",
    () => build({ __metadata__: { "normgrad.versions": `[${nested(100_000)}]` } }),
    /normgrad\.versions: \[\[\[.*\.\.\. is not a \[prefix, version\] pair/,
  ],
  [
    "a tensor named twice",
    () =>
      build(
        `{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`,
        f32Bytes([1, 2]),
      ),
    /header has the key "w" twice: a JSON reader keeps only one of them, so the file is ambiguous/,
  ],
  [
    "a tensor named twice, once with an escape",
    () =>
      build(
        `{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},\n "\\u0077" : {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`,
        f32Bytes([1, 2]),
      ),
    /header has the key "w" twice/,
  ],
  [
    "an entry with two data_offsets",
    () =>
      build(
        `{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "data_offsets": [4, 8]}}`,
        f32Bytes([1, 2]),
      ),
    /header has the key "data_offsets" twice in "w"/,
  ],
  [
    "a metadata key given twice",
    () => build(`{"__metadata__": {"format": "pt", "format": "np"}}`),
    /header has the key "format" twice in "__metadata__"/,
  ],
];

describe("reader errors", () => {
  it.each(errorCases)("refuses %s", (_, bytes, message) => {
    expect(() => fromBytes(bytes())).toThrow(SafetensorsError);
    expect(() => fromBytes(bytes())).toThrow(message);
  });

  it("accepts the same key in different objects, and quotes, brackets and escapes inside names", () => {
    const names = ['a"b', "c\\", "d[{", 'e\\"f'];
    const header: Record<string, unknown> = {};
    names.forEach((name, i) => {
      header[name] = { dtype: "F32", shape: [1], data_offsets: [4 * i, 4 * i + 4] };
    });
    header.__metadata__ = { dtype: "x", shape: "y" };
    const state = fromBytes(build(header, f32Bytes([1, 2, 3, 4])));
    expect([...state.keys()]).toEqual(names);
    expect(state.metadata.get("shape")).toBe("y");
  });
});

describe("fuzz: corrupted files give clean errors only", () => {
  const model = new Sequential(new Conv2d(1, 2, 3), new Linear(4, 3));
  const valid = toBytes(model);
  const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
  const generator = new Generator(20240601);
  const pick = (n: number) => generator.integer(0, n);

  /** One random corruption of the valid file: byte flips (header-biased), cuts, splices, length rewrites, text edits. */
  const mutate = (): Uint8Array => {
    const bytes = valid.slice();
    switch (pick(6)) {
      case 0: {
        for (let i = 0, flips = 1 + pick(4); i < flips; i++) bytes[pick(headerEnd)] = pick(256);
        return bytes;
      }
      case 1:
        return bytes.slice(0, pick(bytes.length));
      case 2: {
        const at = pick(bytes.length);
        const junk = Uint8Array.from({ length: 1 + pick(16) }, () => pick(256));
        return Uint8Array.from([...bytes.slice(0, at), ...junk, ...bytes.slice(at)]);
      }
      case 3: {
        const lengths = [0n, 1n, BigInt(headerEnd - 9), BigInt(headerEnd), 2n ** 32n, 2n ** 64n - 1n];
        new DataView(bytes.buffer).setBigUint64(0, lengths[pick(lengths.length)], true);
        return bytes;
      }
      case 4: {
        const text = new TextDecoder().decode(bytes.subarray(8, headerEnd));
        const edits: [RegExp, string][] = [
          [/\d+/, String(pick(1000))],
          [/F32/, ["F16", "I64", "X9", "BOOL", "F64"][pick(5)]],
          [/"data_offsets"/, '"__proto__"'],
          [/"shape":\[[^\]]*\]/, '"shape":[-3]'],
          [/[{}[\]]/, ""],
          [/"[^"]+"/, '"__proto__"'],
          [/:/, ":null,"],
        ];
        let edited = text;
        for (let i = 0, count = 1 + pick(3); i < count; i++) {
          const [pattern, replacement] = edits[pick(edits.length)];
          const matches = [...edited.matchAll(new RegExp(pattern.source, "g"))];
          if (matches.length === 0) continue;
          const match = matches[pick(matches.length)];
          const at = match.index ?? 0;
          edited = edited.slice(0, at) + replacement + edited.slice(at + match[0].length);
        }
        return build(edited, bytes.subarray(headerEnd));
      }
      default: {
        for (let i = 0, flips = 1 + pick(8); i < flips; i++) bytes[pick(bytes.length)] = pick(256);
        return bytes;
      }
    }
  };

  it("600 mutations: each loads or throws a SafetensorsError, and nothing is polluted", () => {
    let refused = 0;
    for (let round = 0; round < 600; round++) {
      const bytes = mutate();
      try {
        const state = fromBytes(bytes);
        for (const value of state.values()) expect(value.size).toBeGreaterThanOrEqual(0);
      } catch (error) {
        if (!(error instanceof SafetensorsError)) {
          throw new Error(`mutation ${round} threw ${String(error)} instead of a SafetensorsError`);
        }
        expect(error.message).toMatch(/^safetensors /);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(300);
    expect(Object.prototype).not.toHaveProperty("dtype");
    expect(Object.prototype).not.toHaveProperty("data_offsets");
  });
});
