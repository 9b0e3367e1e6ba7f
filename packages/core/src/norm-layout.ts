// NormLayout: how a normalization groups its input into statistics, and the blocks every backend's kernels walk.

/**
 * How a normalization reads its input: a contiguous (outer, channels, inner) array with a
 * per-channel affine. `per-channel` keeps one statistic per channel over (outer, inner)
 * (BatchNorm); `per-group` one per (outer, group) over the group's contiguous channels and inner
 * (LayerNorm: 1 group and inner 1; GroupNorm; InstanceNorm: a group per channel). Statistics are
 * indexed by channel, or by `outer·groups + group`.
 */
export type NormLayout =
  | {
      readonly kind: "per-channel";
      readonly outer: number;
      readonly channels: number;
      readonly inner: number;
    }
  | {
      readonly kind: "per-group";
      readonly outer: number;
      readonly channels: number;
      readonly inner: number;
      readonly groups: number;
    };

/** Per-statistic mean and biased variance. */
export interface NormStatistics<T> {
  readonly mean: T;
  readonly variance: T;
}

/**
 * A layout as the kernels walk it: x seen as (outer, blocks, channelsPerBlock, inner),
 * row-major, where a block is the contiguous run of channels that shares one statistic within
 * an outer index (one channel for BatchNorm, a group otherwise). Block (o, b) uses statistic
 * `o·statStride + b`, and element e of statistic k lives at
 * `k·run + ⌊e/run⌋·channels·inner + e mod run` (for groups e < run, so the middle term is 0).
 */
export interface NormBlocks {
  readonly kind: NormLayout["kind"];
  readonly outer: number;
  readonly channels: number;
  readonly inner: number;
  /** Blocks per outer index: the channels (BatchNorm) or the groups. */
  readonly blocks: number;
  readonly channelsPerBlock: number;
  /** Contiguous elements of one block within an outer index: channelsPerBlock·inner. */
  readonly run: number;
  /** 0 when the statistics are shared across outer (BatchNorm), else the blocks per outer index. */
  readonly statStride: number;
  /** Number of statistics: the channels, or outer·groups. */
  readonly statistics: number;
  /** Elements behind each statistic (the m of the formulas): outer·inner, or run. */
  readonly count: number;
}

/** The blocks of a layout (see `NormBlocks`); the CPU and GPU kernels share this one geometry. */
export function normBlocks(layout: NormLayout): NormBlocks {
  const { kind, outer, channels, inner } = layout;
  switch (layout.kind) {
    case "per-channel":
      return {
        kind,
        outer,
        channels,
        inner,
        blocks: channels,
        channelsPerBlock: 1,
        run: inner,
        statStride: 0,
        statistics: channels,
        count: outer * inner,
      };
    case "per-group": {
      const channelsPerBlock = channels / layout.groups;
      return {
        kind,
        outer,
        channels,
        inner,
        blocks: layout.groups,
        channelsPerBlock,
        run: channelsPerBlock * inner,
        statStride: layout.groups,
        statistics: outer * layout.groups,
        count: channelsPerBlock * inner,
      };
    }
    default:
      return layout satisfies never;
  }
}

/**
 * Visits the runs of `inner` contiguous elements that share one statistic and one channel, in
 * memory order: `visit(start, statistic, channel)` for each (outer, channel). The CPU passes over
 * layouts with inner > 1 (BatchNorm2d, GroupNorm, InstanceNorm) all walk these runs.
 */
export function forEachChannelRun(
  { outer, blocks, channelsPerBlock, inner, statStride }: NormBlocks,
  visit: (start: number, statistic: number, channel: number) => void,
): void {
  for (let o = 0, start = 0; o < outer; o++) {
    for (let block = 0; block < blocks; block++) {
      const statistic = o * statStride + block;
      const firstChannel = block * channelsPerBlock;
      for (let c = firstChannel; c < firstChannel + channelsPerBlock; c++, start += inner) {
        visit(start, statistic, c);
      }
    }
  }
}
