// Gradient clipping: by the total norm of all gradients, or elementwise by value (torch.nn.utils.clip_grad_*).
import { noGrad, Tensor, tidy } from "@normgrad/core";

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
 * total norm before clipping. The total norm treats all gradients as one vector:
 * `‖g‖ₚ = (Σ |gᵢ|ᵖ)^(1/p)` (the largest |gᵢ| for p = ∞); each gradient is multiplied by
 * `min(1, maxNorm / (‖g‖ + 1e-6))`. Parameters without a gradient are skipped.
 */
export function clipGradNorm(
  parameters: Tensor | Iterable<Tensor>,
  maxNorm: number,
  { normType = 2, errorIfNonfinite = false }: ClipGradNormOptions = {},
): number {
  if (!(maxNorm >= 0)) throw new RangeError(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}`);
  if (!(normType > 0)) {
    throw new RangeError(`clipGradNorm: normType must be > 0 (or Infinity), got ${normType}`);
  }
  const grads = gradsOf(parameters);
  if (grads.length === 0) return 0;
  const totalNorm = noGrad(() =>
    tidy(() => {
      if (normType === Number.POSITIVE_INFINITY) {
        return Math.max(...grads.map((g) => g.abs().max().item()));
      }
      const powerSum = grads.reduce((sum, g) => sum + g.abs().pow(normType).sum().item(), 0);
      return powerSum ** (1 / normType);
    }),
  );
  if (errorIfNonfinite && !Number.isFinite(totalNorm)) {
    throw new Error(
      `clipGradNorm: the total norm of order ${normType} of the gradients is ${totalNorm}, so they cannot be ` +
        "clipped; pass errorIfNonfinite: false to scale them anyway",
    );
  }
  const scale = maxNorm / (totalNorm + 1e-6);
  if (scale < 1) {
    noGrad(() =>
      tidy(() => {
        for (const g of grads) g.mul_(scale);
      }),
    );
  }
  return totalNorm;
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
