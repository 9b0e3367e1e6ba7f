// The docs site builds (`pnpm docs`: TypeDoc, then VitePress), and every link inside it resolves, anchors included.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DOCS = fileURLToPath(new URL("../../../docs", import.meta.url));
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

describe("the docs site", () => {
  const pages = new Map<string, string>();
  beforeAll(() => {
    buildSite();
    for (const file of htmlFiles(SITE)) pages.set(file, readFileSync(file, "utf8"));
  }, 300_000);

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
