// Browsers: no worker_threads to run replicas on; says what to use instead.
import type { fitDataParallel as fitDataParallelInNode } from "./data-parallel.node.ts";

/** Always rejects: data-parallel training runs replicas in Node's worker threads. */
export const fitDataParallel: typeof fitDataParallelInNode = ({ worldSize }) =>
  Promise.reject(
    new Error(
      `fitDataParallel (worldSize ${worldSize}) needs Node's worker_threads; in a browser, train one replica with fit`,
    ),
  );
