// Gradient clipping: by the total norm of all gradients, or elementwise by value (torch.nn.utils.clip_grad_*).
import { checkValues, noGrad, Tensor, tensor, tidy, where } from "@normgrad/core";

/** Options of `clipGradNorm`. */
export interface ClipGradNormOptions {
  /** The p of the p-norm (default 2; `Infinity` for the max-norm). */
  normType?: number;
  /** Throw when the total norm is NaN or infinite instead of scaling by it (default false, as PyTorch). */
  errorIfNonfinite?: boolean;
}

function gradsOf(parameters: Tensor | Iterable<Tensor>): Tensor[] {
  const params = parameters instanceof Tensor ? [parameters] : [...parameters];
  return params.flatMap((param) => (param.grad === null ? [] : [param.grad]));
}

/**
 * Scales the gradients in place so that their total norm is at most `maxNorm`, and returns the
 * total norm before clipping as a one-element tensor on the gradients' device (as
 * `torch.nn.utils.clip_grad_norm_`; read it with `item()` or `await data()`). The total norm treats
 * all gradients as one vector: `‖g‖ₚ = (Σ |gᵢ|ᵖ)^(1/p)` (the largest |gᵢ| for p = ∞); each
 * gradient is multiplied by `min(1, maxNorm / (‖g‖ + 1e-6))`, computed on the device so nothing
 * is read back. Parameters without a gradient are skipped; with none, the norm is 0.
 */
export function clipGradNorm(
  parameters: Tensor | Iterable<Tensor>,
  maxNorm: number,
  { normType = 2, errorIfNonfinite = false }: ClipGradNormOptions = {},
): Tensor {
  if (!(maxNorm >= 0)) throw new RangeError(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}`);
  if (!(normType > 0)) {
    throw new RangeError(`clipGradNorm: normType must be > 0 (or Infinity), got ${normType}`);
  }
  const grads = gradsOf(parameters);
  if (grads.length === 0) return tensor(0);
  return noGrad(() =>
    tidy(() => {
      const totalNorm =
        normType === Number.POSITIVE_INFINITY
          ? grads.map((g) => g.abs().max()).reduce((a, b) => a.maximum(b))
          : grads
              .map((g) => g.abs().pow(normType).sum())
              .reduce((a, b) => a.add(b))
              .pow(1 / normType);
      if (errorIfNonfinite) {
        checkValues(
          [totalNorm],
          ([[norm]]) =>
            Number.isFinite(norm)
              ? null
              : new Error(
                  `clipGradNorm: the total norm of order ${normType} of the gradients is ${norm}, so they cannot ` +
                    "be clipped; pass errorIfNonfinite: false to scale them anyway",
                ),
          // x − x is 0 exactly when x is finite.
          () => where(totalNorm.sub(totalNorm).eq(0), 0, 1),
        );
      }
      const scale = totalNorm.add(1e-6).reciprocal().mul(maxNorm).minimum(1);
      for (const g of grads) g.mul_(scale);
      return totalNorm;
    }),
  );
}

/** Clamps every gradient element into [−clipValue, clipValue] in place. */
export function clipGradValue(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  if (!(clipValue >= 0)) throw new RangeError(`clipGradValue: clipValue must be >= 0, got ${clipValue}`);
  noGrad(() =>
    tidy(() => {
      for (const g of gradsOf(parameters)) g.copy_(g.clamp(-clipValue, clipValue));
    }),
  );
}
