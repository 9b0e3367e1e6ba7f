// normgrad/gpu: the GPU.js backend for device "gpu" (`await initGpu()`, then `.to("gpu")`).
export * from "@normgrad/gpu";
