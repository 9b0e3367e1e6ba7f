// normgrad as a dependency: the packed packages installed with npm outside the workspace, then used from plain Node, strict TypeScript and a browser bundle.
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type Download, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const WORKSPACE = fileURLToPath(new URL("../../..", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./consumer/", import.meta.url));
/** Screenshots and logs of the browser test, for a person to look at (ignored by git). */
const OUTPUT = fileURLToPath(new URL("./output/", import.meta.url));
/** Every published package, in dependency order. */
const PACKAGES = ["core", "nn", "optim", "data", "train", "gpu", "normgrad"] as const;
const CHROMIUM = "/usr/bin/chromium";
/** The launch flags this sandbox's closed network needs (see the README's "Tests" notes). */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

function run(command: string, args: readonly string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const { stdout, stderr } = error instanceof Error && "stdout" in error && "stderr" in error ? error : {};
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${String(stdout)}\n${String(stderr)}`);
  }
}

let project = "";

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "normgrad-consumer-"));
  const tarballs = join(project, "tarballs");
  mkdirSync(tarballs);
  // A fresh build: a stale dist/ from an earlier checkout must not hide a missing file.
  for (const name of PACKAGES)
    rmSync(join(WORKSPACE, "packages", name, "dist"), { recursive: true, force: true });
  run("pnpm", ["build"], WORKSPACE);
  for (const name of PACKAGES) {
    run("pnpm", ["pack", "--pack-destination", tarballs], join(WORKSPACE, "packages", name));
  }
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "normgrad-consumer", private: true, type: "module" }, null, 2),
  );
  // --omit=optional: gpu.js's optional native `gl` (headlessgl) is not needed by these tests.
  run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--omit=optional",
      ...readdirSync(tarballs).map((file) => join(tarballs, file)),
    ],
    project,
  );
}, 600_000);

afterAll(() => {
  if (project !== "") rmSync(project, { recursive: true, force: true });
});

/** The TypeScript block of a README (the repository's by default) that contains `marker`: the code a new user copies. */
function readmeSnippet(marker: string, readmePath = join(WORKSPACE, "README.md")): string {
  const readme = readFileSync(readmePath, "utf8");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
  const block = blocks.find((code) => code.includes(marker));
  if (block === undefined) throw new Error(`README.md has no \`\`\`ts block containing ${marker}`);
  return block;
}

describe("the published packages, installed with npm outside the workspace", () => {
  it("ship only built JavaScript and declarations, with real dependency versions", () => {
    for (const name of PACKAGES) {
      const folder = join(project, "node_modules", name === "normgrad" ? "normgrad" : `@normgrad/${name}`);
      const manifest: unknown = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
      expect(JSON.stringify(manifest)).not.toContain("workspace:");
      expect(existsSync(join(folder, "src"))).toBe(false);
      expect(existsSync(join(folder, "test"))).toBe(false);
      expect(existsSync(join(folder, "dist", "index.js"))).toBe(true);
      expect(existsSync(join(folder, "dist", "index.d.ts"))).toBe(true);
    }
  });

  it("plain node runs the README's training example: > 90% on MNIST, exact reload, gradcheck, GPU.js webasm", () => {
    const script = `${readmeSnippet("loadMnist(")}\n${readFileSync(join(FIXTURES, "after-readme.mjs"), "utf8")}`;
    writeFileSync(join(project, "train.mjs"), script);
    const output = run(process.execPath, ["train.mjs"], project);
    const result: unknown = JSON.parse(output.trim().split("\n").at(-1) ?? "");
    expect(result).toMatchObject({ reloadMaxDifference: 0, gradcheckReports: 1, gpuMode: "webasm" });
    const accuracy =
      typeof result === "object" && result !== null && "accuracy" in result ? result.accuracy : null;
    expect(accuracy).toBeGreaterThan(0.9);
    // The eval-mode MLP's logits on GPU.js (float32 kernels, another summation order) vs the CPU.
    const gpuMaxDifference =
      typeof result === "object" && result !== null && "gpuMaxDifference" in result
        ? result.gpuMaxDifference
        : null;
    expect(gpuMaxDifference).toBeLessThan(1e-3);
    expect(existsSync(join(project, "mlp.safetensors"))).toBe(true);
  }, 300_000);

  it("plain node runs the example of the normgrad package's README (its npm page)", () => {
    const readme = join(WORKSPACE, "packages", "normgrad", "README.md");
    writeFileSync(join(project, "package-readme.mjs"), readmeSnippet("fit(model", readme));
    // fit's progress goes to stderr; its return value is not printed, so a clean exit is the check.
    expect(run(process.execPath, ["package-readme.mjs"], project)).toBe("");
  }, 300_000);

  it.each([
    ["NodeNext", { module: "nodenext", moduleResolution: "nodenext" }],
    ["a bundler", { module: "esnext", moduleResolution: "bundler" }],
  ])(
    "type-check in a strict TypeScript 5 project resolving like %s, with skipLibCheck off",
    (_, resolution) => {
      const folder = join(project, `ts-${resolution.moduleResolution}`);
      mkdirSync(folder, { recursive: true });
      copyFileSync(join(FIXTURES, "consumer.ts"), join(folder, "consumer.ts"));
      // The stock `tsc --init` settings of TypeScript 5.9 (no @types packages), plus skipLibCheck off.
      const compilerOptions = {
        ...resolution,
        target: "es2022",
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: [],
      };
      writeFileSync(
        join(folder, "tsconfig.json"),
        JSON.stringify({ compilerOptions, include: ["consumer.ts"] }),
      );
      writeFileSync(join(folder, "package.json"), JSON.stringify({ type: "module" }));
      const tsc = createRequire(import.meta.url).resolve("typescript-5/bin/tsc");
      // The packages sit in the project's node_modules, one folder up: TypeScript looks there.
      expect(run(process.execPath, [tsc, "-p", folder], folder)).toBe("");
    },
    120_000,
  );
});

const MIME: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".png": "image/png" };

function serve(folder: string): Promise<Server> {
  const server = createServer((request, response) => {
    const path = join(folder, new URL(request.url ?? "/", "http://localhost").pathname);
    if (!existsSync(path) || !path.startsWith(folder)) {
      response.writeHead(404).end();
      return;
    }
    // Pages named isolated-* are cross-origin isolated, so they have SharedArrayBuffer (threads).
    const isolation = path.includes("/isolated-")
      ? { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" }
      : {};
    response.writeHead(200, {
      "content-type": MIME[extname(path)] ?? "application/octet-stream",
      ...isolation,
    });
    response.end(readFileSync(path));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** Bundles `<project>/<name>.{mjs,ts}` for the browser into the site folder beside `<name>.html`; returns its URL. */
async function sitePage(name: string, html: string): Promise<string> {
  const site = join(project, "site");
  mkdirSync(site, { recursive: true });
  const entry = [`${name}.mjs`, `${name}.ts`].find((file) => existsSync(join(project, file)));
  if (entry === undefined) throw new Error(`no ${name}.mjs or ${name}.ts in ${project}`);
  await build({
    entryPoints: [join(project, entry)],
    outfile: join(site, `${name}.js`),
    bundle: true,
    platform: "browser",
    format: "esm",
    absWorkingDir: project,
    logLevel: "silent",
  });
  writeFileSync(join(site, `${name}.html`), html);
  if (server === null) server = await serve(site);
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the test server has no TCP port");
  return `http://127.0.0.1:${address.port}/${name}.html`;
}

let server: Server | null = null;

afterAll(() => server?.close());

/** What `withBrowserPage` hands over: the page, its uncaught errors and console lines so far, its first download. */
interface OpenedPage {
  page: Page;
  errors: string[];
  messages: string[];
  /** Listened for before navigation: a fast page may download before `goto` returns. */
  firstDownload: Promise<Download>;
}

/** Opens `url` in headless Chromium and hands it to `use`. */
async function withBrowserPage(url: string, use: (opened: OpenedPage) => Promise<void>): Promise<void> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const messages: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => messages.push(message.text()));
    const firstDownload = page.waitForEvent("download", { timeout: 120_000 });
    // Pages that download nothing leave this pending until the browser closes: not an error.
    firstDownload.catch(() => undefined);
    await page.goto(url);
    await use({ page, errors, messages, firstDownload });
  } finally {
    await browser.close();
  }
}

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI === undefined) {
  console.warn(`browser consumer test skipped: no ${CHROMIUM} (apt-get install chromium; CI installs it)`);
}

describe.runIf(hasChromium || process.env.CI !== undefined)("in a browser bundle", () => {
  it("core, nn, optim and data bundle for the browser with no Node built-in", async () => {
    const entry = join(project, "scoped.mjs");
    writeFileSync(
      entry,
      ["core", "nn", "optim", "data"].map((name) => `export * from "@normgrad/${name}";`).join("\n"),
    );
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      absWorkingDir: project,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain("node_modules/@normgrad/core/dist/index.js");
    expect(inputs).toContain("node_modules/@normgrad/data/dist/package-files.browser.js");
    // "(disabled):crypto" is seedrandom's own `browser` field switching its Node fallback off.
    const outside = inputs.filter(
      (input) => !input.startsWith("node_modules/") && input !== "(disabled):crypto",
    );
    expect(outside).toEqual(["scoped.mjs"]);
  });

  it("trains on the CPU backend and on GPU.js in headless Chromium", async () => {
    copyFileSync(join(FIXTURES, "page.mjs"), join(project, "page.mjs"));
    const url = await sitePage("page", readFileSync(join(FIXTURES, "page.html"), "utf8"));
    await withBrowserPage(url, async ({ page, errors }) => {
      const results = await page.evaluate(() => Reflect.get(globalThis, "normgradResults"));
      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, "browser-consumer.png"), fullPage: true });
      writeFileSync(join(OUTPUT, "browser-consumer.json"), JSON.stringify(results, null, 2));
      expect(errors).toEqual([]);
      expect(await page.textContent("#status")).toBe("done");
      expect(results).toHaveLength(2);
      const [cpu, gpu] = results;
      expect(cpu).toMatchObject({
        backend: "cpu",
        mode: "wasm-simd gemm",
        logitsShape: "384×3",
        savedTensors: 9,
        threads: { count: 1, unavailable: expect.stringContaining("SharedArrayBuffer is unavailable") },
      });
      expect(["webgl2", "webgl", "webasm"]).toContain(gpu.mode);
      for (const run of [cpu, gpu]) {
        expect(run.lastLoss).toBeLessThan(run.firstLoss / 2);
        expect(run.accuracy).toBeGreaterThan(0.9);
      }
      const shownModes = await page.$$eval("#runs tr", (rows) =>
        rows.map((row) => row.children[1].textContent),
      );
      expect(shownModes).toEqual([cpu.mode, gpu.mode]);
    });
  }, 300_000);

  it("runs the CPU backend on two threads in a cross-origin-isolated page's worker, one on its main thread", async () => {
    for (const name of ["isolated-threads", "isolated-threads-worker"])
      copyFileSync(join(FIXTURES, `${name}.mjs`), join(project, `${name}.mjs`));
    await sitePage("isolated-threads-worker", "");
    const html =
      '<!doctype html><html><body><script type="module" src="./isolated-threads.js"></script></body></html>';
    const url = await sitePage("isolated-threads", html);
    await withBrowserPage(url, async ({ page, errors }) => {
      const results = await page.evaluate(() => Reflect.get(globalThis, "threadsResults"));
      expect(errors).toEqual([]);
      expect(results).toEqual({
        isolated: true,
        mainThread: { threads: 1, unavailable: expect.stringContaining("main thread cannot block") },
        worker: { threads: 2, unavailable: null, identical: true },
      });
    });
  }, 300_000);

  it("runs the README's browser snippet: GPU training through fit, then a safetensors download", async () => {
    writeFileSync(
      join(project, "readme-browser.ts"),
      `${readmeSnippet("normgrad/gpu")}\nReflect.set(globalThis, "readmeDone", true);\n`,
    );
    const html =
      '<!doctype html><html><body><script type="module" src="./readme-browser.js"></script></body></html>';
    const url = await sitePage("readme-browser", html);
    await withBrowserPage(url, async ({ page, errors, messages, firstDownload }) => {
      const failure = page.waitForEvent("pageerror", { timeout: 0 }).then((error) => Promise.reject(error));
      const download = await Promise.race([firstDownload, failure]).catch((error: unknown) => {
        throw new Error(`no download; the page's console said:\n${messages.join("\n")}`, { cause: error });
      });
      expect(download.suggestedFilename()).toBe("model.safetensors");
      const bytes = readFileSync(await download.path());
      const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      const header: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
      expect(Object.keys(header ?? {})).toEqual(
        expect.arrayContaining(["0.weight", "0.bias", "2.weight", "2.bias"]),
      );
      await page.waitForFunction(() => Reflect.get(globalThis, "readmeDone") === true);
      expect(errors).toEqual([]);
      expect(messages.some((message) => /^training on GPU\.js (webgl2|webgl|webasm)$/.test(message))).toBe(
        true,
      );
    });
  }, 300_000);
});
