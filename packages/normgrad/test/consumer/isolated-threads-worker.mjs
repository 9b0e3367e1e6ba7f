// The consumer test's threads worker (bundled by esbuild): two threads in a cross-origin-isolated page's Web Worker, against one.
import {
  Generator,
  getNumThreads,
  getThreadsUnavailableReason,
  randn,
  setNumThreads,
  whenThreadsReady,
} from "normgrad";

/** A product large enough to split (about 24 MFLOP), as raw bits. */
function productBits() {
  const generator = new Generator(3);
  const product = randn([200, 300], { generator }).matmul(randn([300, 200], { generator }));
  return Array.from(new Uint32Array(Float32Array.from(product.dataSync()).buffer));
}

setNumThreads(1);
const one = productBits();
setNumThreads(2);
await whenThreadsReady();
const two = productBits();
self.postMessage({
  threads: getNumThreads(),
  unavailable: getThreadsUnavailableReason() ?? null,
  identical: one.length === two.length && one.every((bits, i) => bits === two[i]),
});
