// The quickstart: the loss falls, the test accuracy, and an exact reload of the saved weights.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main, type QuickstartRun } from "../src/index.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe("quickstart", () => {
  const out = mkdtempSync(join(tmpdir(), "normgrad-quickstart-"));
  let run: QuickstartRun;
  beforeAll(async () => {
    // 30 steps: enough for the loss to fall and the accuracy to clear a target, still a few seconds.
    run = await main({ steps: 30, quiet: true, out });
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("learns: the loss falls and the test accuracy clears 80%", () => {
    const mean = (values: { loss: number }[]) =>
      values.reduce((sum, { loss }) => sum + loss, 0) / values.length;
    expect(mean(run.losses.slice(-10))).toBeLessThan(0.5 * mean(run.losses.slice(0, 10)));
    expect(run.testAccuracy).toBeGreaterThan(0.8);
  });

  it("reloads the saved weights into a model with identical outputs", () => {
    expect(run.reloadMaxDifference).toBe(0);
    expect(readFileSync(join(out, "model.safetensors")).length).toBeGreaterThan(4 * 784 * 128);
  });

  it("writes the JSON, the Markdown table and the loss plot", () => {
    const json = JSON.parse(readFileSync(join(out, "quickstart.json"), "utf8"));
    expect(json.config).toEqual({ seed: 0, steps: 30, batchSize: 64, lr: 0.1, momentum: 0.9 });
    expect(json.losses).toHaveLength(30);
    expect(Object.keys(json).sort()).toEqual(["config", "losses", "reloadMaxDifference", "testAccuracy"]);
    expect(readFileSync(join(out, "quickstart.md"), "utf8")).toContain(
      "| steps | first loss | last loss | test accuracy | reload max |Δ logit| |".replace(
        "|Δ logit|",
        "\\|Δ logit\\|",
      ),
    );
    expect(readFileSync(join(out, "training-loss.svg"), "utf8")).toMatch(/^<svg[^>]*>/);
    expect([...readFileSync(join(out, "training-loss.png")).subarray(0, 8)]).toEqual(PNG_SIGNATURE);
  });

  it("runs in smoke mode", async () => {
    const smoke = await main({ smoke: true, quiet: true, out: join(out, "smoke") });
    expect(smoke.losses).toHaveLength(5);
    expect(smoke.reloadMaxDifference).toBe(0);
  });
});
