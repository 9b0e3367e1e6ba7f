// The op case table: every primitive gradchecked, with GPU parity or a reason, and the compile-time guarantee that none is left out.
import { describe, expect, it } from "vitest";
import type { Primitive } from "../../core/src/index.ts";
import { allOpCases, isNotRun, NON_PRIMITIVE_CASES, OP_CASES, type OpCases } from "../src/index.ts";

const PRIMITIVES = Object.keys(OP_CASES).filter((key): key is Primitive => key in OP_CASES);

// A primitive without cases does not compile, whether its entry is missing or empty.
const { erf: _erf, ...withoutErf } = OP_CASES;
// @ts-expect-error: property 'erf' is missing
const missing: OpCases = withoutErf;
// @ts-expect-error: an empty list has no case at position 0
const empty: OpCases = { ...OP_CASES, erf: [] };

describe("OP_CASES", () => {
  it("has no extra keys, and the type checks above refuse a missing or empty entry", () => {
    expect(PRIMITIVES).toHaveLength(Object.keys(OP_CASES).length);
    expect(Object.keys(missing)).not.toContain("erf");
    expect(empty.erf).toHaveLength(0);
  });

  it.each(PRIMITIVES)("%s has a case the float64 gradcheck runs", (primitive) => {
    expect(OP_CASES[primitive].filter((opCase) => !isNotRun(opCase.gradcheck)).length).toBeGreaterThan(0);
  });

  it.each(PRIMITIVES)("%s has GPU parity, or every case says why not", (primitive) => {
    const cases = OP_CASES[primitive];
    const running = cases.filter((opCase) => !isNotRun(opCase.parity));
    const reasons = cases.flatMap(({ parity }) => (isNotRun(parity) ? [parity.notRun] : []));
    expect(running.length > 0 || reasons.every((reason) => reason.length > 0)).toBe(true);
  });

  it("names each case once within its op", () => {
    for (const cases of [...PRIMITIVES.map((primitive) => OP_CASES[primitive]), NON_PRIMITIVE_CASES]) {
      const names = cases.map(({ name }) => name);
      expect(new Set(names).size, names.join(", ")).toBe(names.length);
    }
  });

  it("gives every case its own seed, primitives first", () => {
    const all = allOpCases();
    expect(new Set(all.map(({ seed }) => seed)).size).toBe(all.length);
    expect(all.at(-1)?.op).toBe("non-primitive");
    expect(all[0].op).toBe(PRIMITIVES[0]);
  });
});
