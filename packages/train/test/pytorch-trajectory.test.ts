// W5's CNN trained for a few SGD steps follows PyTorch's losses and final state from the same weights and batches.
import { readFileSync } from "node:fs";
import { type DType, tidy } from "@normgrad/core";
import { F } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import { describe, expect, it } from "vitest";
import { buildTrajectoryCnn, TRAJECTORY, trajectoryBatches } from "./trajectory-setup.ts";

interface TrajectoryRun {
  losses: number[];
  final: Record<string, { sum: number; sumOfSquares: number }>;
}

const fixture: { float64: TrajectoryRun; float32: TrajectoryRun } = JSON.parse(
  readFileSync(new URL("./fixtures/cnn-trajectory.json", import.meta.url), "utf8"),
);

/** Relative tolerance per dtype: float64 differs from PyTorch by summation order only. */
const RTOL: { [D in "float64" | "float32"]: number } = { float64: 1e-9, float32: 2e-4 };

describe.each(["float64", "float32"] as const)(
  "CNN trajectory vs PyTorch 1.13, %s",
  (dtype: DType & keyof typeof RTOL) => {
    it(`${TRAJECTORY.steps} SGD steps give PyTorch's losses, parameters and running statistics`, () => {
      const model = buildTrajectoryCnn(dtype);
      const optimizer = new SGD(model.parameters(), { lr: TRAJECTORY.lr, momentum: TRAJECTORY.momentum });
      const expected = fixture[dtype];
      const losses = trajectoryBatches().map(([images, labels]) =>
        tidy(() => {
          const loss = F.crossEntropy(model.forward(images.to(dtype)), labels);
          optimizer.zeroGrad();
          loss.backward();
          optimizer.step();
          return loss.item();
        }),
      );
      losses.forEach((loss, step) => {
        expect(
          Math.abs(loss - expected.losses[step]),
          `step ${step}: ${loss} vs ${expected.losses[step]}`,
        ).toBeLessThanOrEqual(RTOL[dtype] * Math.abs(expected.losses[step]));
      });
      for (const [key, value] of model.stateDict()) {
        const { sum, sumOfSquares } = expected.final[key];
        const values = Float64Array.from(value.dataSync());
        const actualSum = values.reduce((total, v) => total + v, 0);
        const actualSquares = values.reduce((total, v) => total + v * v, 0);
        // Sums of signed values can cancel, so they are compared against the scale of their squares.
        const scale = Math.sqrt(sumOfSquares * values.length);
        expect(Math.abs(actualSum - sum), `${key} sum`).toBeLessThanOrEqual(RTOL[dtype] * 10 * scale);
        expect(Math.abs(actualSquares - sumOfSquares), `${key} sum of squares`).toBeLessThanOrEqual(
          RTOL[dtype] * 10 * sumOfSquares,
        );
      }
    });
  },
);
