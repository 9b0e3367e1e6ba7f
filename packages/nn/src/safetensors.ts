// State dicts as safetensors bytes and files: a strict reader (every malformed input a clear error) and a writer.
import { allocateTypedArray, type DType, type Tensor, type TypedArray, tensor } from "@normgrad/core";
import { readFileBytes, writeFileAtomic } from "#files";
import { type AnyModule, Module, StateDict } from "./module.ts";

/**
 * Thrown for any file the reader refuses: truncated, a malformed or oversize header, offsets
 * out of range, overlapping or leaving gaps, an unknown dtype, a value that does not fit.
 */
export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** Headers larger than this are refused before parsing (the format's reference reader uses the same limit). */
export const MAX_HEADER_BYTES = 100_000_000;

/** The metadata key holding each module's `stateVersion`: JSON `[[prefix, version], …]` in module order. */
const VERSIONS_KEY = "normgrad.versions";

/** Element types the reader understands, with their width in bytes and the dtype they load as. */
const FILE_DTYPES = {
  F64: { bytes: 8, dtype: "float64" },
  F32: { bytes: 4, dtype: "float32" },
  F16: { bytes: 2, dtype: "float32" },
  BF16: { bytes: 2, dtype: "float32" },
  I64: { bytes: 8, dtype: "int32" },
  I32: { bytes: 4, dtype: "int32" },
  I16: { bytes: 2, dtype: "int32" },
  I8: { bytes: 1, dtype: "int32" },
  U32: { bytes: 4, dtype: "int32" },
  U16: { bytes: 2, dtype: "int32" },
  U8: { bytes: 1, dtype: "int32" },
  BOOL: { bytes: 1, dtype: "bool" },
} as const satisfies Record<string, { bytes: number; dtype: DType }>;

type FileDType = keyof typeof FILE_DTYPES;

function isFileDType(value: string): value is FileDType {
  return Object.hasOwn(FILE_DTYPES, value);
}

/** What can be saved: a module (its `stateDict()`), a state dict, or a map or record of tensors. */
export type SaveSource =
  | AnyModule
  | StateDict
  | ReadonlyMap<string, Tensor>
  | Readonly<Record<string, Tensor>>;

/** Options of `toBytes` / `save`. */
export interface SaveOptions {
  /** Extra string metadata stored in the header's `__metadata__` (default: `{ format: "pt" }`). */
  metadata?: Readonly<Record<string, string>>;
}

function entriesOf(source: SaveSource): { entries: [string, Tensor][]; state: StateDict | null } {
  if (source instanceof Module) {
    const state = source.stateDict();
    return { entries: [...state], state };
  }
  if (source instanceof Map)
    return { entries: [...source], state: source instanceof StateDict ? source : null };
  return { entries: Object.entries(source), state: null };
}

/** The little-endian bytes of one tensor's values, in its file dtype. */
function encodeTensor(source: Tensor, values: TypedArray): { dtype: FileDType; bytes: Uint8Array } {
  switch (source.dtype) {
    case "float32":
      return { dtype: "F32", bytes: littleEndianBytes(Float32Array.from(values)) };
    case "float64":
      return { dtype: "F64", bytes: littleEndianBytes(Float64Array.from(values)) };
    case "int32": {
      // normgrad's int32 stands in for PyTorch's int64 (class indices, num_batches_tracked), so it is written as I64.
      const out = new DataView(new ArrayBuffer(values.length * 8));
      values.forEach((value, i) => {
        out.setBigInt64(i * 8, BigInt(value), true);
      });
      return { dtype: "I64", bytes: new Uint8Array(out.buffer) };
    }
    case "bool":
      return { dtype: "BOOL", bytes: Uint8Array.from(values, (value) => (value === 0 ? 0 : 1)) };
    default:
      return source.dtype satisfies never;
  }
}

function littleEndianBytes(values: Float32Array | Float64Array): Uint8Array {
  const out = new DataView(new ArrayBuffer(values.byteLength));
  const width = values.BYTES_PER_ELEMENT;
  values.forEach((value, i) => {
    if (width === 4) out.setFloat32(i * 4, value, true);
    else out.setFloat64(i * 8, value, true);
  });
  return new Uint8Array(out.buffer);
}

/**
 * Serializes a module's state dict (or any map of tensors) to safetensors bytes: an 8-byte
 * little-endian header length, a JSON header `{name: {dtype, shape, data_offsets}, __metadata__}`
 * padded with spaces to 8 bytes, then the tensors' bytes back to back in state-dict order.
 * float32 → F32, float64 → F64, int32 → I64 (PyTorch's dtype for counters and indices), bool → BOOL.
 * Module state versions travel in `__metadata__["normgrad.versions"]`.
 */
export function toBytes(source: SaveSource, options: SaveOptions = {}): Uint8Array {
  const { entries, state } = entriesOf(source);
  return serialize(
    entries.map(([name, tensor]) => [name, tensor, tensor.dataSync()]),
    state,
    options,
  );
}

/** `toBytes` over values already read (`save` reads them with `await data()`). */
function serialize(
  entries: readonly (readonly [string, Tensor, TypedArray])[],
  state: StateDict | null,
  { metadata = { format: "pt" } }: SaveOptions,
): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = Object.create(null);
  const headerMetadata: Record<string, string> = Object.create(null);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string")
      throw new TypeError(`safetensors metadata ${key} must be a string, got ${typeof value}`);
    headerMetadata[key] = value;
  }
  if (state !== null && state.versions.size > 0) {
    headerMetadata[VERSIONS_KEY] = JSON.stringify([...state.versions]);
  }
  if (Object.keys(headerMetadata).length > 0) header.__metadata__ = headerMetadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor, values] of entries) {
    if (name === "__metadata__")
      throw new RangeError(`"__metadata__" is reserved by safetensors and cannot name a tensor`);
    const { dtype, bytes } = encodeTensor(tensor, values);
    header[name] = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let position = 8 + padded;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isSafeCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

interface HeaderEntry {
  readonly name: string;
  readonly dtype: FileDType;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

/**
 * `value` as JSON, cut to 60 characters. It stops writing once past the limit, so a value nested
 * 100,000 deep (which JSON.stringify would overflow the stack on) or a huge array costs little.
 */
function describe(value: unknown): string {
  const limit = 60;
  let text = "";
  const write = (item: unknown): void => {
    if (Array.isArray(item)) {
      text += "[";
      for (let i = 0; i < item.length && text.length <= limit; i++) {
        if (i > 0) text += ",";
        write(item[i]);
      }
      text += "]";
    } else if (isRecord(item)) {
      text += "{";
      let first = true;
      for (const key in item) {
        if (text.length > limit) break;
        if (!Object.hasOwn(item, key)) continue;
        text += `${first ? "" : ","}${JSON.stringify(key.slice(0, limit))}:`;
        first = false;
        write(item[key]);
      }
      text += "}";
    } else {
      text += JSON.stringify(typeof item === "string" ? item.slice(0, limit + 1) : item) ?? String(item);
    }
  };
  write(value);
  return text.length > limit ? `${text.slice(0, limit - 3)}...` : text;
}

/** Whether the character at `at` is escaped: preceded by an odd number of backslashes. */
function isEscaped(json: string, at: number): boolean {
  let backslashes = 0;
  while (json.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
  return backslashes % 2 === 1;
}

/**
 * The first key that appears twice in one object of `json` (valid JSON), with the key holding
 * that object (null at the top level), or null. JSON.parse silently keeps the last duplicate, so
 * a header could name two tensors `w` or give one tensor two `data_offsets`; other readers may
 * keep the first. One pass that jumps between quotes and brackets, without recursion.
 */
function findDuplicateKey(json: string): { key: string; owner: string | null } | null {
  const open: { keys: Set<string> | null; owner: string | null }[] = [];
  const structural = /["{}[\]]/g;
  let lastKey: string | null = null;
  for (let match = structural.exec(json); match !== null; match = structural.exec(json)) {
    const at = match.index;
    const char = json[at];
    if (char === "{" || char === "[") {
      open.push({ keys: char === "{" ? new Set() : null, owner: lastKey });
      lastKey = null;
    } else if (char === "}" || char === "]") {
      open.pop();
      lastKey = null;
    } else {
      let end = json.indexOf('"', at + 1);
      while (isEscaped(json, end)) end = json.indexOf('"', end + 1);
      structural.lastIndex = end + 1;
      let next = end + 1;
      while (json[next] === " " || json[next] === "\n" || json[next] === "\r" || json[next] === "\t") next++;
      const container = open[open.length - 1];
      if (json[next] !== ":" || container === undefined || container.keys === null) continue;
      const raw = json.slice(at + 1, end);
      const decoded: unknown = raw.includes("\\") ? JSON.parse(`"${raw}"`) : raw;
      const key = typeof decoded === "string" ? decoded : raw;
      if (container.keys.has(key)) return { key, owner: container.owner };
      container.keys.add(key);
      lastKey = key;
    }
  }
  return null;
}

function parseEntry(name: string, raw: unknown, dataLength: number): HeaderEntry {
  const where = `safetensors tensor ${describe(name)}`;
  if (!isRecord(raw))
    throw new SafetensorsError(`${where}: expected an object with dtype, shape and data_offsets`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== "string")
    throw new SafetensorsError(`${where}: dtype must be a string, got ${describe(dtype)}`);
  if (!isFileDType(dtype)) {
    throw new SafetensorsError(
      `${where}: unknown or unsupported dtype ${describe(dtype)} (supported: ${Object.keys(FILE_DTYPES).join(", ")})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isSafeCount)) {
    throw new SafetensorsError(
      `${where}: shape must be a list of non-negative integers, got ${describe(shape)}`,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSafeCount)) {
    throw new SafetensorsError(
      `${where}: data_offsets must be [begin, end] integers, got ${describe(offsets)}`,
    );
  }
  const [begin, end] = offsets;
  if (begin > end || end > dataLength) {
    throw new SafetensorsError(
      `${where}: data_offsets [${begin}, ${end}] are out of range for a data section of ${dataLength} bytes`,
    );
  }
  // The size is checked against the byte range before anything is allocated, so a huge shape costs nothing.
  const elements = shape.includes(0) ? 0 : shape.reduce((product, dim) => product * dim, 1);
  const needed = elements * FILE_DTYPES[dtype].bytes;
  if (needed !== end - begin) {
    const size = Number.isSafeInteger(needed) ? `${needed} bytes` : "more bytes than any file can hold";
    throw new SafetensorsError(
      `${where}: shape [${shape.join(", ")}] of ${dtype} needs ${size}, ` +
        `but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape, begin, end };
}

/** Checks the entries tile the data section exactly: no gap, no overlap, nothing left over. */
function assertTiling(entries: readonly HeaderEntry[], dataLength: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const entry of sorted) {
    if (entry.begin !== covered) {
      throw new SafetensorsError(
        entry.begin < covered
          ? `safetensors tensor ${describe(entry.name)} overlaps another: it starts at byte ${entry.begin}, before ${covered}`
          : `safetensors data has a gap: bytes ${covered}..${entry.begin} belong to no tensor`,
      );
    }
    covered = entry.end;
  }
  if (covered !== dataLength) {
    throw new SafetensorsError(
      `safetensors data has ${dataLength - covered} trailing bytes that belong to no tensor`,
    );
  }
}

function decodeValues(entry: HeaderEntry, view: DataView): TypedArray {
  const { bytes, dtype } = FILE_DTYPES[entry.dtype];
  const values = allocateTypedArray(dtype, (entry.end - entry.begin) / bytes);
  for (let i = 0; i < values.length; i++) values[i] = decodeOne(entry, view, entry.begin + i * bytes);
  return values;
}

function decodeOne(entry: HeaderEntry, view: DataView, at: number): number {
  switch (entry.dtype) {
    case "F64":
      return view.getFloat64(at, true);
    case "F32":
      return view.getFloat32(at, true);
    case "F16":
      return halfToNumber(view.getUint16(at, true));
    case "BF16":
      return bfloat16ToNumber(view.getUint16(at, true));
    case "I64": {
      const value = view.getBigInt64(at, true);
      if (value < -2147483648n || value > 2147483647n) {
        throw new SafetensorsError(
          `safetensors tensor ${describe(entry.name)}: I64 value ${value} does not fit in int32, normgrad's integer dtype`,
        );
      }
      return Number(value);
    }
    case "I32":
      return view.getInt32(at, true);
    case "I16":
      return view.getInt16(at, true);
    case "I8":
      return view.getInt8(at);
    case "U32": {
      const value = view.getUint32(at, true);
      if (value > 2147483647) {
        throw new SafetensorsError(
          `safetensors tensor ${describe(entry.name)}: U32 value ${value} does not fit in int32`,
        );
      }
      return value;
    }
    case "U16":
      return view.getUint16(at, true);
    case "U8":
      return view.getUint8(at);
    case "BOOL":
      return view.getUint8(at) === 0 ? 0 : 1;
    default:
      return entry.dtype satisfies never;
  }
}

/** IEEE half precision → number: sign, 5-bit exponent, 10-bit fraction. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** bfloat16 is the top half of a float32. */
function bfloat16ToNumber(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits << 16);
  return view.getFloat32(0);
}

function parseMetadata(raw: unknown, state: StateDict): void {
  if (!isRecord(raw))
    throw new SafetensorsError(`safetensors __metadata__ must be an object of strings, got ${describe(raw)}`);
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== "string") {
      throw new SafetensorsError(
        `safetensors __metadata__ ${describe(key)} must be a string, got ${describe(value)}`,
      );
    }
    if (key !== VERSIONS_KEY) {
      state.metadata.set(key, value);
      continue;
    }
    let versions: unknown;
    try {
      versions = JSON.parse(value);
    } catch {
      throw new SafetensorsError(
        `safetensors __metadata__ ${VERSIONS_KEY} is not valid JSON: ${describe(value)}`,
      );
    }
    if (!Array.isArray(versions)) {
      throw new SafetensorsError(
        `safetensors ${VERSIONS_KEY} must list [prefix, version] pairs, got ${describe(versions)}`,
      );
    }
    for (const pair of versions) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || !isSafeCount(pair[1])) {
        throw new SafetensorsError(
          `safetensors ${VERSIONS_KEY}: ${describe(pair)} is not a [prefix, version] pair`,
        );
      }
      state.versions.set(pair[0], pair[1]);
    }
  }
}

/**
 * Reads safetensors bytes into a `StateDict` (tensors in file order; F16/BF16 load as float32,
 * integer types as int32 when every value fits). Every malformed input throws a
 * `SafetensorsError` naming what is wrong; nothing is allocated before the header is validated.
 */
export function fromBytes(source: Uint8Array | ArrayBuffer): StateDict {
  const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
  if (bytes.length < 8) {
    throw new SafetensorsError(
      `safetensors data is truncated: ${bytes.length} bytes, less than the 8-byte header length`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      `safetensors header of ${headerLength} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`,
    );
  }
  const headerEnd = 8 + Number(headerLength);
  if (headerEnd > bytes.length) {
    throw new SafetensorsError(
      `safetensors data is truncated: the header claims ${headerLength} bytes but only ${bytes.length - 8} follow`,
    );
  }
  let headerText: string;
  try {
    headerText = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, headerEnd));
  } catch {
    throw new SafetensorsError("safetensors header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (error) {
    throw new SafetensorsError(
      `safetensors header is not valid JSON: ${error instanceof Error ? error.message : error}`,
    );
  }
  if (!isRecord(header))
    throw new SafetensorsError(`safetensors header must be a JSON object, got ${describe(header)}`);
  const duplicate = findDuplicateKey(headerText);
  if (duplicate !== null) {
    const where = duplicate.owner === null ? "" : ` in ${describe(duplicate.owner)}`;
    throw new SafetensorsError(
      `safetensors header has the key ${describe(duplicate.key)} twice${where}: ` +
        "a JSON reader keeps only one of them, so the file is ambiguous",
    );
  }
  const data = new DataView(bytes.buffer, bytes.byteOffset + headerEnd, bytes.length - headerEnd);
  const state = new StateDict();
  const entries: HeaderEntry[] = [];
  // Object.entries lists "__proto__" and friends as plain keys; results go into Maps, never objects.
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") parseMetadata(raw, state);
    else entries.push(parseEntry(name, raw, data.byteLength));
  }
  assertTiling(entries, data.byteLength);
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (const entry of entries) {
    state.set(entry.name, tensor(decodeValues(entry, data), { shape: entry.shape }));
  }
  return state;
}

/** `toBytes`, reading values with `await data()` so modules on asynchronous devices serialize too. */
async function readBytes(source: SaveSource, options: SaveOptions): Promise<Uint8Array<ArrayBuffer>> {
  const { entries, state } = entriesOf(source);
  const values = await Promise.all(entries.map(([, tensor]) => tensor.data()));
  return serialize(
    entries.map(([name, tensor], i) => [name, tensor, values[i]]),
    state,
    options,
  );
}

/**
 * Writes `source` (a module or a state dict) to a safetensors file at `path` (Node only; in a
 * browser use `download` or `toBlob`). The write is atomic: a temporary file in the same folder
 * is flushed, then renamed over `path`, so a failed save leaves any previous file intact. Values
 * are read with `await data()`, so modules on asynchronous devices save too.
 */
export async function save(source: SaveSource, path: string, options: SaveOptions = {}): Promise<void> {
  await writeFileAtomic(path, await readBytes(source, options));
}

/** Reads a safetensors file (Node only; in a browser use `fromBlob`); load it into a module with `module.loadStateDict(await load(path))`. */
export async function load(path: string): Promise<StateDict> {
  return fromBytes(await readFileBytes(path));
}

/** The safetensors MIME type browsers label downloads with (the format has none registered). */
const SAFETENSORS_MIME = "application/octet-stream";

/** `source` as a safetensors Blob (anywhere Blob exists: browsers, Node ≥ 18), e.g. to upload or store in IndexedDB. */
export async function toBlob(source: SaveSource, options: SaveOptions = {}): Promise<Blob> {
  return new Blob([await readBytes(source, options)], { type: SAFETENSORS_MIME });
}

/** Reads a safetensors Blob or File (from `<input type="file">`, `fetch(url).then((r) => r.blob())`, or `toBlob`). */
export async function fromBlob(blob: Blob): Promise<StateDict> {
  return fromBytes(new Uint8Array(await blob.arrayBuffer()));
}

/** The few DOM pieces `download` uses, checked at run time so the package needs no DOM typings. */
interface DownloadDocument {
  createElement(tag: "a"): { href: string; download: string; click(): void };
}

function isDownloadDocument(value: unknown): value is DownloadDocument {
  return (
    typeof value === "object" &&
    value !== null &&
    "createElement" in value &&
    typeof value.createElement === "function"
  );
}

/**
 * Browsers: saves `source` as a safetensors file through the browser's download (an `<a download>`
 * click on an object URL), the counterpart of `save(source, path)` in Node.
 *
 * ```ts
 * await download(model, "mlp.safetensors");
 * ```
 */
export async function download(
  source: SaveSource,
  filename = "model.safetensors",
  options: SaveOptions = {},
): Promise<void> {
  const document: unknown = Reflect.get(globalThis, "document");
  if (!isDownloadDocument(document)) {
    throw new Error(
      `download(source, ${JSON.stringify(filename)}) needs a browser document; in Node use save(source, path)`,
    );
  }
  const url = URL.createObjectURL(await toBlob(source, options));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.click();
  // The browser fetches the object URL after the click returns; revoking it at once can cancel
  // the download, so the Blob is released a minute later.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
