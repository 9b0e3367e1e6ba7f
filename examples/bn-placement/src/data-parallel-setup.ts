// The setup module of a data-parallel study run: each worker thread builds the job's replica (SyncBatchNorm for BatchNorm).
import type { Replica, ReplicaContext } from "@normgrad/train";
import { jobReplica, type TrainJob } from "./train-job.ts";

/** fitDataParallel's entry: every rank builds the same network, optimizer and loaders from the job. */
export function setup({ argument }: ReplicaContext<TrainJob>): Replica {
  return jobReplica(argument);
}
