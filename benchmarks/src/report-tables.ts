// Builds RESULTS.md: one table per workload with every peer and normgrad configuration side by side.
import {
  type BenchResult,
  isTrainingResult,
  type MicroResult,
  type ResultFile,
  type Stat,
  type TrainingResult,
} from "./result-format.ts";

/** The machine's limits the rates are compared with (the peers' hw_limits.json). */
export interface HardwareLimits {
  /** Measured AVX2 FMA peak, GFLOP/s, 1 and 2 threads. */
  fmaGflops1t: number;
  fmaGflops2t: number;
  /** C memcpy of 256 MiB, reads plus writes, GB/s. */
  memcpyGBs: number;
}

/** A result file and where it came from. */
export interface SourcedFile {
  file: ResultFile;
  /** The framework family: `normgrad`, or the peer's `peer` field (`tfjs`, `jaxjs`, `torch`, …). */
  family: string;
  /** One line on the configuration (versions, backend, threads). */
  description: string;
}

/** Everything the report is built from. */
export interface ReportInput {
  normgrad: readonly SourcedFile[];
  peers: readonly SourcedFile[];
  limits: HardwareLimits;
  generatedAt: string;
}

/** The JavaScript frameworks "best JS peer" is chosen among (plain-js loops and PyTorch are not). */
const JS_PEER_FAMILIES: readonly string[] = ["tfjs", "jaxjs", "js-pytorch"];
/** The PyTorch reference: 1 thread, OpenBLAS. */
const TORCH_1T = "torch-t1-openblas-omp";
/** A final accuracy this many points below PyTorch's marks a configuration as training wrongly. */
const ACCURACY_TOLERANCE_POINTS = 2;

type SectionKind = "flops" | "bandwidth" | "training";

interface Section {
  workload: string;
  title: string;
  kind: SectionKind;
  /**
   * Training FLOPs per sample of the matmuls and convolutions: forward, weight gradients, and
   * input gradients of every layer but the first (other ops are a few percent and left out).
   */
  flopsPerSample?: number;
  note?: string;
}

// W4: fwd 2·(784·256 + 256·256 + 256·10) = 537,600; wgrad the same; input grads of layers 2–3 136,192.
const MLP_FLOPS = 537_600 * 2 + 136_192;
// W5: fwd conv1 2·16·28²·9 = 225,792, conv2 2·32·14²·9·16 = 1,806,336, linear 2·1568·10 = 31,360;
// wgrad the same; input grads of conv2 and linear 1,837,696.
const CNN_FLOPS = 2_063_488 * 2 + 1_837_696;

const SECTIONS: readonly Section[] = [
  { workload: "W1", title: "W1 matmul C=A@B, fp32: GFLOP/s = 2N³/t", kind: "flops" },
  {
    workload: "W1js",
    title: "W1js plain JavaScript matmul loops (Float32Array, 1 thread): GFLOP/s",
    kind: "flops",
    note: "Reference loops, not a framework: what hand-written JavaScript reaches on this machine.",
  },
  {
    workload: "W2",
    title: "W2 BatchNorm fwd+bwd, training mode: ms per call, effective GB/s = 4·numel·4 B / t",
    kind: "bandwidth",
  },
  {
    workload: "W3",
    title: "W3 LayerNorm / GroupNorm fwd+bwd: ms per call, effective GB/s = 4·numel·4 B / t",
    kind: "bandwidth",
  },
  {
    workload: "W4",
    title: "W4 MNIST MLP with BatchNorm, batch 128, 3 epochs: training samples/s and test accuracy",
    kind: "training",
    flopsPerSample: MLP_FLOPS,
  },
  {
    workload: "W4nobn",
    title: "W4nobn MNIST MLP without BatchNorm, Adam (a peer-only variant of W4)",
    kind: "training",
    flopsPerSample: MLP_FLOPS,
    note: "Measured for js-pytorch (which has no BatchNorm or SGD) and jax-js only; not a normgrad workload.",
  },
  {
    workload: "W5",
    title: "W5 MNIST CNN with BatchNorm, batch 64, 2 epochs: training samples/s and test accuracy",
    kind: "training",
    flopsPerSample: CNN_FLOPS,
  },
];

interface Row {
  config: string;
  family: string;
  threads: number;
  result: BenchResult;
}

/** A number to about three significant digits, as the peers' summary prints them. */
export function formatNumber(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  if (magnitude === 0) return "0";
  return value.toPrecision(2);
}

function formatStat(stat: Stat): string {
  if (stat.n === 1) return formatNumber(stat.median);
  return `${formatNumber(stat.median)} (${formatNumber(stat.min)}–${formatNumber(stat.max)})`;
}

function formatRatio(ratio: number | null): string {
  if (ratio === null) return "—";
  return `${ratio.toPrecision(ratio >= 1 ? 3 : 2)}×`;
}

function formatPercent(fraction: number): string {
  return `${(fraction * 100).toPrecision(2)}%`;
}

/** The higher-is-better value a row is ranked and compared by. */
function score(result: BenchResult): number {
  if (isTrainingResult(result)) return result.samplesPerSec.median;
  return result.gflops?.median ?? result.gbps?.median ?? 1 / result.ms.median;
}

function tableLine(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [tableLine(header), tableLine(header.map(() => "---")), ...rows.map(tableLine)];
}

function configCell(row: Row, best: Row | null): string {
  const name = row.family === "normgrad" ? `**${row.config}**` : row.config;
  return row === best ? `${name} (best JS)` : name;
}

function loadCell(result: BenchResult): string {
  return result.loadavg.length > 0 ? result.loadavg[0].toFixed(2) : "—";
}

/** The best JS peer and the PyTorch 1-thread row of a case, and a row's speed ratio to each. */
function references(rows: readonly Row[]): {
  best: Row | null;
  ratios: (row: Row) => [number | null, number | null];
  /** A CPU-time rate (normgrad rows) against the best JS peer's wall-clock rate. */
  cpuCell: (rate: number | undefined) => string;
} {
  let best: Row | null = null;
  for (const row of rows) {
    if (!JS_PEER_FAMILIES.includes(row.family)) continue;
    if (best === null || score(row.result) > score(best.result)) best = row;
  }
  const torch = rows.find((row) => row.config === TORCH_1T) ?? null;
  const ratio = (row: Row, reference: Row | null): number | null =>
    reference === null ? null : score(row.result) / score(reference.result);
  const cpuCell = (rate: number | undefined): string => {
    if (rate === undefined) return "—";
    const toBest = best === null ? "" : ` (${formatRatio(rate / score(best.result))})`;
    return `${formatNumber(rate)}${toBest}`;
  };
  return { best, ratios: (row) => [ratio(row, best), ratio(row, torch)], cpuCell };
}

function microRows(section: Section, caseRows: readonly Row[], limits: HardwareLimits): string[][] {
  const { best, ratios, cpuCell } = references(caseRows);
  return caseRows.map((row) => {
    const result: MicroResult = isTrainingResult(row.result) ? unreachable(row) : row.result;
    const [toBest, toTorch] = ratios(row);
    const caseName = row === caseRows[0] ? result.case : "";
    if (section.kind === "flops") {
      const peak = row.threads >= 2 ? limits.fmaGflops2t : limits.fmaGflops1t;
      const rate = result.gflops;
      return [
        caseName,
        configCell(row, best),
        rate === undefined ? "—" : formatStat(rate),
        formatStat(result.ms),
        formatRatio(toBest),
        formatRatio(toTorch),
        rate === undefined ? "—" : formatPercent(rate.median / peak),
        cpuCell(result.cpuTime?.gflops?.median),
        loadCell(result),
      ];
    }
    const rate = result.gbps;
    return [
      caseName,
      configCell(row, best),
      formatStat(result.ms),
      rate === undefined ? "—" : formatStat(rate),
      formatRatio(toBest),
      formatRatio(toTorch),
      rate === undefined ? "—" : formatPercent(rate.median / limits.memcpyGBs),
      cpuCell(result.cpuTime?.gbps?.median),
      loadCell(result),
    ];
  });
}

function unreachable(row: Row): never {
  throw new Error(`${row.config} ${row.result.workload}: a training row in a micro-benchmark table`);
}

function accuracyCheck(result: TrainingResult, torch: TrainingResult | null): string {
  if (torch === null) return "—";
  const gap = (torch.finalTestAcc.median - result.finalTestAcc.median) * 100;
  return gap > ACCURACY_TOLERANCE_POINTS ? `⚠ ${gap.toFixed(1)} points below PyTorch` : "ok";
}

function trainingRows(section: Section, caseRows: readonly Row[], limits: HardwareLimits): string[][] {
  const { best, ratios, cpuCell } = references(caseRows);
  const torchRow = caseRows.find((row) => row.config === TORCH_1T);
  const torch = torchRow !== undefined && isTrainingResult(torchRow.result) ? torchRow.result : null;
  return caseRows.map((row) => {
    if (!isTrainingResult(row.result)) return unreachable(row);
    const result = row.result;
    const [toBest, toTorch] = ratios(row);
    const accuracy = result.testAccPerEpochMedian.map((acc) => (acc * 100).toFixed(2)).join(" / ");
    const final = result.finalTestAcc;
    const peak = row.threads >= 2 ? limits.fmaGflops2t : limits.fmaGflops1t;
    const gflops =
      section.flopsPerSample === undefined
        ? null
        : (result.samplesPerSec.median * section.flopsPerSample) / 1e9;
    return [
      configCell(row, best),
      formatStat(result.samplesPerSec),
      result.statBasis,
      formatRatio(toBest),
      formatRatio(toTorch),
      accuracy,
      `${(final.min * 100).toFixed(2)}–${(final.max * 100).toFixed(2)}`,
      accuracyCheck(result, torch),
      gflops === null ? "—" : `${formatNumber(gflops)} (${formatPercent(gflops / peak)})`,
      cpuCell(result.cpuSamplesPerSec?.median),
      loadCell(result),
    ];
  });
}

const CPU_COLUMN = "by CPU time (× best JS)";

const HEADERS: { [K in SectionKind]: readonly string[] } = {
  flops: [
    "case",
    "config",
    "GFLOP/s",
    "ms",
    "× best JS peer",
    "× PyTorch 1t",
    "% of FMA peak",
    CPU_COLUMN,
    "load",
  ],
  bandwidth: [
    "case",
    "config",
    "ms",
    "GB/s",
    "× best JS peer",
    "× PyTorch 1t",
    "% of memcpy GB/s",
    CPU_COLUMN,
    "load",
  ],
  training: [
    "config",
    "samples/s",
    "basis",
    "× best JS peer",
    "× PyTorch 1t",
    "test acc % per epoch (median)",
    "final acc range %",
    "accuracy check",
    "matmul+conv GFLOP/s (% of FMA peak)",
    CPU_COLUMN,
    "load",
  ],
};

function sectionLines(section: Section, rows: readonly Row[], limits: HardwareLimits): string[] {
  const mine = rows.filter((row) => row.result.workload === section.workload);
  if (mine.length === 0) return [];
  const cases = [...new Set(mine.map((row) => row.result.case))];
  const body = cases.flatMap((caseName) => {
    const caseRows = mine.filter((row) => row.result.case === caseName);
    return section.kind === "training"
      ? trainingRows(section, caseRows, limits)
      : microRows(section, caseRows, limits);
  });
  const lines = [`## ${section.title}`, ""];
  if (section.note !== undefined) lines.push(section.note, "");
  lines.push(...table(HEADERS[section.kind], body), "");
  const notes = mine.flatMap((row) => {
    const { result } = row;
    const remarks = [result.note, isTrainingResult(result) ? result.model : undefined];
    return remarks.flatMap((remark) =>
      remark === undefined ? [] : [`- ${row.config}, ${result.case}: ${remark}`],
    );
  });
  if (notes.length > 0) lines.push(...new Set(notes), "");
  return lines;
}

/** Row order inside a case: normgrad first, then the JS peers, then the references. */
const FAMILY_ORDER: readonly string[] = ["normgrad", "tfjs", "jaxjs", "js-pytorch", "plain-js", "torch"];

function familyRank(family: string): number {
  const rank = FAMILY_ORDER.indexOf(family);
  return rank < 0 ? FAMILY_ORDER.length : rank;
}

function rowsOf(files: readonly SourcedFile[]): Row[] {
  const rows = files.flatMap(({ file, family }) =>
    file.results.map((result) => ({ config: file.config, family, threads: file.threads ?? 1, result })),
  );
  // A stable sort keeps each family's files in their given order.
  return rows.sort((a, b) => familyRank(a.family) - familyRank(b.family));
}

function configLines(files: readonly SourcedFile[]): string[] {
  const seen = new Map<string, string>();
  for (const { file, description } of files) {
    const load = `load ${file.env.loadavg.map((v) => v.toFixed(2)).join("/")}${
      file.env.loadavgEnd === undefined ? "" : ` → ${file.env.loadavgEnd.map((v) => v.toFixed(2)).join("/")}`
    }`;
    const workloads = [...new Set(file.results.map((result) => result.workload))].join(", ");
    const line = `- ${file.config} (${workloads}): ${description}; measured ${file.env.date.slice(0, 10)}, ${load}`;
    seen.set(`${file.config} ${file.env.date}`, line);
  }
  return [...seen.values()];
}

/** The rate a row is compared by, with its unit, and the same by CPU time where recorded. */
function headline(result: BenchResult): { value: number; unit: string; cpu: number | undefined } {
  if (isTrainingResult(result)) {
    return { value: result.samplesPerSec.median, unit: "samples/s", cpu: result.cpuSamplesPerSec?.median };
  }
  if (result.gflops !== undefined) {
    return { value: result.gflops.median, unit: "GFLOP/s", cpu: result.cpuTime?.gflops?.median };
  }
  return { value: result.gbps?.median ?? 0, unit: "GB/s", cpu: result.cpuTime?.gbps?.median };
}

/** One line per normgrad row: its rate beside the best JS peer's and PyTorch's. */
function summaryLines(rows: readonly Row[]): string[] {
  const body: string[][] = [];
  for (const section of SECTIONS) {
    const mine = rows.filter((row) => row.result.workload === section.workload);
    for (const caseName of new Set(mine.map((row) => row.result.case))) {
      const caseRows = mine.filter((row) => row.result.case === caseName);
      const { best, ratios } = references(caseRows);
      const torch = caseRows.find((row) => row.config === TORCH_1T);
      for (const row of caseRows.filter((candidate) => candidate.family === "normgrad")) {
        const ours = headline(row.result);
        const [toBest, toTorch] = ratios(row);
        const bestValue = best === null ? null : headline(best.result).value;
        body.push([
          `${section.workload} ${caseName}`,
          row.config,
          `${formatNumber(ours.value)} ${ours.unit}`,
          best === null || bestValue === null ? "—" : `${best.config} ${formatNumber(bestValue)}`,
          formatRatio(toBest),
          ours.cpu === undefined || bestValue === null ? "—" : formatRatio(ours.cpu / bestValue),
          torch === undefined ? "—" : formatNumber(headline(torch.result).value),
          formatRatio(toTorch),
        ]);
      }
    }
  }
  if (body.length === 0) return [];
  const header = [
    "case",
    "config",
    "normgrad",
    "best JS peer",
    "× best JS",
    "× best JS by CPU time",
    "PyTorch 1t",
    "× PyTorch 1t",
  ];
  return ["## Summary", "", ...table(header, body), ""];
}

/** The whole RESULTS.md. */
export function buildReport(input: ReportInput): string {
  const { limits } = input;
  const rows = rowsOf([...input.normgrad, ...input.peers]);
  const lines = [
    "# normgrad beside TF.js, jax-js, js-pytorch and PyTorch",
    "",
    `Generated ${input.generatedAt} by \`pnpm bench:report\` from ${input.normgrad.length} normgrad result file(s) ` +
      `(benchmarks/results) and ${input.peers.length} peer result files (benchmarks/peers). ` +
      "Workload definitions, timing method and the peers' measurements: benchmarks/peers/WORKLOADS.md.",
    "",
    "- Cells: median (min–max) over runs (or over thirds of one run: column basis).",
    "- `× best JS peer` and `× PyTorch 1t`: how many times as fast as the fastest of TF.js, jax-js and " +
      `js-pytorch for that case, and as ${TORCH_1T}; above 1 is faster.`,
    `- Limits of this machine (peers/hw_limits.json): AVX2 FMA peak ${formatNumber(limits.fmaGflops1t)} GFLOP/s ` +
      `with 1 thread, ${formatNumber(limits.fmaGflops2t)} with 2; memcpy ${formatNumber(limits.memcpyGBs)} GB/s ` +
      "(reads + writes). W2/W3 tensors fit in the 32 MiB L3, so effective GB/s may exceed memcpy.",
    "- load: the 1-minute load average when the case finished. The machine has 2 cores; above about 1.5 " +
      "another process was competing with a 1-thread run, above 2.5 with a 2-thread one.",
    `- ${CPU_COLUMN}: normgrad's rate with the same calls timed by the process's CPU time (user + system, ` +
      "all threads) instead of the wall clock, and its ratio to the best JS peer's wall-clock rate. Under load " +
      "it is close to what the wall clock shows on an idle machine (GC and compiler threads make it slightly low); " +
      "the peers recorded wall clock only, on an idle machine.",
    `- accuracy check: the final test accuracy is within ${ACCURACY_TOLERANCE_POINTS} points of PyTorch's, ` +
      "so a fast but wrong configuration shows as wrong. W5's ⚠ is the initial draws, not the arithmetic: " +
      "PyTorch trained from normgrad's seed-1–3 weights and batch order ends at the same 85.0–87.6% " +
      "(docs/performance.md), and a test follows PyTorch's losses step by step from identical weights.",
    "",
  ];
  lines.push(...summaryLines(rows));
  for (const section of SECTIONS) lines.push(...sectionLines(section, rows, limits));
  lines.push("## Configurations", "", ...configLines([...input.normgrad, ...input.peers]), "");
  return lines.join("\n");
}
