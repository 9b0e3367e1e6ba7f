// Reading result files and hardware limits from disk, checking their shape instead of trusting JSON.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { HardwareLimits, SourcedFile } from "./report-tables.ts";
import type { BenchResult, ResultFile, Stat } from "./result-format.ts";

/** The file in the peers' folder that holds the machine's limits rather than results. */
export const HARDWARE_LIMITS_FILE = "hw_limits.json";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => typeof item === "number");
}

function isStat(value: unknown): value is Stat {
  return (
    isRecord(value) &&
    typeof value.median === "number" &&
    typeof value.min === "number" &&
    typeof value.max === "number" &&
    typeof value.n === "number"
  );
}

function isBenchResult(value: unknown): value is BenchResult {
  if (!isRecord(value)) return false;
  const labelled =
    typeof value.config === "string" &&
    typeof value.workload === "string" &&
    typeof value.case === "string" &&
    isNumberArray(value.loadavg);
  if (!labelled) return false;
  if ("samplesPerSec" in value) {
    return (
      isStat(value.samplesPerSec) &&
      isStat(value.finalTestAcc) &&
      isNumberArray(value.testAccPerEpochMedian) &&
      typeof value.statBasis === "string"
    );
  }
  return (
    isStat(value.ms) &&
    (value.gflops === undefined || isStat(value.gflops)) &&
    (value.gbps === undefined || isStat(value.gbps))
  );
}

function isResultFile(value: unknown): value is ResultFile {
  return (
    isRecord(value) &&
    typeof value.config === "string" &&
    isRecord(value.env) &&
    typeof value.env.date === "string" &&
    isNumberArray(value.env.loadavg) &&
    Array.isArray(value.results) &&
    value.results.every(isBenchResult)
  );
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** One line from a peer file's top-level settings (`tfjsVersion=4.22.0, backend=wasm, threads=1, …`). */
function describePeer(raw: Record<string, unknown>): string {
  const skip = new Set(["config", "env", "results", "wallSec", "blasLibs", "availableDevices", "peer"]);
  const settings = Object.entries(raw)
    .filter(([key, value]) => !skip.has(key) && (typeof value !== "object" || value === null))
    .map(([key, value]) => `${key}=${String(value)}`);
  return [String(raw.peer ?? "peer"), ...settings].join(", ");
}

/**
 * Every result file (`*.json`) directly in `directory`, sorted by name, as normgrad's or a
 * peer's. Throws naming the file when one does not have the result format.
 */
export function readResultDirectory(directory: string, origin: "normgrad" | "peer"): SourcedFile[] {
  const names = readdirSync(directory)
    .filter((name) => name.endsWith(".json") && name !== HARDWARE_LIMITS_FILE)
    .sort();
  return names.map((name) => {
    const file = path.join(directory, name);
    const raw = readJson(file);
    if (!isResultFile(raw) || !isRecord(raw)) {
      throw new Error(
        `${file} is not a result file: expected { config, env: { date, loadavg }, results: [...] }`,
      );
    }
    if (origin === "normgrad") {
      return { file: raw, family: "normgrad", description: raw.description ?? raw.config };
    }
    return { file: raw, family: String(raw.peer ?? "peer"), description: describePeer(raw) };
  });
}

function probeMedian(probe: Record<string, unknown>, key: string, file: string): number {
  const stat = probe[key];
  if (!isStat(stat)) throw new Error(`${file}: probe.${key} is missing or not { median, min, max, n }`);
  return stat.median;
}

/** The FMA peaks and memcpy bandwidth measured by the peers' hardware probe. */
export function readHardwareLimits(file: string): HardwareLimits {
  const raw = readJson(file);
  if (!isRecord(raw) || !isRecord(raw.probe))
    throw new Error(`${file}: expected an object with a "probe" field`);
  return {
    fmaGflops1t: probeMedian(raw.probe, "fmaGflops1t", file),
    fmaGflops2t: probeMedian(raw.probe, "fmaGflops2t", file),
    memcpyGBs: probeMedian(raw.probe, "memcpyGBs", file),
  };
}
