// Node: the file side of save/load — atomic writes (temporary file, fsync, rename) and whole-file reads.
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Replaces `path` with `bytes` atomically: they go to a temporary file in the same folder,
 * which is flushed to disk and then renamed over `path`. A write that fails halfway (disk
 * full, a crash) leaves the previous file intact, and readers never see a partial file.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await open(temporary, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new Error(`could not write ${path}: ${reason(error)} (any previous file there is unchanged)`, {
      cause: error,
    });
  }
}

/** The bytes of the file at `path`; the error names the path. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new Error(`could not read ${path}: ${reason(error)}`, { cause: error });
  }
}
