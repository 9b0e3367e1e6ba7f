// Appended by consumers.test.ts to the README's training snippet (which defines `model` and `transform`):
// evaluates, reloads the saved weights into a fresh model and runs gradcheck, all in plain Node.
import * as ng from "normgrad";

const testSet = ng.loadMnist({ split: "test", transform });
const logits = ng.noGrad(() => model.forward(testSet.images));
const accuracy = logits.argmax(1).eq(testSet.labels).to("float32").mean().item();

const reloaded = new ng.Sequential(
  new ng.Flatten(),
  new ng.Linear(784, 128),
  new ng.BatchNorm1d(128),
  new ng.ReLU(),
  new ng.Linear(128, 10),
);
reloaded.loadStateDict(await ng.load("mlp.safetensors"));
reloaded.eval();
const reloadMaxDifference = ng.noGrad(() => reloaded.forward(testSet.images).sub(logits).abs().max().item());

const a = ng.randn([3, 4], { dtype: "float64", requiresGrad: true });
// gradcheck throws naming the worst element when a gradient is wrong.
const gradcheckReports = ng.gradcheck((x) => x.tanh().logSoftmax(1), [a]).length;

// The GPU.js backend from the installed package, in the mode that needs nothing native.
const { initGpu } = await import("normgrad/gpu");
const { mode: gpuMode } = await initGpu({ mode: "webasm" });
const onGpu = ng.noGrad(() => model.to("gpu").forward(testSet.images.to("gpu")));
const gpuMaxDifference = (await onGpu.to("cpu").sub(logits).abs().max().data())[0];

console.log(JSON.stringify({ accuracy, reloadMaxDifference, gradcheckReports, gpuMode, gpuMaxDifference }));
