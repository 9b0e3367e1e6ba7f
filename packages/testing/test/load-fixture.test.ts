// The fixtures folder: exactly the cases index.json lists, each loading as an op fixture (repr.json as the repr one).
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fixtureNames, fromFixture, loadFixture, loadFixtures, loadReprFixture } from "../src/index.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const index: { count: number; cases: { file: string; name: string; op: string }[] } = JSON.parse(
  readFileSync(new URL("index.json", FIXTURES), "utf8"),
);

describe("the fixtures folder", () => {
  it("holds exactly the files index.json lists, plus index.json and README.md", () => {
    expect(index.cases).toHaveLength(index.count);
    expect(readdirSync(FIXTURES).sort()).toEqual(
      [...index.cases.map(({ file }) => file), "index.json", "README.md"].sort(),
    );
  });

  it.each(index.cases.filter(({ op }) => op !== "repr"))("$file loads as a $op fixture", ({ name, op }) => {
    const fixture = loadFixture(name);
    expect([fixture.name, fixture.op]).toEqual([name, op]);
    expect(fixture.expected.output.data).toHaveLength(
      fixture.expected.output.shape.reduce((size, dim) => size * dim, 1),
    );
  });

  it("loads repr.json with its own loader, and refuses it as an op fixture", () => {
    expect(loadReprFixture().expected.reprs.length).toBeGreaterThan(0);
    expect(() => loadFixture("repr")).toThrow("fixtures/repr.json is not an op fixture named repr");
  });

  it("lists and loads by prefix, sorted", () => {
    expect(fixtureNames("log_softmax_")).toEqual(["log_softmax_2d_dimm1", "log_softmax_3d_dim1"]);
    expect(loadFixtures("mse_loss_").map(({ name }) => name)).toEqual([
      "mse_loss_mean",
      "mse_loss_none",
      "mse_loss_sum",
    ]);
  });

  it("turns int64 tensors into int32 ones that never require grad", () => {
    const target = fromFixture(loadFixture("cross_entropy_mean_ls0p0").inputs.target, "float64", {
      requiresGrad: true,
    });
    expect([target.dtype, target.requiresGrad]).toEqual(["int32", false]);
  });
});
