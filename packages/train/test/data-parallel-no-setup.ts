// A setup module that forgot to export setup, for fitDataParallel's error test.
export { buildReplica } from "./data-parallel-replica.ts";
