// einsum: an equation parsed into labels, diagonals for repeated labels, then pairwise contractions through batched matmul.

import { eye } from "./creation.ts";
import { formatValue } from "./format.ts";
import { formatShape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** An operand with one label per axis: letters as char codes, ellipsis axes as negative numbers. */
interface Labeled {
  tensor: Tensor;
  labels: number[];
}

/** Splits one term ("ij", "b...k") into labels, the ellipsis standing for `ellipsisRank` axes labeled −1, −2, … from the right. */
function parseTerm(term: string, ellipsisRank: number, equation: string): number[] {
  const parts = term.split("...");
  if (parts.length > 2) throw new SyntaxError(`einsum: more than one ellipsis in "${term}" of "${equation}"`);
  const letters = (text: string) =>
    Array.from(text, (character) => {
      if (!/[a-zA-Z]/.test(character)) {
        throw new SyntaxError(
          `einsum: invalid subscript ${formatValue(character)} in "${equation}": use letters a-z, A-Z`,
        );
      }
      return character.charCodeAt(0);
    });
  if (parts.length === 1) return letters(term);
  const ellipsis = Array.from({ length: ellipsisRank }, (_, i) => -(ellipsisRank - i));
  return [...letters(parts[0]), ...ellipsis, ...letters(parts[1])];
}

/** Sums away the axes of labels no later use needs, and merges a repeated label into one axis (its diagonal). */
function reduceLabels({ tensor, labels }: Labeled, needed: ReadonlySet<number>): Labeled {
  let x = tensor;
  let current = [...labels];
  for (let axis = 0; axis < current.length; axis++) {
    const again = current.indexOf(current[axis], axis + 1);
    if (again < 0) continue;
    // x[…i…i…] → the diagonal: multiply by eye over the two axes, sum the second away.
    const n = x.shape[axis];
    const eyeShape = x.shape.map((_, d) => (d === axis || d === again ? n : 1));
    x = x.mul(eye(n, n, { dtype: x.dtype, device: x.device }).reshape(eyeShape)).sum(again);
    current.splice(again, 1);
    axis--;
  }
  const unused = current.map((label, axis) => (needed.has(label) ? -1 : axis)).filter((axis) => axis >= 0);
  if (unused.length > 0) {
    x = x.sum(unused);
    current = current.filter((label) => needed.has(label));
  }
  return { tensor: x, labels: current };
}

/** Contracts two operands over their shared labels not in `keep`, as one batched matmul. */
function contract(a: Labeled, b: Labeled, keep: ReadonlySet<number>): Labeled {
  const inB = new Set(b.labels);
  const inA = new Set(a.labels);
  const batch = a.labels.filter((label) => inB.has(label) && keep.has(label));
  const summed = a.labels.filter((label) => inB.has(label) && !keep.has(label));
  const onlyA = a.labels.filter((label) => !inB.has(label));
  const onlyB = b.labels.filter((label) => !inA.has(label));
  const size = (label: number) =>
    Math.max(a.tensor.shape[a.labels.indexOf(label)] ?? 1, b.tensor.shape[b.labels.indexOf(label)] ?? 1);
  const arrange = ({ tensor, labels }: Labeled, order: number[]) =>
    tensor.permute(...order.map((label) => labels.indexOf(label))).expand(order.map(size));
  const product = (labels: number[]) => labels.reduce((total, label) => total * size(label), 1);
  const left = arrange(a, [...batch, ...onlyA, ...summed]).reshape([
    product(batch),
    product(onlyA),
    product(summed),
  ]);
  const right = arrange(b, [...batch, ...summed, ...onlyB]).reshape([
    product(batch),
    product(summed),
    product(onlyB),
  ]);
  const labels = [...batch, ...onlyA, ...onlyB];
  return { tensor: left.matmul(right).reshape(labels.map(size)), labels };
}

/**
 * Einstein summation, as `torch.einsum`: `einsum("ij,jk->ik", a, b)` is a·b, `"bij,bjk->bik"`
 * batched, `"i,j->ij"` the outer product, `"ii->"` the trace, `"ii->i"` the diagonal,
 * `"bhqd,bhkd->bhqk"` attention scores, `"...ij,...jk->...ik"` with broadcast leading axes.
 * Without `->` the output has the labels used once, in alphabetical order, after the ellipsis
 * axes. Operands are contracted left to right, each pair as one batched matmul; gradients come
 * from the composed ops.
 */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  const text = equation.replaceAll(" ", "");
  const [lhs, rhs, extra] = text.split("->");
  if (extra !== undefined) throw new SyntaxError(`einsum: more than one "->" in "${equation}"`);
  const terms = lhs.split(",");
  if (terms.length !== operands.length) {
    throw new RangeError(
      `einsum: "${equation}" has ${terms.length} operand(s), but ${operands.length} tensor(s) were given`,
    );
  }
  const inputs = terms.map((term, i): Labeled => {
    const tensor = operands[i];
    const explicit = term.replace("...", "").length;
    const ellipsisRank = term.includes("...") ? tensor.ndim - explicit : 0;
    const labels = parseTerm(term, Math.max(0, ellipsisRank), equation);
    if (labels.length !== tensor.ndim) {
      throw new RangeError(
        `einsum: subscripts "${term}" name ${labels.length} dims, but operand ${i} has shape ${formatShape(tensor.shape)}`,
      );
    }
    return { tensor, labels };
  });
  const sizes = new Map<number, number>();
  // Where each label's size was first seen, for the error.
  const firstSeen = new Map<number, number>();
  inputs.forEach(({ tensor, labels }, operand) => {
    labels.forEach((label, axis) => {
      const size = tensor.shape[axis];
      const seen = sizes.get(label);
      // Ellipsis axes broadcast (size 1 against n); letters must agree exactly.
      if (seen !== undefined && seen !== size && (label > 0 || (seen !== 1 && size !== 1))) {
        const name = label > 0 ? `subscript "${String.fromCharCode(label)}"` : `the ellipsis's dim ${label}`;
        throw new RangeError(
          `einsum: ${name} has size ${seen} in operand ${firstSeen.get(label)} and ${size} in operand ${operand}`,
        );
      }
      sizes.set(label, Math.max(seen ?? 1, size));
      if (!firstSeen.has(label)) firstSeen.set(label, operand);
    });
  });
  const ellipsisRank = Math.max(0, ...inputs.map(({ labels }) => labels.filter((label) => label < 0).length));
  const counts = new Map<number, number>();
  for (const { labels } of inputs)
    for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  const output =
    rhs === undefined
      ? [
          ...Array.from({ length: ellipsisRank }, (_, i) => -(ellipsisRank - i)),
          ...[...counts]
            .filter(([label, count]) => label > 0 && count === 1)
            .map(([label]) => label)
            .sort((x, y) => x - y),
        ]
      : parseTerm(rhs, ellipsisRank, equation);
  for (const label of output) {
    if (!sizes.has(label))
      throw new RangeError(
        `einsum: output subscript "${String.fromCharCode(label)}" is in no input of "${equation}"`,
      );
    if (output.indexOf(label) !== output.lastIndexOf(label)) {
      throw new RangeError(
        `einsum: output subscript "${String.fromCharCode(label)}" appears twice in "${equation}"`,
      );
    }
  }
  // Left to right: each step keeps the labels the output or a later operand still needs.
  const neededAfter = (i: number) =>
    new Set([...output, ...inputs.slice(i + 1).flatMap(({ labels }) => labels)]);
  let result = reduceLabels(inputs[0], new Set([...neededAfter(0), ...(inputs[1]?.labels ?? [])]));
  for (let i = 1; i < inputs.length; i++) {
    const keep = neededAfter(i);
    const next = reduceLabels(inputs[i], new Set([...keep, ...result.labels]));
    result = reduceLabels(result, new Set([...keep, ...next.labels]));
    result = reduceLabels(contract(result, next, keep), keep);
  }
  result = reduceLabels(result, new Set(output));
  // Ellipsis axes an operand lacked (broadcast from fewer dims) still belong in the output.
  const missing = output.filter((label) => !result.labels.includes(label));
  let tensor = result.tensor;
  for (const _ of missing) tensor = tensor.unsqueeze(0);
  const labels = [...missing, ...result.labels];
  return tensor.permute(...output.map((label) => labels.indexOf(label)));
}
