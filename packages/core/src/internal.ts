// @normgrad/core/internal: the unchecked layer kernels the other normgrad packages validate and wrap; no stability promise.

/**
 * The normalization backward in recorded tensor ops, which nn's composed normalize runs under
 * `createGraph` as the fused one does (formula in its TSDoc).
 */
export { recordedNormalizeBackward } from "./fused.ts";
/**
 * The conv2d, maxPool2d and avgPool2d primitives. They trust their params (output size, padding,
 * channel and group counts already checked against the shapes), so they are not in the public
 * index: use `F.conv2d`, `F.maxPool2d`, `F.avgPool2d` or the layers of `@normgrad/nn`, which
 * check their arguments and then call these.
 */
/** The layer primitives' gradients as ops of their own (differentiable again, for double backward). */
export {
  avgPool2d,
  avgPool2dBackward,
  conv2d,
  conv2dInputGrad,
  conv2dWeightGrad,
  maxPool2d,
} from "./primitives.ts";
