// The IDX parser and the MNIST IDX decoder, on hand-made good and corrupted buffers.
import { describe, expect, it } from "vitest";
import { decodeMnistIdx, parseIdx } from "../src/index.ts";

/** An IDX file of unsigned bytes: magic 00 00 08 n, big-endian dims, then the data. */
function idx(dims: number[], data: number[], typeCode = 0x08): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + data.length);
  bytes.set([0, 0, typeCode, dims.length]);
  const view = new DataView(bytes.buffer);
  dims.forEach((size, k) => {
    view.setUint32(4 + 4 * k, size, false);
  });
  bytes.set(data, 4 + 4 * dims.length);
  return bytes;
}

const ramp = (n: number) => Array.from({ length: n }, (_, i) => i % 256);

describe("parseIdx", () => {
  it("reads dims and data of a good file", () => {
    const parsed = parseIdx(idx([2, 2, 3], ramp(12)), "good");
    expect(parsed.dims).toEqual([2, 2, 3]);
    expect(Array.from(parsed.data)).toEqual(ramp(12));
  });

  it("reads large big-endian sizes", () => {
    const bytes = idx([70000], []);
    expect(() => parseIdx(bytes, "labels.idx")).toThrow(
      "labels.idx: truncated IDX file: dims [70000] need 70000 data bytes, found 0",
    );
  });

  it.each([
    [
      "too short for a header",
      new Uint8Array([0, 0, 8]),
      "f.idx: truncated IDX file: 3 byte(s), the header alone needs 4",
    ],
    [
      "a bad magic number",
      Uint8Array.from([0x1f, 0x8b, 0x08, 0x01, 0, 0, 0, 0]),
      "f.idx: bad IDX magic number 0x1f8b0801, expected 0x000008nn",
    ],
    [
      "another element type",
      idx([1], [0], 0x0d),
      "f.idx: IDX element type 0x0d is not supported, only unsigned bytes (0x08)",
    ],
    [
      "a truncated header",
      idx([2, 2, 3], ramp(12)).subarray(0, 10),
      "f.idx: truncated IDX file: 10 bytes, the header of 3 dims needs 16",
    ],
    [
      "truncated data",
      idx([2, 2, 3], ramp(12)).subarray(0, 20),
      "f.idx: truncated IDX file: dims [2, 2, 3] need 12 data bytes, found 4",
    ],
    [
      "trailing bytes",
      idx([2], [1, 2, 3]),
      "f.idx: IDX file has 1 byte(s) after the 2 its dims [2] describe",
    ],
  ])("refuses %s, naming the file", (_, bytes, message) => {
    expect(() => parseIdx(bytes, "f.idx")).toThrow(message);
  });
});

describe("decodeMnistIdx", () => {
  const files = { imagesFile: "images.idx", labelsFile: "labels.idx" };

  it("scales pixels by 1/255 and keeps labels", () => {
    const pixels = ramp(2 * 784);
    const { images, labels } = decodeMnistIdx(idx([2, 28, 28], pixels), idx([2], [7, 3]), files);
    expect(images.length).toBe(2 * 784);
    expect(images[255]).toBe(1);
    expect(images[51]).toBeCloseTo(0.2, 7);
    expect(Array.from(labels)).toEqual([7, 3]);
  });

  it.each([
    [
      "a count mismatch",
      idx([2, 28, 28], ramp(2 * 784)),
      idx([3], [1, 2, 3]),
      "MNIST count mismatch: images.idx holds 2 images but labels.idx holds 3 labels",
    ],
    [
      "images that are not 28×28",
      idx([1, 28, 27], ramp(28 * 27)),
      idx([1], [1]),
      "images.idx: expected images of shape [N, 28, 28], got [1, 28, 27]",
    ],
    [
      "labels with two dims",
      idx([1, 28, 28], ramp(784)),
      idx([1, 1], [1]),
      "labels.idx: expected labels of shape [N], got [1, 1]",
    ],
    [
      "a label above 9",
      idx([2, 28, 28], ramp(2 * 784)),
      idx([2], [4, 12]),
      "labels.idx: label 12 at index 1 is not a digit 0-9",
    ],
    [
      "a truncated images file",
      idx([2, 28, 28], ramp(2 * 784)).subarray(0, 800),
      idx([2], [1, 2]),
      "images.idx: truncated IDX file: dims [2, 28, 28] need 1568 data bytes, found 784",
    ],
  ])("refuses %s", (_, images, labels, message) => {
    expect(() => decodeMnistIdx(images, labels, files)).toThrow(message);
  });
});
