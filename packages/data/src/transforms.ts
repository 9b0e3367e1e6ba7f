// Transforms applied to a whole image tensor: normalize, and MNIST's standard statistics.
import type { Tensor } from "@normgrad/core";

/** A function from a batch of images to transformed images. */
export type Transform = (images: Tensor) => Tensor;

/** Mean pixel value of the official MNIST training set (images scaled to [0, 1]). */
export const MNIST_MEAN = 0.1307;

/** Standard deviation of the official MNIST training set's pixels (images scaled to [0, 1]). */
export const MNIST_STD = 0.3081;

/** `x ↦ (x − mean)/std` (torchvision's `Normalize` with one channel). */
export function normalize(mean: number, std: number): Transform {
  if (!Number.isFinite(mean)) throw new RangeError(`normalize: mean must be finite, got ${mean}`);
  if (!(std > 0) || !Number.isFinite(std)) {
    throw new RangeError(`normalize: std must be a finite number > 0, got ${std}`);
  }
  return (images) => images.sub(mean).div(std);
}
