// docs/pytorch.md is what docs/pytorch-table.ts generates from today's exports, so it cannot drift from them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { pytorchTable } from "../pytorch-table.ts";

describe("docs/pytorch.md", () => {
  const generated = pytorchTable();

  it("is up to date with the packages' exports (regenerate with `pnpm docs:pytorch`)", () => {
    expect(readFileSync(new URL("../pytorch.md", import.meta.url), "utf8")).toBe(generated);
  });

  it("looks names up in the real exports: present ones are marked, a made-up one would not be", () => {
    expect(generated).toContain("| `torch.nn.BatchNorm2d` | `BatchNorm2d` | @normgrad/nn | ✓ |");
    expect(generated).toContain(
      "| `torch.optim.lr_scheduler.SequentialLR` | `SequentialLR` | @normgrad/optim | ✓ |",
    );
    expect(generated).toContain("| `Tensor.log_softmax` | `logSoftmax` | Tensor method | ✓ |");
    expect(generated).toMatch(/^\d+ of the \d+ PyTorch names above are in normgrad\.$/m);
  });
});
