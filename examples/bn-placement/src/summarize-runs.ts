// From per-seed runs to summaries: mean ± std per variant, the winner, the sweep and small-batch tables.
import { type Spread, spreadOf, welchTTest } from "./statistics.ts";
import { type ModelKind, NORM_KINDS, type NormKind, VARIANTS, type Variant } from "./study-config.ts";
import {
  type EpochRecord,
  type EpochSummary,
  type LrTolerance,
  type ModelComparison,
  type PairComparison,
  type RunRecord,
  type SmallBatchSummary,
  SPREAD_ALPHA,
  type SweepPoint,
  type VariantSummary,
} from "./study-result.ts";

/** The last epoch a run recorded; throws for a run with none (it never trained). */
export function finalEpoch(run: RunRecord): EpochRecord {
  const last = run.epochs.at(-1);
  if (last === undefined) throw new Error(`run ${run.model}/${run.variant} seed ${run.seed} has no epoch`);
  return last;
}

/** Spread of values that may be null (overflowed losses): null if any is. */
function spreadOfNullable(values: readonly (number | null)[]): Spread | null {
  const finite = values.filter((value): value is number => value !== null);
  return finite.length === values.length ? spreadOf(finite) : null;
}

function groupBy<K, T>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
}

function summarizeEpochs(runs: readonly RunRecord[]): EpochSummary[] {
  const reached = Math.min(...runs.map((run) => run.epochs.length));
  return Array.from({ length: reached }, (_, i) => {
    const records = runs.map((run) => run.epochs[i]);
    return {
      epoch: i + 1,
      testAccuracy: spreadOf(records.map((record) => record.testAccuracy)),
      testLoss: spreadOfNullable(records.map((record) => record.testLoss)),
      trainLoss: spreadOfNullable(records.map((record) => record.trainLoss)),
      trainAccuracy: spreadOfNullable(records.map((record) => record.trainAccuracy)),
    };
  });
}

/** Mean time per epoch and throughput of one run (over the epochs that finished). */
function runSpeed(run: RunRecord): { seconds: number; samplesPerSecond: number } {
  const seconds = run.epochs.reduce((sum, epoch) => sum + epoch.seconds, 0) / run.epochs.length;
  const rates = run.epochs.flatMap((epoch) =>
    epoch.samplesPerSecond === null ? [] : [epoch.samplesPerSecond],
  );
  const samplesPerSecond =
    rates.length === 0 ? Number.NaN : rates.reduce((sum, rate) => sum + rate, 0) / rates.length;
  return { seconds, samplesPerSecond };
}

/** Mean ± std over seeds for every model × variant of `runs`, in MODEL then VARIANTS order. */
export function summarizeVariants(runs: readonly RunRecord[]): VariantSummary[] {
  const summaries: VariantSummary[] = [];
  const byModel = groupBy(runs, (run) => run.model);
  for (const [model, modelRuns] of byModel) {
    const byVariant = groupBy(modelRuns, (run) => run.variant);
    for (const variant of VARIANTS) {
      const group = byVariant.get(variant);
      if (group === undefined) continue;
      const finals = group.map(finalEpoch);
      const speeds = group.map(runSpeed);
      summaries.push({
        model,
        variant,
        seeds: group.map((run) => run.seed),
        finalTestAccuracy: spreadOf(finals.map((epoch) => epoch.testAccuracy)),
        finalTestLoss: spreadOfNullable(finals.map((epoch) => epoch.testLoss)),
        finalTrainLoss: spreadOfNullable(finals.map((epoch) => epoch.trainLoss)),
        finalTrainAccuracy: spreadOfNullable(finals.map((epoch) => epoch.trainAccuracy)),
        secondsPerEpoch: spreadOf(speeds.map((speed) => speed.seconds)),
        cpuSecondsPerEpoch: spreadOf(group.map((run) => run.cpuSeconds / run.epochs.length)),
        samplesPerSecond: spreadOf(speeds.map((speed) => speed.samplesPerSecond)),
        divergedRuns: group.filter((run) => run.diverged).length,
        perEpoch: summarizeEpochs(group),
      });
    }
  }
  return summaries;
}

function finalAccuracies(runs: readonly RunRecord[], model: ModelKind, variant: Variant): number[] {
  return runs
    .filter((run) => run.model === model && run.variant === variant)
    .map((run) => finalEpoch(run).testAccuracy);
}

function formatPoints(fraction: number): string {
  return `${(fraction * 100).toFixed(2)} points`;
}

/**
 * Per model: the variant with the highest mean final test accuracy, and for every other variant
 * the gap, the gap in pooled stds and Welch's t-test on the per-seed accuracies. The gap exceeds
 * the seed spread when p < {@link SPREAD_ALPHA}.
 */
export function compareVariants(
  runs: readonly RunRecord[],
  summaries: readonly VariantSummary[],
): ModelComparison[] {
  const comparisons: ModelComparison[] = [];
  for (const [model, group] of groupBy(summaries, (summary) => summary.model)) {
    const ranked = [...group].sort((a, b) => b.finalTestAccuracy.mean - a.finalTestAccuracy.mean);
    const best = ranked[0];
    const bestAccuracies = finalAccuracies(runs, model, best.variant);
    const against: PairComparison[] = ranked.slice(1).map((other) => {
      const otherAccuracies = finalAccuracies(runs, model, other.variant);
      const difference = best.finalTestAccuracy.mean - other.finalTestAccuracy.mean;
      const pooledStd = Math.sqrt((best.finalTestAccuracy.std ** 2 + other.finalTestAccuracy.std ** 2) / 2);
      const testable = bestAccuracies.length >= 2 && otherAccuracies.length >= 2;
      const welch = testable ? welchTTest(bestAccuracies, otherAccuracies) : null;
      return {
        variant: other.variant,
        difference,
        gapInPooledStd: pooledStd > 0 ? difference / pooledStd : null,
        welch,
        exceedsSpread: welch === null ? null : welch.p < SPREAD_ALPHA,
      };
    });
    const clearWinner = against.length > 0 && against.every((pair) => pair.exceedsSpread === true);
    comparisons.push({
      model,
      leader: best.variant,
      winner: clearWinner ? best.variant : null,
      against,
      verdict: verdictOf(best.variant, against),
    });
  }
  return comparisons;
}

/** How a verdict starts when no variant's lead exceeds the seed spread. */
export const NO_DIFFERENCE = "No measurable difference";

/** One sentence on the comparison; it names a winner only when the criterion holds against every other variant. */
function verdictOf(leader: Variant, against: readonly PairComparison[]): string {
  if (against.length === 0) return `${leader} is the only variant trained: nothing to compare.`;
  if (against.some((pair) => pair.exceedsSpread === null)) {
    return `${leader} has the highest mean, but with fewer than 2 seeds per variant the spread is unknown.`;
  }
  const beaten = against.filter((pair) => pair.exceedsSpread === true).map((pair) => pair.variant);
  const tied = against.filter((pair) => pair.exceedsSpread === false);
  if (tied.length === 0)
    return `${leader} wins: its lead over ${beaten.join(" and ")} exceeds the seed spread.`;
  const tiedText = tied.map((pair) => `${pair.variant} (${formatPoints(pair.difference)})`).join(" and ");
  if (beaten.length === 0) {
    const gaps = tied.map((pair) => `${pair.variant} is ${formatPoints(pair.difference)} behind ${leader}`);
    return `${NO_DIFFERENCE}: ${gaps.join(", ")}, within the seed spread.`;
  }
  return (
    `${leader} beats ${beaten.join(" and ")} beyond the seed spread; its lead over ${tiedText} ` +
    "is within the spread."
  );
}

/**
 * The sweep's points (mean ± std of the final test accuracy per model × variant × rate) and, per
 * model × variant, the best rate and the largest rate within 1 point of the best accuracy: the
 * rate tolerance BatchNorm is said to widen.
 */
export function summarizeSweep(runs: readonly RunRecord[]): {
  points: SweepPoint[];
  tolerance: LrTolerance[];
} {
  const points: SweepPoint[] = [];
  const tolerance: LrTolerance[] = [];
  for (const [model, modelRuns] of groupBy(runs, (run) => run.model)) {
    const byVariant = groupBy(modelRuns, (run) => run.variant);
    for (const variant of VARIANTS) {
      const variantRuns = byVariant.get(variant);
      if (variantRuns === undefined) continue;
      const variantPoints = [...groupBy(variantRuns, (run) => run.lr)]
        .sort(([a], [b]) => a - b)
        .map(([lr, group]) => ({
          model,
          variant,
          lr,
          finalTestAccuracy: spreadOf(group.map((run) => finalEpoch(run).testAccuracy)),
          divergedRuns: group.filter((run) => run.diverged).length,
        }));
      points.push(...variantPoints);
      const best = variantPoints.reduce((a, b) =>
        b.finalTestAccuracy.mean > a.finalTestAccuracy.mean ? b : a,
      );
      const good = variantPoints.filter(
        (point) => point.finalTestAccuracy.mean >= best.finalTestAccuracy.mean - 0.01,
      );
      tolerance.push({
        model,
        variant,
        bestLr: best.lr,
        bestAccuracy: best.finalTestAccuracy.mean,
        largestGoodLr: Math.max(...good.map((point) => point.lr)),
      });
    }
  }
  return { points, tolerance };
}

/** Mean ± std per batch size × normalization of the small-batch run (batch sizes ascending, NORM_KINDS order). */
export function summarizeSmallBatch(runs: readonly RunRecord[]): SmallBatchSummary[] {
  const batchSizes = [...new Set(runs.map((run) => run.batchSize))].sort((a, b) => a - b);
  return batchSizes.flatMap((batchSize) =>
    NORM_KINDS.flatMap((norm: NormKind) => {
      const group = runs.filter((run) => run.batchSize === batchSize && run.norm === norm);
      if (group.length === 0) return [];
      const finals = group.map(finalEpoch);
      return [
        {
          norm,
          batchSize,
          lr: group[0].lr,
          finalTestAccuracy: spreadOf(finals.map((epoch) => epoch.testAccuracy)),
          finalTrainAccuracy: spreadOfNullable(finals.map((epoch) => epoch.trainAccuracy)),
          finalTestLoss: spreadOfNullable(finals.map((epoch) => epoch.testLoss)),
          secondsPerEpoch: spreadOf(group.map((run) => runSpeed(run).seconds)),
          divergedRuns: group.filter((run) => run.diverged).length,
        },
      ];
    }),
  );
}
