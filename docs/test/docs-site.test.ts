// The docs site builds (`pnpm docs`: TypeDoc, then VitePress), every link inside it resolves, and its BatchNorm lab trains in Chromium.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DOCS = fileURLToPath(new URL("..", import.meta.url));
/** A throwaway output folder, so the test never overwrites a site built with `pnpm docs`. */
const SITE = mkdtempSync(join(tmpdir(), "normgrad-docs-site-"));
afterAll(() => rmSync(SITE, { recursive: true, force: true }));

/** The same two steps as the docs package's `build` script, with VitePress writing into SITE. */
function buildSite(): void {
  const run = (tool: string, args: string[]) =>
    execFileSync(join(DOCS, "node_modules", ".bin", tool), args, {
      cwd: DOCS,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
  run("typedoc", []);
  run("vitepress", ["build", "--outDir", SITE]);
}

/** Every `.html` file under `folder`. */
function htmlFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".html"))
    .map((name) => join(folder, name));
}

/** The site path a built file is served at (`/api/index.html` → `/api/index.html`, POSIX slashes). */
function sitePathOf(file: string): string {
  return `/${relative(SITE, file).split(sep).join("/")}`;
}

/** The built file a site path names: `/x/` is `/x/index.html`, and `/x` may be `/x.html` (clean URLs). */
function fileOfSitePath(path: string): string | undefined {
  const candidates = path.endsWith("/") ? [`${path}index.html`] : [path, `${path}.html`];
  return candidates
    .map((candidate) => join(SITE, ...decodeURIComponent(candidate).split("/")))
    .find((file) => existsSync(file) && statSync(file).isFile());
}

/** The `href` of every `<a>` and the `src` of every `<img>` in a page. */
function linksOf(html: string): string[] {
  return [...html.matchAll(/<(?:a|img)\s[^>]*?\b(?:href|src)="([^"]*)"/g)].map((match) =>
    match[1].replaceAll("&amp;", "&"),
  );
}

/** Every element `id` in a page: the anchors a `#fragment` may name. */
function idsOf(html: string): Set<string> {
  return new Set([...html.matchAll(/\sid="([^"]*)"/g)].map((match) => match[1]));
}

beforeAll(buildSite, 300_000);

describe("the docs site", () => {
  const pages = new Map<string, string>();
  beforeAll(() => {
    for (const file of htmlFiles(SITE)) pages.set(file, readFileSync(file, "utf8"));
  });

  it("has every guide, the API reference of every package, and math rendered by KaTeX", () => {
    const guides = ["getting-started", "autograd", "modules", "normalization", "training", "gpu"];
    for (const name of [...guides, "performance", "bn-placement", "architecture"]) {
      expect(fileOfSitePath(`/${name}`), name).toBeDefined();
    }
    for (const name of ["core", "nn", "optim", "data", "train", "gpu"]) {
      expect(fileOfSitePath(`/api/@normgrad/${name}/`), name).toBeDefined();
    }
    expect(pages.get(join(SITE, "getting-started.html"))).toContain('class="katex"');
  });

  it("has no internal link or anchor that does not resolve", () => {
    const broken: string[] = [];
    const external = new Set<string>();
    for (const [file, html] of pages) {
      const page = new URL(sitePathOf(file), "http://site.invalid");
      for (const link of linksOf(html)) {
        if (/^(?:[a-z]+:)?\/\//i.test(link) || /^(?:mailto|data):/i.test(link)) {
          // Listed, not fetched: the test runs offline.
          external.add(link);
          continue;
        }
        if (link === "" || link === "#") continue;
        const target = new URL(link, page);
        const targetFile = fileOfSitePath(target.pathname);
        if (targetFile === undefined) {
          broken.push(`${sitePathOf(file)}: ${link} (no such page)`);
          continue;
        }
        const fragment = decodeURIComponent(target.hash.slice(1));
        const targetHtml = pages.get(targetFile);
        if (fragment !== "" && targetHtml !== undefined && !idsOf(targetHtml).has(fragment)) {
          broken.push(`${sitePathOf(file)}: ${link} (no anchor "${fragment}")`);
        }
      }
    }
    expect(broken).toEqual([]);
    // Where the site points outside itself (one line per link), for whoever checks them by hand.
    process.stdout.write(`docs site: ${external.size} external links\n${[...external].sort().join("\n")}\n`);
  });
});

/** The content types the site's files need (module workers refuse a script served as octet-stream). */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".ttf": "font/ttf",
};

/** Serves the built site as `vitepress preview` does (clean URLs), on a free local port. */
async function serveSite(): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    const file = fileOfSitePath(new URL(request.url ?? "/", "http://site.invalid").pathname);
    if (file === undefined) {
      response.writeHead(404).end("not found");
      return;
    }
    response.writeHead(200, { "Content-Type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream" });
    response.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string")
    throw new Error(`the site server has no TCP port: ${address}`);
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

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
/** Screenshots of the lab, for a person to look at (ignored by git). */
const OUTPUT = fileURLToPath(new URL("./output/", import.meta.url));

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI === undefined) {
  console.warn(`docs site browser tests skipped: no ${CHROMIUM} (apt-get install chromium; CI installs it)`);
}

describe.runIf(hasChromium || process.env.CI !== undefined)("the docs site in Chromium", () => {
  let browser: Browser;
  let site: { server: Server; origin: string };
  beforeAll(async () => {
    site = await serveSite();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    mkdirSync(OUTPUT, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    site?.server.close();
  });

  /** Opens a site path in a fresh page, collecting console errors and uncaught exceptions. */
  async function open(path: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`console: ${message.text()}`);
    });
    await page.goto(site.origin + path);
    return { page, errors };
  }

  /** Waits until the lab has taken `steps` steps (or finished), failing with its status if it fails. */
  async function waitForStep(page: Page, steps: number): Promise<void> {
    await page.waitForFunction(
      (target) => {
        const status = document.querySelector<HTMLElement>('[data-lab="status"]');
        if (status?.dataset.failed === "true") throw new Error(status.textContent ?? "failed");
        const step = Number(/step (\d+)/.exec(status?.textContent ?? "")?.[1] ?? 0);
        return step >= target || status?.dataset.finished === "true";
      },
      steps,
      { timeout: 120_000, polling: 250 },
    );
  }

  /** Each variant's legend row: initial and current (smoothed) training loss, and whether it diverged. */
  async function legendRows(page: Page) {
    return page.$$eval("tr[data-variant]", (rows: HTMLElement[]) =>
      rows.map((row) => ({
        variant: row.dataset.variant,
        initialLoss: Number(row.dataset.initialLoss),
        loss: Number(row.dataset.loss),
        diverged: row.dataset.diverged === "true",
        name: row.querySelector("td")?.textContent,
      })),
    );
  }

  it("trains the three variants in the lab with no console error: all three loss curves fall", async () => {
    const { page, errors } = await open("/lab");
    await waitForStep(page, 80);
    const rows = await legendRows(page);
    expect(rows.map((row) => row.name)).toEqual(["no norm (Linear→ReLU)", "BN→ReLU", "ReLU→BN"]);
    for (const row of rows) {
      expect(row.diverged, row.variant).toBe(false);
      expect(row.loss, row.variant).toBeLessThan(0.6 * row.initialLoss);
    }
    expect(await page.textContent('[data-lab="backend"]')).toMatch(/^CPU · WebAssembly SIMD|^GPU\.js · /);
    expect(Number(await page.getAttribute('[data-lab="speed"]', "data-value"))).toBeGreaterThan(0);
    // Every hidden layer of every variant has a histogram drawn.
    expect(await page.locator("figure[data-variant] canvas").count()).toBe(6);
    expect(await page.locator("figcaption", { hasText: "% zero" }).count()).toBe(6);
    await page.screenshot({ path: join(OUTPUT, "lab.png"), fullPage: true });
    // The first screenful (controls, curves, legend): the README's picture of the lab comes from this one.
    await page.screenshot({ path: join(OUTPUT, "lab-first-screen.png") });
    await page.close();
    expect(errors).toEqual([]);
  });

  it("switches the statistics panel between batch (train) and running (eval) statistics, and keeps it in the URL", async () => {
    const { page, errors } = await open("/lab?steps=40");
    await waitForStep(page, 40);
    await page.waitForFunction(
      () => !document.querySelector('[data-stat="normalizer"]')?.textContent?.includes("waiting"),
    );
    const trainText = await page.textContent('[data-stat="normalizer"]');
    expect(trainText).toContain("(train mode) normalizes with the batch's own statistics");
    await page.selectOption('select[name="mode"]', "eval");
    await page.waitForSelector('[data-stat="normalizer"][data-mode="eval"]');
    const evalText = await page.textContent('[data-stat="normalizer"]');
    expect(evalText).toContain("(eval mode) normalizes with the running statistics");
    const numbers = (text: string | null) => text?.match(/-?\d+\.\d+/g);
    expect(numbers(evalText)).not.toEqual(numbers(trainText));
    expect(new URL(page.url()).search).toBe("?steps=40&mode=eval");
    await page.screenshot({ path: join(OUTPUT, "lab-eval.png"), fullPage: true });
    await page.close();
    expect(errors).toEqual([]);
  });

  it("restores every setting from the URL, and names the values it refuses", async () => {
    const query =
      "?norm=group&act=sigmoid&depth=3&batch=16&lr=0.1&seed=3&steps=5&mode=eval&inspect=relu-bn&layer=2&channel=5";
    const { page, errors } = await open(`/lab${query}`);
    await waitForStep(page, 5);
    const values = await page.$$eval(
      ".ng-lab-controls :is(select, input)",
      (controls: (HTMLInputElement | HTMLSelectElement)[]) =>
        Object.fromEntries(controls.map((control) => [control.name, control.value])),
    );
    expect(values).toEqual({
      norm: "group",
      act: "sigmoid",
      depth: "3",
      batch: String([2, 4, 8, 16, 32, 64, 128, 256].indexOf(16)),
      lr: String([0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5].indexOf(0.1)),
      seed: "3",
      steps: "5",
      backend: "auto",
      mode: "eval",
      inspect: "relu-bn",
      layer: "2",
      channel: "5",
    });
    expect((await legendRows(page)).map((row) => row.name)).toEqual([
      "no norm (Linear→sigmoid)",
      "GN→sigmoid",
      "sigmoid→GN",
    ]);
    expect(await page.locator("figure[data-variant]").count()).toBe(9);
    await page.waitForFunction(() =>
      document.querySelector('[data-stat="normalizer"]')?.textContent?.includes("no running"),
    );
    expect(await page.isHidden('[data-lab="problems"]')).toBe(true);
    expect(new URL(page.url()).search).toBe(query);
    await page.close();

    // A guide's lesson link opens the lab (through VitePress's router) with the link's settings.
    const guide = await open("/normalization");
    await guide.page.click("text=4 digits per batch");
    await guide.page.waitForSelector('[data-lab="status"]');
    expect(await guide.page.inputValue('select[name="mode"]')).toBe("eval");
    expect(await guide.page.textContent('label:has(input[name="batch"]) output')).toBe("4");
    expect(await guide.page.textContent('label:has(input[name="lr"]) output')).toBe("0.005");
    await guide.page.close();

    const refused = await open("/lab?lr=-1&speed=9&steps=1");
    const problems = await refused.page.textContent('[data-lab="problems"]');
    expect(problems).toContain("lr=-1 ignored: lr must be a number in (0, 10]");
    expect(problems).toContain("unknown setting speed=9 ignored");
    await refused.page.close();
    expect([...errors, ...guide.errors, ...refused.errors]).toEqual([]);
  });

  it("runs the guides' lesson 'high learning rate, no BatchNorm': the plain network diverges, the others train", async () => {
    // As a reader gets there: the lesson's link below the lab, clicked while another run trains.
    const { page, errors } = await open("/lab?steps=20");
    await waitForStep(page, 1);
    await page.click("text=High learning rate, no BatchNorm");
    expect(new URL(page.url()).search).toBe("?lr=0.5");
    expect(await page.inputValue('input[name="steps"]')).toBe("1500");
    await waitForStep(page, 60);
    const rows = await legendRows(page);
    expect(rows.map((row) => row.diverged)).toEqual([true, false, false]);
    expect(await page.textContent('tr[data-variant="none"] .ng-lab-diverged')).toMatch(
      /^diverged at step \d+/,
    );
    await page.close();
    expect(errors).toEqual([]);
  });

  it("trains on GPU.js inside the worker when asked (backend=gpu), with the same first loss as the CPU", async () => {
    const { page, errors } = await open("/lab?backend=gpu&steps=2");
    await waitForStep(page, 2);
    expect(await page.getAttribute('[data-lab="backend"]', "data-device")).toBe("gpu");
    expect(await page.textContent('[data-lab="backend"]')).toMatch(
      /^GPU\.js · (webgl2|webgl|webgpu|webasm)$/,
    );
    const gpuRows = await legendRows(page);
    await page.close();
    const cpu = await open("/lab?backend=cpu&steps=2");
    await waitForStep(cpu.page, 2);
    const cpuRows = await legendRows(cpu.page);
    await cpu.page.close();
    for (const [index, row] of gpuRows.entries()) {
      expect(row.initialLoss, row.variant).toBeCloseTo(cpuRows[index].initialLoss, 3);
    }
    expect([...errors, ...cpu.errors]).toEqual([]);
  }, 180_000);

  it("has the API page of BatchNorm2d, listing its options", async () => {
    const { page, errors } = await open("/api/@normgrad/nn/classes/BatchNorm2d");
    const text = (await page.textContent("main")) ?? "";
    for (const option of ["eps", "momentum", "affine", "trackRunningStats", "NormLayerOptions"]) {
      expect(text, option).toContain(option);
    }
    expect(text).toContain("(1e-5)");
    await page.click("text=NormLayerOptions");
    await page.waitForURL(/interfaces\/NormLayerOptions/);
    expect(await page.textContent("main")).toContain(
      "Added to the variance under the square root (default 1e-5)",
    );
    await page.close();
    expect(errors).toEqual([]);
  });
});
