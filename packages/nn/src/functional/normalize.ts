// The op behind every norm layer: normalize over a layout's statistics, then a per-channel affine, with the hand-derived backward.
import {
  canFuseNormalize,
  defineOp,
  formatShape,
  fusedNormalize,
  isGradEnabled,
  type NormalizeOptions,
  type NormalizeResult,
  type NormLayout,
  type NormStatistics,
  type Shape,
  type Tensor,
} from "@normgrad/core";
import { recordedNormalizeBackward } from "@normgrad/core/internal";

/** A forward + backward pair: the fused one runs the backend's kernels (core's `fusedNormalize`), the composed one tensor ops. */
type NormalizeImplementation = (
  x: Tensor,
  layout: NormLayout,
  weight: Tensor | null,
  bias: Tensor | null,
  options: NormalizeOptions,
) => NormalizeResult;

/** The shape a layout's statistics broadcast against when x is viewed as (outer, channels, inner)… */
function statisticsShape(layout: NormLayout): Shape {
  switch (layout.kind) {
    case "per-channel":
      return [1, layout.channels, 1];
    case "per-group":
      return [layout.outer, layout.groups, 1];
    default:
      return layout satisfies never;
  }
}

/** …and the view of x they are computed over: (outer, channels, inner) or (outer, groups, rest). */
function groupedShape(layout: NormLayout): Shape {
  switch (layout.kind) {
    case "per-channel":
      return [layout.outer, layout.channels, layout.inner];
    case "per-group":
      return [layout.outer, layout.groups, (layout.channels / layout.groups) * layout.inner];
    default:
      return layout satisfies never;
  }
}

/** The axes of the grouped view that a statistic reduces. */
function reducedAxes(layout: NormLayout): number[] {
  return layout.kind === "per-channel" ? [0, 2] : [2];
}

/**
 * The composed implementation, in tensor ops on any backend; it is also the readable spec of
 * the fused kernels. With x̂ = (x − μ)·s, s = 1/√(σ² + eps), ĝ = dy·γ[c], over the m elements of
 * each statistic:
 *   y = γ[c]·x̂ + β[c]
 *   dβ[c] = Σ dy,  dγ[c] = Σ dy·x̂                           (over each channel)
 *   dx = s·(ĝ − Σĝ/m − x̂·Σ(ĝ·x̂)/m)        statistics from x (for BatchNorm, γ factors out:
 *                                           dx = (γs/m)·(m·dy − Σdy − x̂·Σ(dy·x̂)))
 *   dx = s·ĝ                               given statistics (eval mode)
 * The statistics are taken after shifting each group by one of its own elements (exact in
 * floating point), so float32 data with a mean far larger than its spread keeps its precision.
 */
const composedNormalize: NormalizeImplementation = (x, layout, weight, bias, { eps, statistics }) => {
  const grouped = groupedShape(layout);
  const statShape = statisticsShape(layout);
  const axes = reducedAxes(layout);
  const channelShape = [1, layout.channels, 1];
  const threeD = [layout.outer, layout.channels, layout.inner];
  let computed: NormStatistics<Tensor> | null = null;
  const inputs = [x, ...(weight === null ? [] : [weight]), ...(bias === null ? [] : [bias])];
  const op = defineOp<Tensor[], { xhat: Tensor; invStd: Tensor }>({
    name: "normalize",
    forward: () => {
      const xg = x.reshape(grouped);
      let centred: Tensor;
      let variance: Tensor;
      if (statistics === null) {
        const shift = axes.reduce((slice, axis) => slice.narrow(axis, 0, 1), xg);
        const shifted = xg.sub(shift);
        const shiftedMean = shifted.mean(axes, true);
        centred = shifted.sub(shiftedMean);
        variance = centred.square().mean(axes, true);
        computed = { mean: shift.add(shiftedMean).reshape([-1]), variance: variance.reshape([-1]) };
      } else {
        centred = xg.sub(statistics.mean.to(x.dtype).reshape(statShape));
        variance = statistics.variance.to(x.dtype).reshape(statShape);
      }
      const invStd = variance.add(eps).rsqrt();
      const xhat = centred.mul(invStd);
      let y = xhat.reshape(threeD);
      if (weight !== null) y = y.mul(weight.reshape(channelShape));
      if (bias !== null) y = y.add(bias.reshape(channelShape));
      return { output: y.reshape(x.shape), saved: { xhat, invStd } };
    },
    twiceDifferentiable: true,
    backward: (dy, { xhat, invStd }, needsInputGrad) => {
      // Under createGraph: the same formula recorded from x itself (xhat was saved without a graph).
      if (isGradEnabled()) {
        return recordedNormalizeBackward(dy, x, layout, weight, bias, { eps, statistics }, needsInputGrad);
      }
      const dy3 = dy.reshape(threeD);
      const xhat3 = xhat.reshape(threeD);
      const dweight = weight && needsInputGrad[1] ? dy3.mul(xhat3).sum([0, 2]).reshape(weight.shape) : null;
      const dbias =
        bias && needsInputGrad[weight === null ? 1 : 2] ? dy3.sum([0, 2]).reshape(bias.shape) : null;
      let dx: Tensor | null = null;
      if (needsInputGrad[0]) {
        const g = (weight === null ? dy3 : dy3.mul(weight.reshape(channelShape))).reshape(grouped);
        const full =
          statistics === null ? g.sub(g.mean(axes, true)).sub(xhat.mul(g.mul(xhat).mean(axes, true))) : g;
        dx = full.mul(invStd).reshape(x.shape);
      }
      return [dx, ...(weight === null ? [] : [dweight]), ...(bias === null ? [] : [dbias])];
    },
  });
  return { output: op(...inputs), statistics: computed };
};

/** The implementations, for tests that compare them: normal code calls `normalize`. */
export const normalizeImplementations = { fused: fusedNormalize, composed: composedNormalize } as const;

/**
 * Normalizes x over its layout's statistics and applies the per-channel affine:
 * `y = (x − μ)/√(σ² + eps)·weight[c] + bias[c]`, with the biased variance. Uses the backend's
 * fused kernels when it has them and composes the op from tensor ops otherwise (same result).
 * x must be contiguous-viewable as (outer, channels, inner); weight and bias have `channels`
 * elements and x's dtype.
 */
export function normalize(
  x: Tensor,
  layout: NormLayout,
  weight: Tensor | null,
  bias: Tensor | null,
  options: NormalizeOptions,
): NormalizeResult {
  for (const [name, parameter] of [
    ["weight", weight],
    ["bias", bias],
  ] as const) {
    if (parameter === null) continue;
    if (parameter.size !== layout.channels) {
      throw new RangeError(
        `${name} of shape ${formatShape(parameter.shape)} does not have one value per channel (${layout.channels})`,
      );
    }
    if (parameter.dtype !== x.dtype || parameter.device !== x.device) {
      throw new TypeError(
        `${name} is ${parameter.dtype} on ${parameter.device} but the input is ${x.dtype} on ${x.device}: ` +
          `convert one of them (e.g. module.to("${x.dtype}"))`,
      );
    }
  }
  return (canFuseNormalize(x) ? fusedNormalize : composedNormalize)(x, layout, weight, bias, options);
}
