// The messages between the BatchNorm lab's page and its training worker.
import type { LabSettings } from "./lab-settings.ts";
import type { EvaluationReport, Inspection, StepReport } from "./lockstep-trainer.ts";

/** Where the page serves the bundled digits (IDX files, the format of the MNIST distribution). */
export interface LabDataUrls {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

/** Page → worker. `run` numbers each training run, so reports of a replaced run are recognized and dropped. */
export type ToWorker =
  | { kind: "start"; run: number; settings: LabSettings; data: LabDataUrls }
  | { kind: "pause" }
  | { kind: "resume" }
  | { kind: "inspect"; run: number; inspection: Inspection };

/** The backend a run trains on, as the page shows it, and why it was chosen. */
export interface BackendInfo {
  device: "cpu" | "gpu";
  /** e.g. "CPU · WebAssembly SIMD" or "GPU.js · webgl2". */
  label: string;
  /** Why this backend (e.g. "no hardware GPU: SwiftShader renders WebGL"). */
  reason: string;
}

/** Worker → page. */
export type FromWorker =
  | { kind: "started"; run: number; backend: BackendInfo; trainDigits: number; testDigits: number }
  | { kind: "step"; run: number; report: StepReport; stepsPerSecond: number }
  | { kind: "evaluation"; run: number; report: EvaluationReport }
  | { kind: "finished"; run: number; steps: number }
  | { kind: "failed"; run: number; message: string };
