// The kernel thread pool: setNumThreads/getNumThreads, results identical to one thread bit for bit, fallback and shutdown.
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import type { Conv2dKernelParams } from "../src/backend.ts";
import { conv2dForward, conv2dInputGrad, conv2dWeightGrad } from "../src/cpu/conv2d.ts";
import * as browserHost from "../src/cpu/kernel-worker.browser.ts";
import { normBackward, normForward } from "../src/cpu/norm.ts";
import {
  Generator,
  getNumThreads,
  getThreadsUnavailableReason,
  randn,
  setNumThreads,
  type Tensor,
  whenThreadsReady,
} from "../src/index.ts";
import type { NormLayout } from "../src/norm-layout.ts";

const defaultThreads = getNumThreads();
afterAll(() => setNumThreads(defaultThreads));

function randomArray(length: number, seed: number): Float32Array {
  const generator = new Generator(seed);
  return Float32Array.from({ length }, () => generator.normal());
}

/** `compute()` with one thread and with `threads`, as raw bits. */
async function onOneAndMany<T extends Float32Array | Float64Array>(
  threads: number,
  compute: () => T,
): Promise<[Uint32Array, Uint32Array]> {
  setNumThreads(1);
  const one = compute();
  setNumThreads(threads);
  await whenThreadsReady();
  const many = compute();
  return [
    new Uint32Array(one.buffer, one.byteOffset, one.byteLength / 4),
    new Uint32Array(many.buffer, many.byteOffset, many.byteLength / 4),
  ];
}

describe("setNumThreads", () => {
  it.each([0, -2, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 65])("refuses %s, naming it", (n) => {
    expect(() => setNumThreads(n)).toThrow(
      new RangeError(`setNumThreads(n): n must be an integer from 1 to 64, got ${n}`),
    );
  });

  it("sets the count getNumThreads reports; Node has threads, so no reason is given", async () => {
    setNumThreads(3);
    expect(getNumThreads()).toBe(3);
    await whenThreadsReady();
    expect(getThreadsUnavailableReason()).toBeUndefined();
    setNumThreads(1);
    expect(getNumThreads()).toBe(1);
  });
});

// Shapes sized past the split threshold (a million multiply-adds per thread): row splits that 3
// threads do not divide, a column split (fewer row panels than column panels), transposed views.
const MATMUL_CASES: readonly { case: string; a: () => Tensor; b: () => Tensor }[] = [
  {
    case: "101×257 · 257×203 (rows 8/9/9)",
    a: () => randn([101, 257], { generator: new Generator(1) }),
    b: () => randn([257, 203], { generator: new Generator(2) }),
  },
  {
    case: "9×515 · 515×1001 (columns)",
    a: () => randn([9, 515], { generator: new Generator(3) }),
    b: () => randn([515, 1001], { generator: new Generator(4) }),
  },
  {
    case: "300×130ᵀ · 257×300ᵀ (views)",
    a: () => randn([300, 130], { generator: new Generator(5) }).mT,
    b: () => randn([257, 300], { generator: new Generator(6) }).mT,
  },
  {
    case: "batched 3×(67×600 · 600×70)",
    a: () => randn([3, 67, 600], { generator: new Generator(7) }),
    b: () => randn([3, 600, 70], { generator: new Generator(8) }),
  },
  {
    case: "1024 deep (4 depth blocks)",
    a: () => randn([64, 1030], { generator: new Generator(9) }),
    b: () => randn([1030, 96], { generator: new Generator(10) }),
  },
];

describe.each([2, 3])("%i threads give one thread's results bit for bit", (threads) => {
  it.each(MATMUL_CASES)("matmul $case", async ({ a, b }) => {
    const [left, right] = [a(), b()];
    const [one, many] = await onOneAndMany(threads, () => Float32Array.from(left.matmul(right).dataSync()));
    expect(many).toEqual(one);
  });

  const params: Conv2dKernelParams = {
    stride: [1, 1],
    padding: [
      [1, 1],
      [1, 1],
    ],
    dilation: [1, 1],
    groups: 1,
    outputSize: [20, 20],
  };
  const [inputShape, weightShape] = [
    [16, 8, 20, 20],
    [16, 8, 3, 3],
  ];
  const x = randomArray(16 * 8 * 20 * 20, 11);
  const weight = randomArray(16 * 8 * 3 * 3, 12);
  const dy = randomArray(16 * 16 * 20 * 20, 13);
  it.each([
    { kernel: "forward", run: () => conv2dForward(x, 0, inputShape, weight, 0, weightShape, params) },
    {
      kernel: "input gradient",
      run: () => conv2dInputGrad(dy, 0, weight, 0, inputShape, weightShape, params),
    },
    { kernel: "weight gradient", run: () => conv2dWeightGrad(x, 0, dy, 0, inputShape, weightShape, params) },
  ])("conv2d $kernel", async ({ run }) => {
    const [one, many] = await onOneAndMany(threads, run);
    expect(many).toEqual(one);
  });
});

/** Every float32 or float64 result of a norm's forward and backward (batch statistics and given ones), end to end. */
function normResults(layout: NormLayout): () => Float64Array {
  const size = layout.outer * layout.channels * layout.inner;
  const [x, dy] = [randomArray(size, 21), randomArray(size, 22)];
  const [weight, bias] = [randomArray(layout.channels, 23), randomArray(layout.channels, 24)];
  const needs = { input: true, weight: true, bias: true };
  return () => {
    const forward = normForward(x, layout, weight, bias, 1e-5, null);
    if (forward.statistics === null) throw new Error("normForward returned no statistics");
    const { mean, variance } = forward.statistics;
    const results = [forward.output, mean, variance];
    for (const statisticsFromInput of [true, false]) {
      const backward = normBackward(dy, x, layout, weight, forward.statistics, {
        eps: 1e-5,
        statisticsFromInput,
        needs,
      });
      results.push(...[backward.dx, backward.dweight, backward.dbias].filter((array) => array !== null));
    }
    results.push(normForward(x, layout, weight, bias, 1e-5, forward.statistics).output);
    return Float64Array.from(results.flatMap((array) => Array.from(array)));
  };
}

// The norms run on the calling thread whatever the count (splitting them measured slower:
// docs/performance.md, "Threads"); these hold them to one thread's bits should that change.
const NORM_LAYOUTS: readonly [string, NormLayout][] = [
  ["BatchNorm2d (8, 16, 40, 40)", { kind: "per-channel", outer: 8, channels: 16, inner: 1600 }],
  ["BatchNorm2d, runs longer than a window", { kind: "per-channel", outer: 2, channels: 6, inner: 20001 }],
  [
    "GroupNorm (8, 32, 30, 30), 8 groups",
    { kind: "per-group", outer: 8, channels: 32, inner: 900, groups: 8 },
  ],
  ["InstanceNorm (8, 16, 45, 45)", { kind: "per-group", outer: 8, channels: 16, inner: 2025, groups: 16 }],
  ["LayerNorm (256, 1024)", { kind: "per-group", outer: 256, channels: 1024, inner: 1, groups: 1 }],
  ["BatchNorm1d (256, 1024)", { kind: "per-channel", outer: 256, channels: 1024, inner: 1 }],
];

describe.each([2, 3])("%i threads give one thread's norm results bit for bit", (threads) => {
  it.each(NORM_LAYOUTS)("%s, forward and backward", async (_, layout) => {
    const [one, many] = await onOneAndMany(threads, normResults(layout));
    expect(many).toEqual(one);
  });
});

describe("where threads are unavailable", () => {
  it("a browser context without Web Workers says so (Node 20 has no global Worker)", () => {
    expect(browserHost.blockingWaitUnavailableReason()).toBe("Web Workers are unavailable here");
    expect(browserHost.threadCountSetting()).toBeUndefined();
  });
});

const run = promisify(execFile);

/** Runs a module with Node (tsx, the source condition) in a fresh process; resolves to its stdout, or rejects. */
async function runInNode(source: string, env: Record<string, string> = {}): Promise<string> {
  const folder = mkdtempSync(join(tmpdir(), "normgrad-threads-"));
  const script = join(folder, "script.mts");
  writeFileSync(script, source);
  const core = new URL("../src/index.ts", import.meta.url).href;
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", "--conditions=@normgrad/source", script],
    {
      env: { ...process.env, ...env, NORMGRAD_CORE: core },
      timeout: 30_000,
      cwd: new URL("..", import.meta.url).pathname,
    },
  );
  return stdout;
}

describe("in a Node process", () => {
  const program = `
const { getNumThreads, randn, whenThreadsReady } = await import(process.env.NORMGRAD_CORE);
await whenThreadsReady();
randn([200, 300]).matmul(randn([300, 200])).dataSync();
console.log("threads", getNumThreads());
`;

  it("exits once its work is done: idle workers do not keep it alive", async () => {
    const started = performance.now();
    expect(await runInNode(program, { NORMGRAD_NUM_THREADS: "2" })).toContain("threads 2");
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it("reads NORMGRAD_NUM_THREADS", async () => {
    expect(await runInNode(program, { NORMGRAD_NUM_THREADS: "3" })).toContain("threads 3");
  });

  it("refuses a bad NORMGRAD_NUM_THREADS, naming it and its value", async () => {
    await expect(runInNode(program, { NORMGRAD_NUM_THREADS: "many" })).rejects.toThrow(
      'NORMGRAD_NUM_THREADS ("many") must be an integer from 1 to 64, got NaN',
    );
  });
});
