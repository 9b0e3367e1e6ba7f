// The study end to end: plan the jobs, train them, summarize, fold, and write study.json, study.md and the plots.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { renderChart } from "@normgrad/plot";
import { measureFolding } from "./fold-networks.ts";
import { runJobs } from "./job-pool.ts";
import { type ReportPlot, renderStudyMarkdown } from "./markdown-report.ts";
import { prepareDevice } from "./prepare-device.ts";
import { accuracyVsEpochChart, accuracyVsLrChart, lossCurvesChart, smallBatchChart } from "./study-charts.ts";
import type { StudyConfig } from "./study-config.ts";
import { jobCost, jobLabel, planStudyJobs } from "./study-jobs.ts";
import { SPREAD_CRITERION, STUDY_SCHEMA_VERSION, type StudyResult } from "./study-result.ts";
import { compareVariants, summarizeSmallBatch, summarizeSweep, summarizeVariants } from "./summarize-runs.ts";
import type { TrainJob, TrainJobResult } from "./train-job.ts";

/** Options of {@link runStudy}. */
export interface RunStudyOptions {
  /** Progress lines (default: to stderr); null = silent. */
  log?: ((line: string) => void) | null;
  /** Where in-process training draws fit's progress bar (default stderr); null = none. */
  progressStream?: NodeJS.WritableStream | null;
}

/** What {@link runStudy} produced. */
export interface StudyOutput {
  result: StudyResult;
  /** Every file written, absolute. */
  files: string[];
}

/** The files the study writes into its output folder (plots as .svg and .png). */
export const STUDY_FILES = {
  json: "study.json",
  markdown: "study.md",
  plots: {
    accuracyVsEpoch: "accuracy-vs-epoch",
    lossCurves: "loss-curves",
    accuracyVsLr: "accuracy-vs-lr",
    smallBatch: "small-batch",
  },
} as const;

/** fit's line after each epoch: `epoch 2/3: train loss … | test loss … | … samples/s`. */
const EPOCH_SUMMARY = /^epoch \d+\/\d+:/;

function formatAccuracy(accuracy: number): string {
  return `${(accuracy * 100).toFixed(2)}%`;
}

/**
 * Runs the whole study for `config` and writes its results into `config.outDir`: study.json (the
 * schema of `StudyResult`), study.md (the tables) and the plots as SVG and PNG. Files of an earlier
 * run that this one does not produce (a skipped part's plot) are removed.
 */
export async function runStudy(config: StudyConfig, options: RunStudyOptions = {}): Promise<StudyOutput> {
  const start = performance.now();
  const startCpu = process.cpuUsage();
  const log = options.log === undefined ? (line: string) => process.stderr.write(`${line}\n`) : options.log;
  const say = (line: string) => log?.(line);
  const progressStream = options.progressStream === undefined ? process.stderr : options.progressStream;

  const deviceDescription = await prepareDevice(config.device);
  const jobs = planStudyJobs(config);
  const allJobs = [...jobs.main, ...jobs.lrSweep, ...jobs.smallBatch];
  // A data-parallel run occupies dataParallel cores by itself.
  const workers = Math.min(
    config.device === "gpu"
      ? 1
      : (config.workers ?? Math.max(1, Math.floor(availableParallelism() / config.dataParallel))),
    allJobs.length,
  );
  say(
    `BatchNorm placement study, mode ${config.mode} (${config.dataset}): ${jobs.main.length} main runs, ` +
      `${jobs.lrSweep.length} learning-rate sweep runs, ${jobs.smallBatch.length} small-batch runs on ` +
      `${workers} ${workers === 1 ? "process" : "worker processes"}, device ${deviceDescription}` +
      (config.dataParallel > 1
        ? `, main runs data-parallel on ${config.dataParallel} threads with SyncBatchNorm`
        : ""),
  );

  let finished = 0;
  const pending = new Map<number, string>();
  const results = await runJobs(allJobs, {
    workers,
    progressStream: workers === 1 ? progressStream : null,
    costOf: jobCost,
    onOutput: (job, text) => {
      // Workers send fit's output in pieces: print its per-epoch summaries, whole and tagged with
      // the run, and leave out the bar's intermediate states, which would interleave across workers.
      const lines = `${pending.get(job.id) ?? ""}${text}`.split("\n");
      pending.set(job.id, lines.pop() ?? "");
      for (const line of lines)
        if (EPOCH_SUMMARY.test(line.trim())) say(`  [${jobLabel(job)}] ${line.trim()}`);
    },
    onResult: (job: TrainJob, result: TrainJobResult) => {
      finished++;
      const last = result.record.epochs.at(-1);
      const seconds = result.record.epochs.reduce((sum, epoch) => sum + epoch.seconds, 0);
      say(
        `[${finished}/${allJobs.length}] ${jobLabel(job)}: test acc ${last === undefined ? "–" : formatAccuracy(last.testAccuracy)}` +
          `${result.record.diverged ? " (diverged)" : ""}, ${result.record.epochs.length} epoch(s), training ` +
          `${seconds.toFixed(1)} s (${Math.round(last?.samplesPerSecond ?? 0)} samples/s), run ${result.record.wallSeconds.toFixed(1)} s ` +
          `wall / ${result.record.cpuSeconds.toFixed(1)} s CPU`,
      );
    },
  });
  const recordsOf = (list: readonly TrainJob[]) => list.map((job) => resultOf(results, job).record);
  const mainRuns = recordsOf(jobs.main);
  const summaries = summarizeVariants(mainRuns);

  const sweepRuns = recordsOf(jobs.lrSweep);
  const smallRuns = recordsOf(jobs.smallBatch);
  let folding: StudyResult["folding"] = null;
  if (config.folding.enabled) {
    const foldStart = performance.now();
    say("Folding BatchNorm after training and timing inference…");
    folding = measureFolding(
      jobs.main.flatMap((job) => {
        const weights = resultOf(results, job).weights;
        return weights === null ? [] : [{ job, weights }];
      }),
      config,
    );
    say(
      `  folded ${folding.records.length} network(s) in ${((performance.now() - foldStart) / 1000).toFixed(1)} s`,
    );
  }

  const { outDir: _outDir, ...configWithoutPath } = config;
  const trainSize = Object.fromEntries(mainRuns.map((run) => [run.model, run.trainSize]));
  const result: StudyResult = {
    schemaVersion: STUDY_SCHEMA_VERSION,
    createdAt: new Date().toISOString(),
    mode: config.mode,
    config: configWithoutPath,
    dataset: { name: config.dataset, trainSize, testSize: mainRuns[0]?.testSize ?? 0 },
    environment: {
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpuModel: cpus()[0]?.model.trim() ?? "unknown",
      cpuCount: availableParallelism(),
      device: deviceDescription,
      workers,
    },
    spreadCriterion: SPREAD_CRITERION,
    runs: mainRuns,
    summaries,
    comparisons: compareVariants(mainRuns, summaries),
    lrSweep:
      sweepRuns.length === 0
        ? null
        : {
            epochs: config.lrSweep.epochs,
            trainSize: sweepRuns[0].trainSize,
            batchSize: config.batchSize,
            runs: sweepRuns,
            ...summarizeSweep(sweepRuns),
          },
    smallBatch:
      smallRuns.length === 0
        ? null
        : {
            model: config.smallBatch.model,
            batchSizes: config.smallBatch.batchSizes,
            epochs: config.smallBatch.epochs,
            trainSize: smallRuns[0].trainSize,
            runs: smallRuns,
            summaries: summarizeSmallBatch(smallRuns),
          },
    folding,
    totalSeconds: 0,
    cpuSeconds: { training: 0, total: 0 },
  };

  say(`Writing results to ${config.outDir}`);
  mkdirSync(config.outDir, { recursive: true });
  for (const stem of Object.values(STUDY_FILES.plots)) {
    for (const extension of [".svg", ".png"])
      rmSync(join(config.outDir, `${stem}${extension}`), { force: true });
  }
  const files: string[] = [];
  const plots: ReportPlot[] = [];
  const plotStart = performance.now();
  const plot = async (stem: string, title: string, spec: Parameters<typeof renderChart>[0]) => {
    const rendered = await renderChart(spec, join(config.outDir, stem));
    files.push(rendered.svgPath, rendered.pngPath);
    plots.push({ stem, title });
  };
  await plot(STUDY_FILES.plots.accuracyVsEpoch, "Test accuracy per epoch", accuracyVsEpochChart(mainRuns));
  await plot(STUDY_FILES.plots.lossCurves, "Loss curves", lossCurvesChart(mainRuns));
  if (result.lrSweep !== null) {
    await plot(
      STUDY_FILES.plots.accuracyVsLr,
      "Final test accuracy vs learning rate",
      accuracyVsLrChart(sweepRuns, config.lrSweep.epochs, config.momentum),
    );
  }
  if (result.smallBatch !== null) {
    await plot(
      STUDY_FILES.plots.smallBatch,
      "Normalizations across batch sizes",
      smallBatchChart(smallRuns, config.smallBatch.epochs),
    );
  }
  say(
    `  rendered ${plots.length} plots (SVG + PNG) in ${((performance.now() - plotStart) / 1000).toFixed(1)} s`,
  );
  result.totalSeconds = (performance.now() - start) / 1000;
  const allRuns = [...mainRuns, ...sweepRuns, ...smallRuns];
  const training = allRuns.reduce((sum, run) => sum + run.cpuSeconds, 0);
  const ownCpu = process.cpuUsage(startCpu);
  // In-process runs are already part of this process's CPU time; worker runs are not.
  const ownSeconds = (ownCpu.user + ownCpu.system) / 1e6;
  result.cpuSeconds = { training, total: workers === 1 ? ownSeconds : ownSeconds + training };
  const jsonPath = join(config.outDir, STUDY_FILES.json);
  const markdownPath = join(config.outDir, STUDY_FILES.markdown);
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(markdownPath, renderStudyMarkdown(result, plots));
  files.unshift(jsonPath, markdownPath);
  return { result, files };
}

function resultOf(results: ReadonlyMap<number, TrainJobResult>, job: TrainJob): TrainJobResult {
  const result = results.get(job.id);
  if (result === undefined) throw new Error(`no result for job ${job.id} (${jobLabel(job)})`);
  return result;
}
