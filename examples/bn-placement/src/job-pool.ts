// Runs training jobs in this process or spread over worker processes (one per core), longest first.
import { type ChildProcess, fork } from "node:child_process";
import type { WorkerReply, WorkerRequest } from "./job-worker.ts";
import { runTrainJob, type TrainJob, type TrainJobResult } from "./train-job.ts";

/** Options of {@link runJobs}. */
export interface JobPoolOptions {
  /**
   * Worker processes. 1 trains in this process (what the tests use); more fork that many
   * processes running `job-worker.ts` with this process's Node flags (tsx's loader included).
   */
  workers: number;
  /**
   * Where each job's progress (fit's progress bar and epoch lines) goes: in-process jobs write to
   * this stream directly; worker jobs send their text to `onOutput`. Default: no progress.
   */
  progressStream?: NodeJS.WritableStream | null;
  /** Receives the progress text of jobs running in workers. */
  onOutput?: (job: TrainJob, text: string) => void;
  /** Called when a job finishes, before the next one starts on that worker. */
  onResult?: (job: TrainJob, result: TrainJobResult) => void;
  /** Relative cost of a job, to start the longest first (a worker left with one long job idles the rest). */
  costOf?: (job: TrainJob) => number;
}

function isReply(message: unknown): message is WorkerReply {
  return typeof message === "object" && message !== null && "kind" in message;
}

/**
 * Trains every job and returns the results by job id. Jobs start in decreasing `costOf` order
 * (stable for ties). A failing job rejects the whole pool with its error, after stopping the workers.
 */
export async function runJobs(
  jobs: readonly TrainJob[],
  options: JobPoolOptions,
): Promise<Map<number, TrainJobResult>> {
  const {
    workers,
    progressStream = null,
    onOutput = () => {},
    onResult = () => {},
    costOf = () => 1,
  } = options;
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`runJobs: workers must be an integer ≥ 1, got ${workers}`);
  const queue = [...jobs].sort((a, b) => costOf(b) - costOf(a));
  const results = new Map<number, TrainJobResult>();
  if (workers === 1 || queue.length <= 1) {
    for (const job of queue) {
      const result = await runTrainJob(job, { progressStream });
      results.set(job.id, result);
      onResult(job, result);
      // Lets the terminal repaint between jobs.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return results;
  }
  const byId = new Map(queue.map((job) => [job.id, job]));
  const children: ChildProcess[] = [];
  let failed = true;
  try {
    await new Promise<void>((resolve, reject) => {
      let running = 0;
      const next = (child: ChildProcess) => {
        const job = queue.shift();
        if (job === undefined) {
          child.send({ kind: "stop" } satisfies WorkerRequest);
          if (running === 0) resolve();
          return;
        }
        running++;
        child.send({ kind: "job", job } satisfies WorkerRequest);
      };
      for (let i = 0; i < Math.min(workers, queue.length); i++) {
        const child = fork(new URL("./job-worker.ts", import.meta.url), [], { serialization: "advanced" });
        children.push(child);
        child.on("message", (message: unknown) => {
          if (!isReply(message)) return;
          switch (message.kind) {
            case "output": {
              const job = byId.get(message.jobId);
              if (job !== undefined) onOutput(job, message.text);
              return;
            }
            case "result": {
              const job = byId.get(message.jobId);
              if (job === undefined) return;
              running--;
              results.set(message.jobId, message.result);
              onResult(job, message.result);
              next(child);
              return;
            }
            case "error": {
              const job = byId.get(message.jobId);
              reject(
                new Error(
                  `job ${message.jobId} (${job?.model} ${job?.variant} seed ${job?.seed}) failed in a worker:\n${message.message}`,
                ),
              );
              return;
            }
            default:
              message satisfies never;
          }
        });
        child.on("exit", (code, signal) => {
          if (code !== 0 && results.size < jobs.length) {
            reject(new Error(`a training worker exited early (code ${code}, signal ${signal})`));
          }
        });
        next(child);
      }
    });
    failed = false;
  } finally {
    // After a failure the other workers may be mid-job: stop them rather than wait.
    if (failed) for (const child of children) if (child.exitCode === null) child.kill();
  }
  return results;
}
