// A small parser for IDX files (the format MNIST ships in), with errors that name the file.

/** A parsed IDX file: its dims and its unsigned-byte elements, row-major. */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

/** IDX's element-type code for unsigned bytes, the only type MNIST uses. */
const UNSIGNED_BYTE = 0x08;

function hex(bytes: Uint8Array): string {
  return `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Parses an IDX file of unsigned bytes. Layout: a 4-byte magic number `00 00 08 n` (n = number
 * of dims), then n big-endian uint32 sizes, then the elements. A short file, a bad magic number,
 * another element type, or a size that does not match the data is an error naming `file`.
 * The result's data is a view into `bytes` (no copy).
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) {
    throw new Error(`${file}: truncated IDX file: ${bytes.length} byte(s), the header alone needs 4`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${file}: bad IDX magic number ${hex(bytes.subarray(0, 4))}, expected 0x000008nn`);
  }
  if (bytes[2] !== UNSIGNED_BYTE) {
    throw new Error(
      `${file}: IDX element type 0x${bytes[2].toString(16).padStart(2, "0")} is not supported, ` +
        "only unsigned bytes (0x08)",
    );
  }
  const ndims = bytes[3];
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) {
    throw new Error(
      `${file}: truncated IDX file: ${bytes.length} bytes, the header of ${ndims} dims needs ${headerLength}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndims }, (_, k) => view.getUint32(4 + 4 * k, false));
  const expected = dims.reduce((product, size) => product * size, 1);
  const actual = bytes.length - headerLength;
  if (actual < expected) {
    throw new Error(
      `${file}: truncated IDX file: dims [${dims.join(", ")}] need ${expected} data bytes, found ${actual}`,
    );
  }
  if (actual > expected) {
    throw new Error(
      `${file}: IDX file has ${actual - expected} byte(s) after the ${expected} its dims [${dims.join(", ")}] describe`,
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}
