// The worker process of the job pool: trains the jobs it is sent, forwarding fit's progress text and the results.
import { Writable } from "node:stream";
import { runTrainJob, type TrainJob, type TrainJobResult } from "./train-job.ts";

/** Parent → worker. */
export type WorkerRequest = { kind: "job"; job: TrainJob } | { kind: "stop" };

/** Worker → parent. */
export type WorkerReply =
  | { kind: "output"; jobId: number; text: string }
  | { kind: "result"; jobId: number; result: TrainJobResult }
  | { kind: "error"; jobId: number; message: string };

function isRequest(message: unknown): message is WorkerRequest {
  return typeof message === "object" && message !== null && "kind" in message;
}

function reply(message: WorkerReply): void {
  process.send?.(message);
}

/** A stream that sends what fit writes (its progress lines) to the parent, tagged with the job. */
function forwardingStream(jobId: number): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      reply({ kind: "output", jobId, text: chunk.toString() });
      callback();
    },
  });
}

if (process.send !== undefined) {
  process.on("message", async (message: unknown) => {
    if (!isRequest(message)) return;
    if (message.kind === "stop") {
      process.disconnect();
      return;
    }
    const { job } = message;
    try {
      const result = await runTrainJob(job, { progressStream: forwardingStream(job.id) });
      reply({ kind: "result", jobId: job.id, result });
    } catch (error) {
      reply({
        kind: "error",
        jobId: job.id,
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
  });
}
