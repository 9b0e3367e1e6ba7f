// save/load on disk (atomic replacement, errors naming the path), Blobs, and what the browser build says instead of paths.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manualSeed, randn } from "@normgrad/core";
import { afterAll, describe, expect, it } from "vitest";
import { readFileBytes, writeFileAtomic } from "../src/files.browser.ts";
import {
  download,
  fromBlob,
  fromBytes,
  Linear,
  load,
  Sequential,
  save,
  toBlob,
  toBytes,
} from "../src/index.ts";

const directory = mkdtempSync(join(tmpdir(), "normgrad-save-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const makeModel = () => new Sequential(new Linear(3, 4), new Linear(4, 2));

describe("save (Node)", () => {
  it("replaces an existing file whole and leaves no temporary file beside it", async () => {
    const folder = join(directory, "replace");
    mkdirSync(folder);
    const path = join(folder, "model.safetensors");
    writeFileSync(path, "an older checkpoint");
    manualSeed(0);
    const model = makeModel();
    await save(model, path);
    expect(readdirSync(folder)).toEqual(["model.safetensors"]);
    expect(new Uint8Array(readFileSync(path))).toEqual(toBytes(model));
  });

  it("fails naming the path, keeps the previous file intact and removes its temporary file", async () => {
    const folder = join(directory, "blocked");
    mkdirSync(folder);
    // A folder where the file should go: the rename over it fails after the bytes were written.
    const path = join(folder, "model.safetensors");
    mkdirSync(path);
    writeFileSync(join(path, "keep.txt"), "previous contents");
    await expect(save(makeModel(), path)).rejects.toThrow(
      new RegExp(
        `could not write ${path.replaceAll("/", "\\/")}: .*\\(any previous file there is unchanged\\)`,
      ),
    );
    expect(readdirSync(folder)).toEqual(["model.safetensors"]);
    expect(readFileSync(join(path, "keep.txt"), "utf8")).toBe("previous contents");
  });

  it("fails naming the path when its folder does not exist", async () => {
    const path = join(directory, "missing", "model.safetensors");
    await expect(save(makeModel(), path)).rejects.toThrow(`could not write ${path}: ENOENT`);
  });

  it("load names the path it cannot read", async () => {
    const path = join(directory, "nothing-here.safetensors");
    await expect(load(path)).rejects.toThrow(`could not read ${path}: ENOENT`);
  });
});

describe("Blobs and downloads", () => {
  it("toBlob → fromBlob round-trips a model exactly", async () => {
    manualSeed(1);
    const model = makeModel();
    const blob = await toBlob(model);
    expect(blob.type).toBe("application/octet-stream");
    const restored = makeModel();
    restored.loadStateDict(await fromBlob(blob));
    const x = randn([5, 3]);
    expect(restored.forward(x).tolist()).toEqual(model.forward(x).tolist());
    expect(fromBytes(new Uint8Array(await blob.arrayBuffer())).size).toBe(4);
  });

  it("download needs a browser document and says what to use in Node", async () => {
    await expect(download(makeModel(), "m.safetensors")).rejects.toThrow(
      'download(source, "m.safetensors") needs a browser document; in Node use save(source, path)',
    );
  });
});

describe("the browser build's file functions", () => {
  it("refuse paths and name the browser alternatives", async () => {
    await expect(writeFileAtomic("model.safetensors", new Uint8Array(1))).rejects.toThrow(
      'save(source, "model.safetensors") writes a file and needs Node. In a browser use download(source, filename)',
    );
    await expect(readFileBytes("model.safetensors")).rejects.toThrow(
      'load("model.safetensors") reads a file and needs Node. In a browser use fromBlob(file)',
    );
  });
});
