// normgrad: the whole framework in one import — core, nn, optim, data and train (the GPU.js backend is `normgrad/gpu`).
export * from "@normgrad/core";
export * from "@normgrad/data";
export * from "@normgrad/nn";
export * from "@normgrad/optim";
export * from "@normgrad/train";
