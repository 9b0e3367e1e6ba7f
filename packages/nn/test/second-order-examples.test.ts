// The two worked second-order examples of docs/autograd.md as tests: an MLP loss's Hessian-vector product, and a WGAN-GP gradient penalty.
import {
  enableGrad,
  grad,
  gradcheck,
  manualSeed,
  noGrad,
  rand,
  randint,
  randn,
  type Tensor,
} from "@normgrad/core";
import "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { F, LayerNorm, LeakyReLU, Linear, Sequential, Tanh } from "../src/index.ts";

describe("second-order worked examples (float64)", () => {
  it("an MLP loss's Hessian-vector product equals central differences of its gradient along v", () => {
    manualSeed(3);
    const model = new Sequential(new Linear(4, 8), new Tanh(), new Linear(8, 3)).to("float64");
    const x = randn([16, 4], { dtype: "float64" });
    const labels = randint(0, 3, [16]);
    const params = [...model.parameters()];
    const loss = () => F.crossEntropy(model.forward(x), labels);
    const v = params.map((p) => randn(p.shape, { dtype: "float64" }));
    const gradients = grad([loss()], params, { createGraph: true });
    const gv = gradients.map((g, i) => (g as Tensor).mul(v[i]).sum()).reduce((sum, term) => sum.add(term));
    const hv = grad([gv], params);
    const eps = 1e-5;
    const gradientAt = (sign: number) => {
      const shift = (by: number) =>
        noGrad(() => {
          for (const [i, p] of params.entries()) p.add_(v[i].mul(by));
        });
      shift(sign * eps);
      const g = grad([loss()], params);
      shift(-sign * eps);
      return g;
    };
    const [plus, minus] = [gradientAt(1), gradientAt(-1)];
    hv.forEach((h, i) => {
      const numeric = noGrad(() => (plus[i] as Tensor).sub(minus[i] as Tensor).div(2 * eps));
      expect(h, `parameter ${i}`).toBeAllclose(numeric, { rtol: 1e-6, atol: 1e-8 });
    });
    for (const p of params) expect(p.grad).toBeNull();
  });

  it("a WGAN-GP penalty on a LayerNorm critic: its gradient w.r.t. the critic's weights passes gradcheck", () => {
    manualSeed(4);
    const critic = new Sequential(
      new Linear(2, 6),
      new LayerNorm([6]),
      new LeakyReLU(0.2),
      new Linear(6, 1),
    ).to("float64");
    const between = rand([5, 2], { dtype: "float64" });
    const first = critic.at(0);
    if (!(first instanceof Linear)) throw new Error("the critic starts with a Linear");
    // The penalty as a function of the first layer's weight, which gradcheck perturbs (and
    // evaluates under noGrad: the inner gradient needs recording regardless, hence enableGrad).
    const penalty = (weight: Tensor) =>
      enableGrad(() => {
        const point = between.detach().requiresGrad_();
        const h = F.linear(point, weight, first.bias);
        const score = [...critic].slice(1).reduce((y, layer) => layer.forward(y), h);
        const [gradient] = grad([score.sum()], [point], { createGraph: true });
        return (gradient as Tensor).square().sum(1).sqrt().sub(1).square().mean();
      });
    const weight = first.weight.detach().clone().requiresGrad_();
    const [report] = gradcheck(penalty, [weight]);
    expect(report.maxAbsError).toBeLessThan(1e-6);
  });
});
