// Browsers: no file paths; save/load say what to use instead (bytes, Blobs, downloads).
import type { readFileBytes as readInNode, writeFileAtomic as writeInNode } from "./files.node.ts";

/** Always throws: writing to a path needs Node. */
export const writeFileAtomic: typeof writeInNode = async (path) => {
  throw new Error(
    `save(source, ${JSON.stringify(path)}) writes a file and needs Node. In a browser use ` +
      "download(source, filename) for a file download, or toBlob/toBytes to store the bytes yourself",
  );
};

/** Always throws: reading a path needs Node. */
export const readFileBytes: typeof readInNode = async (path) => {
  throw new Error(
    `load(${JSON.stringify(path)}) reads a file and needs Node. In a browser use fromBlob(file) on a File ` +
      "from an <input type=file> or a fetch() response's blob(), or fromBytes(bytes)",
  );
};
