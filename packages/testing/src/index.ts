// @normgrad/testing: the helpers every package's tests share. Importing it registers the toBeAllclose matcher.
//
// Private and never built. It reaches @normgrad/core's sources by path instead of declaring a
// dependency: core's tests use this package, and a dependency back would be a workspace cycle,
// which `pnpm -r`/`pnpm --filter` refuse to run.
import { expect } from "vitest";
import { type Allclosable, type Tolerance, toBeAllclose } from "./to-be-allclose.ts";

export {
  checkNormFixture,
  copyAffineFromFixture,
  type NormFixturePass,
  type NormLayer,
} from "./check-norm-fixture.ts";
export { type FakeGpuOptions, registerFakeGpu } from "./fake-gpu.ts";
export {
  type Fixture,
  type FixtureTensor,
  fixtureNames,
  fromFixture,
  loadFixture,
  loadFixtures,
  loadReprFixture,
  type ReprFixture,
} from "./load-fixture.ts";
export {
  allOpCases,
  isNotRun,
  NON_PRIMITIVE_CASES,
  type NotRun,
  OP_CASES,
  type OpCase,
  type OpCaseList,
  type OpCases,
  type OpInput,
  opCaseInputs,
  PARITY_TOLERANCES,
  type ParityPlan,
} from "./op-cases.ts";
export { type Domain, type SeededOptions, seeded, seededValues } from "./seeded.ts";
export { type Allclosable, type AllcloseResult, type Tolerance, toBeAllclose } from "./to-be-allclose.ts";

expect.extend({ toBeAllclose });

declare module "vitest" {
  interface Matchers<T> {
    /**
     * Every element of the received tensor or array is within `atol + rtol·|expected|` of
     * `expected`'s (PyTorch's allclose); see `toBeAllclose` in @normgrad/testing.
     */
    toBeAllclose(expected: Allclosable, tolerance: Tolerance): T;
  }
}
