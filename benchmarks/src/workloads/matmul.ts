// W1: C = A @ B for square float32 matrices, reported in GFLOP/s = 2N³ / t.
import { Generator, randn } from "@normgrad/core";
import type { MicroResult } from "../result-format.ts";
import { timeCalls } from "../timing.ts";
import { microResult, type Workload, type WorkloadContext } from "./workload.ts";

/** The sizes WORKLOADS.md defines for W1. */
export const MATMUL_SIZES: readonly number[] = [128, 256, 512, 1024];

/** W1 over `sizes` (default 128, 256, 512, 1024); a call computes and settles one product. */
export function matmulWorkload(sizes: readonly number[] = MATMUL_SIZES): Workload {
  return {
    id: "W1",
    title: "matmul C=A@B, fp32",
    async run(context: WorkloadContext): Promise<MicroResult[]> {
      const { backend } = context;
      const results: MicroResult[] = [];
      for (const n of sizes) {
        const generator = new Generator(n);
        const a = randn([n, n], { generator, device: backend.device });
        const b = randn([n, n], { generator, device: backend.device });
        const times = await timeCalls(async () => {
          const c = a.matmul(b);
          await backend.settle([c]);
          c.dispose();
        }, context.timing);
        a.dispose();
        b.dispose();
        const result = microResult(context, "W1", `matmul N=${n}`, times, { flops: 2 * n ** 3 });
        context.log(`W1 matmul N=${n}: ${result.gflops?.median.toFixed(2)} GFLOP/s`);
        results.push(result);
      }
      return results;
    },
  };
}
