// The consumer test's cross-origin-isolated page (bundled by esbuild): its main thread falls back to one thread, its worker runs two.
import { getNumThreads, getThreadsUnavailableReason } from "normgrad";

const worker = new Worker("./isolated-threads-worker.js", { type: "module" });
window.threadsResults = new Promise((resolve, reject) => {
  worker.onmessage = (event) =>
    resolve({
      isolated: window.crossOriginIsolated,
      mainThread: { threads: getNumThreads(), unavailable: getThreadsUnavailableReason() },
      worker: event.data,
    });
  worker.onerror = (event) => reject(new Error(event.message));
});
