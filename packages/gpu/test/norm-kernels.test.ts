// The fused normalization kernels against the CPU backend's (float64), and the mean-1e4 numerics fixtures in float32.
import {
  type Backend,
  contiguousStrides,
  type DeviceBuffer,
  getBackend,
  type NormLayout,
  type Shape,
  type Tensor,
  type TypedArray,
  tensor,
  type View,
} from "@normgrad/core";
import { loadFixture, seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { LAYER_TOLERANCE, SUITE_MODES, skipReason, toGpu, useGpuBackend } from "./helpers.ts";

function viewOf(buffer: DeviceBuffer, shape: Shape): View {
  return { buffer, shape, strides: contiguousStrides(shape), offset: 0 };
}

async function values(backend: Backend, buffer: DeviceBuffer | null): Promise<TypedArray> {
  if (buffer === null) throw new Error("expected a result, got null");
  return backend.readAsync(viewOf(buffer, [buffer.size]));
}

interface NormCase {
  name: string;
  shape: Shape;
  layout: NormLayout;
  weight: boolean;
  bias: boolean;
  /** Normalize with given statistics (eval mode) instead of x's own. */
  given: boolean;
  needs: { input: boolean; weight: boolean; bias: boolean };
}

const ALL = { input: true, weight: true, bias: true };
const perChannel = (outer: number, channels: number, inner: number): NormLayout => ({
  kind: "per-channel",
  outer,
  channels,
  inner,
});
const perGroup = (outer: number, channels: number, inner: number, groups: number): NormLayout => ({
  kind: "per-group",
  outer,
  channels,
  inner,
  groups,
});

const CASES: readonly NormCase[] = [
  {
    name: "BatchNorm1d (N, C)",
    shape: [6, 4],
    layout: perChannel(6, 4, 1),
    weight: true,
    bias: true,
    given: false,
    needs: ALL,
  },
  {
    name: "BatchNorm2d, weight only",
    shape: [3, 2, 3, 3],
    layout: perChannel(3, 2, 9),
    weight: true,
    bias: false,
    given: false,
    needs: ALL,
  },
  {
    name: "BatchNorm, 600 rows (three blocks merged)",
    shape: [600, 2],
    layout: perChannel(600, 2, 1),
    weight: true,
    bias: true,
    given: false,
    needs: ALL,
  },
  {
    name: "BatchNorm eval (given statistics)",
    shape: [4, 3, 5],
    layout: perChannel(4, 3, 5),
    weight: true,
    bias: true,
    given: true,
    needs: ALL,
  },
  {
    name: "BatchNorm, dx only, no affine",
    shape: [5, 3, 2],
    layout: perChannel(5, 3, 2),
    weight: false,
    bias: false,
    given: false,
    needs: { input: true, weight: false, bias: false },
  },
  {
    name: "LayerNorm over 10 features",
    shape: [4, 10],
    layout: perGroup(4, 10, 1, 1),
    weight: true,
    bias: true,
    given: false,
    needs: ALL,
  },
  {
    name: "LayerNorm over 300 features",
    shape: [2, 300],
    layout: perGroup(2, 300, 1, 1),
    weight: true,
    bias: false,
    given: false,
    needs: ALL,
  },
  {
    name: "GroupNorm, 3 groups",
    shape: [2, 6, 5],
    layout: perGroup(2, 6, 5, 3),
    weight: true,
    bias: true,
    given: false,
    needs: ALL,
  },
  {
    name: "InstanceNorm, weight gradient only",
    shape: [2, 3, 8],
    layout: perGroup(2, 3, 8, 3),
    weight: true,
    bias: true,
    given: false,
    needs: { input: false, weight: true, bias: false },
  },
  {
    name: "GroupNorm eval-style given statistics",
    shape: [2, 4, 3],
    layout: perGroup(2, 4, 3, 2),
    weight: false,
    bias: true,
    given: true,
    needs: ALL,
  },
];

function statisticsCount(layout: NormLayout): number {
  return layout.kind === "per-channel" ? layout.channels : layout.outer * layout.groups;
}

/** Runs normForward then normBackward on one backend with the given tensors (all on that backend). */
async function runNorm(
  backend: Backend,
  c: NormCase,
  [x, weight, bias, dy, mean, variance]: Tensor[],
): Promise<{
  output: TypedArray;
  mean: TypedArray | null;
  variance: TypedArray | null;
  grads: (TypedArray | null)[];
}> {
  const eps = 1e-5;
  const given = c.given ? { mean: mean.kernelView, variance: variance.kernelView } : null;
  const forward = backend.normForward?.(
    x.kernelView,
    c.layout,
    c.weight ? weight.kernelView : null,
    c.bias ? bias.kernelView : null,
    { eps, statistics: given },
  );
  if (forward === undefined) throw new Error(`the ${backend.device} backend has no fused normalization`);
  const statistics = forward.statistics;
  const count = statisticsCount(c.layout);
  const used =
    statistics === null
      ? { mean: mean.kernelView, variance: variance.kernelView }
      : { mean: viewOf(statistics.mean, [count]), variance: viewOf(statistics.variance, [count]) };
  const backward = backend.normBackward?.(
    dy.kernelView,
    x.kernelView,
    c.layout,
    c.weight ? weight.kernelView : null,
    used,
    {
      eps,
      statisticsFromInput: !c.given,
      needs: { ...c.needs, weight: c.needs.weight && c.weight, bias: c.needs.bias && c.bias },
    },
  );
  if (backward === undefined)
    throw new Error(`the ${backend.device} backend has no fused normalization backward`);
  const read = (buffer: DeviceBuffer | null) => (buffer === null ? null : values(backend, buffer));
  const result = {
    output: await values(backend, forward.output),
    mean: statistics && (await values(backend, statistics.mean)),
    variance: statistics && (await values(backend, statistics.variance)),
    grads: await Promise.all([read(backward.dx), read(backward.dweight), read(backward.dbias)]),
  };
  for (const buffer of [
    forward.output,
    statistics?.mean,
    statistics?.variance,
    backward.dx,
    backward.dweight,
    backward.dbias,
  ]) {
    if (buffer) backend.release(buffer);
  }
  return result;
}

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("fused normalization", () => {
    const backend = useGpuBackend(mode, { specializeInputSizes: false });

    it.each(CASES.map((c, i) => [c.name, c, i] as const))(
      "%s: forward, statistics and backward match the CPU",
      async (_, c, i) => {
        const channels = c.layout.channels;
        const count = statisticsCount(c.layout);
        const cpuTensors = [
          seeded(c.shape, 10 * i)
            .mul(3)
            .add(2),
          seeded([channels], 10 * i + 1),
          seeded([channels], 10 * i + 2),
          seeded(c.shape, 10 * i + 3),
          seeded([count], 10 * i + 4),
          seeded([count], 10 * i + 5, { domain: "positive" }),
        ].map((t) => t.detach());
        const live = backend().liveBuffers();
        const gpuTensors = cpuTensors.map(toGpu);
        const expected = await runNorm(getBackend("cpu"), c, cpuTensors);
        const actual = await runNorm(backend(), c, gpuTensors);
        expect(actual.output, "output").toBeAllclose(expected.output, LAYER_TOLERANCE);
        expect(actual.mean === null).toBe(c.given);
        if (actual.mean && expected.mean)
          expect(actual.mean, "mean").toBeAllclose(expected.mean, LAYER_TOLERANCE);
        if (actual.variance && expected.variance)
          expect(actual.variance, "variance").toBeAllclose(expected.variance, LAYER_TOLERANCE);
        ["dx", "dweight", "dbias"].forEach((name, k) => {
          const [got, want] = [actual.grads[k], expected.grads[k]];
          expect(got === null, `${name} computed on one backend only`).toBe(want === null);
          if (got && want) expect(got, name).toBeAllclose(want, LAYER_TOLERANCE);
        });
        for (const t of gpuTensors) t.dispose();
        expect(backend().liveBuffers()).toBe(live);
      },
    );

    describe.each([
      { fixture: loadFixture("numerics_batch_norm1d_mean1e4_std1em2"), layout: perChannel(64, 3, 1) },
      { fixture: loadFixture("numerics_batch_norm2d_mean1e4_std1em2"), layout: perChannel(8, 3, 16) },
      { fixture: loadFixture("numerics_layer_norm_mean1e4_std1em2"), layout: perGroup(4, 64, 1, 1) },
    ])("numerics fixture $fixture.name (mean 1e4, std 1e-2, float32 data)", ({ fixture, layout }) => {
      it("statistics, output and the hand-derived backward hold in float32", async () => {
        const { x, dy } = fixture.inputs;
        const { stats } = fixture.expected;
        if (stats === undefined) throw new Error(`${fixture.name} has no stats`);
        const input = tensor(x.data, { shape: x.shape }).to("gpu");
        const gradient = tensor(dy.data, { shape: dy.shape }).to("gpu");
        const gpu = backend();
        const forward = gpu.normForward(input.kernelView, layout, null, null, {
          eps: Number(fixture.config.eps),
          statistics: null,
        });
        if (forward.statistics === null) throw new Error("statistics were not computed");
        const count = statisticsCount(layout);
        const statistics = {
          mean: viewOf(forward.statistics.mean, [count]),
          variance: viewOf(forward.statistics.variance, [count]),
        };
        const { dx } = gpu.normBackward(gradient.kernelView, input.kernelView, layout, null, statistics, {
          eps: Number(fixture.config.eps),
          statisticsFromInput: true,
          needs: { input: true, weight: false, bias: false },
        });
        // torch's own float32 BatchNorm is off by ~0.09 in the output here; shifting by a sample gives ~2e-7.
        expect(await values(gpu, forward.output), "output").toBeAllclose(fixture.expected.output, {
          rtol: 0,
          atol: 2e-5,
        });
        expect(await values(gpu, forward.statistics.mean), "mean").toBeAllclose(stats.mean, {
          rtol: 1e-7,
          atol: 0,
        });
        expect(await values(gpu, forward.statistics.variance), "biased variance").toBeAllclose(
          stats.var_biased,
          { rtol: 1e-4, atol: 0 },
        );
        const dxScale = Math.max(...fixture.expected.grads.x.data.map(Math.abs));
        expect(await values(gpu, dx), "dx").toBeAllclose(fixture.expected.grads.x, {
          rtol: 0,
          atol: 1e-5 * dxScale,
        });
        for (const buffer of [forward.output, forward.statistics.mean, forward.statistics.variance, dx]) {
          if (buffer) gpu.release(buffer);
        }
        input.dispose();
        gradient.dispose();
      });
    });
  });
});
