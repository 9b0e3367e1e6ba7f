// Generates docs/pytorch.md: PyTorch's everyday names beside normgrad's, each looked up in the packages' real exports.
import { writeFileSync } from "node:fs";
import * as core from "@normgrad/core";
import * as data from "@normgrad/data";
import * as nn from "@normgrad/nn";
import * as optim from "@normgrad/optim";
import * as train from "@normgrad/train";

/** Where a normgrad name is looked up: a package's exports, nn's `F` or `init`, or the Tensor class's methods. */
type Namespace = "core" | "Tensor" | "nn" | "F" | "init" | "optim" | "data" | "train";

/** A PyTorch name, and where normgrad's differs from its camelCased last segment, the normgrad name and place. */
type Row = string | { torch: string; name: string; in?: Namespace };

interface Section {
  title: string;
  in: Namespace;
  rows: readonly Row[];
}

const NAMESPACES: { [N in Namespace]: ReadonlySet<string> } = {
  core: new Set(Object.keys(core)),
  Tensor: new Set(Object.getOwnPropertyNames(core.Tensor.prototype)),
  nn: new Set(Object.keys(nn)),
  F: new Set(Object.keys(nn.F)),
  init: new Set(Object.keys(nn.init)),
  optim: new Set(Object.keys(optim)),
  data: new Set(Object.keys(data)),
  train: new Set(Object.keys(train)),
};

const PACKAGE_OF: { [N in Namespace]: string } = {
  core: "@normgrad/core",
  Tensor: "Tensor method",
  nn: "@normgrad/nn",
  F: "@normgrad/nn `F`",
  init: "@normgrad/nn `init`",
  optim: "@normgrad/optim",
  data: "@normgrad/data",
  train: "@normgrad/train",
};

const words = (names: string): string[] => names.trim().split(/\s+/);

/** PyTorch's names by area. Missing ones stay listed: the table shows them as not yet there. */
const SECTIONS: readonly Section[] = [
  {
    title: "Creating tensors, randomness, autograd",
    in: "core",
    rows: [
      ...words(`torch.tensor torch.zeros torch.ones torch.full torch.zeros_like torch.ones_like torch.full_like
        torch.arange torch.linspace torch.eye torch.rand torch.randn torch.randint torch.randperm torch.rand_like
        torch.randn_like torch.cat torch.stack torch.where torch.matmul torch.sort torch.topk torch.argsort
        torch.einsum torch.manual_seed torch.Generator torch.no_grad torch.enable_grad torch.is_grad_enabled
        torch.autograd.grad torch.autograd.gradcheck torch.autograd.gradgradcheck torch.set_num_threads
        torch.get_num_threads torch.promote_types torch.broadcast_shapes torch.scatter torch.scatter_add
        torch.index_add torch.norm`),
      { torch: "torch.Tensor", name: "Tensor" },
      { torch: "torch.from_numpy", name: "fromValues" },
      { torch: "torch.cuda.synchronize", name: "synchronize" },
      { torch: "torch.autograd.Function", name: "defineOp" },
      { torch: "torch.linalg.vector_norm", name: "vectorNorm" },
      { torch: "torch.linalg.matrix_norm", name: "matrixNorm" },
    ],
  },
  {
    title: "Tensor methods",
    in: "Tensor",
    rows: [
      ...words(`add sub mul div pow neg abs sign exp log log1p expm1 sqrt rsqrt reciprocal square sin cos tan asin
        acos atan atan2 sinh cosh tanh sigmoid relu erf floor ceil round trunc clamp maximum minimum eq ne lt le gt
        ge logical_not logical_and logical_or logical_xor any all isnan isinf isfinite masked_fill masked_select nonzero sum
        mean prod cumsum cumprod max min argmax argmin var std logsumexp softmax log_softmax norm matmul reshape
        view view_as permute transpose squeeze unsqueeze expand flatten narrow index_select gather scatter
        scatter_add index_add flip roll repeat split chunk tril triu sort argsort topk contiguous clone detach
        requires_grad_ retain_grad register_hook backward item tolist to copy_ fill_ zero_ add_ sub_ mul_ div_
        zeros_like ones_like full_like`).map((name) => `Tensor.${name}`),
      { torch: "Tensor.numpy", name: "dataSync" },
      { torch: "Tensor.mT", name: "mT" },
      { torch: "Tensor.ndim", name: "ndim" },
    ],
  },
  {
    title: "Layers (torch.nn)",
    in: "nn",
    rows: words(`Module Parameter Sequential ModuleList ModuleDict ParameterList Identity Flatten Linear Conv1d
      Conv2d ConvTranspose2d Embedding BatchNorm1d BatchNorm2d BatchNorm3d SyncBatchNorm LayerNorm GroupNorm
      InstanceNorm1d InstanceNorm2d MaxPool1d MaxPool2d AvgPool1d AvgPool2d AdaptiveAvgPool2d AdaptiveMaxPool2d
      Upsample Dropout ReLU LeakyReLU GELU SiLU Sigmoid Tanh Softmax LogSoftmax Softplus ELU Mish Hardswish PReLU
      MultiheadAttention TransformerEncoderLayer TransformerEncoder RNN LSTM GRU RNNCell LSTMCell GRUCell`).map(
      (name) => `torch.nn.${name}`,
    ),
  },
  {
    title: "Losses (torch.nn)",
    in: "nn",
    rows: words(`MSELoss L1Loss SmoothL1Loss HuberLoss CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss
      KLDivLoss`).map((name) => `torch.nn.${name}`),
  },
  {
    title: "Functional (torch.nn.functional)",
    in: "F",
    rows: words(`linear conv1d conv2d conv_transpose2d embedding batch_norm layer_norm group_norm instance_norm
      max_pool1d max_pool2d avg_pool1d avg_pool2d adaptive_avg_pool2d adaptive_max_pool2d interpolate pad dropout
      relu leaky_relu gelu silu sigmoid tanh softmax log_softmax softplus elu mish hardswish prelu
      scaled_dot_product_attention mse_loss l1_loss smooth_l1_loss huber_loss cross_entropy nll_loss
      binary_cross_entropy binary_cross_entropy_with_logits kl_div`).map(
      (name) => `torch.nn.functional.${name}`,
    ),
  },
  {
    title: "Initialization (torch.nn.init)",
    in: "init",
    rows: words(`calculate_gain uniform_ normal_ constant_ ones_ zeros_ xavier_uniform_ xavier_normal_
      kaiming_uniform_ kaiming_normal_ trunc_normal_ orthogonal_`).map((name) => `torch.nn.init.${name}`),
  },
  {
    title: "Saving, fusing, distributing (torch.nn.utils, torch.distributed)",
    in: "nn",
    rows: [
      { torch: "torch.save", name: "save" },
      { torch: "torch.load", name: "load" },
      { torch: "torch.nn.SyncBatchNorm.convert_sync_batchnorm", name: "convertSyncBatchnorm" },
      { torch: "torch.nn.utils.fusion.fuse_conv_bn_eval", name: "fuseConvBn" },
      { torch: "torch.nn.utils.clip_grad_norm_", name: "clipGradNorm", in: "optim" },
      { torch: "torch.nn.utils.clip_grad_value_", name: "clipGradValue", in: "optim" },
      "torch.distributed.init_process_group",
      "torch.distributed.destroy_process_group",
      { torch: "torch.distributed.all_gather", name: "allGather" },
      { torch: "torch.nn.parallel.DistributedDataParallel", name: "fitDataParallel", in: "train" },
    ],
  },
  {
    title: "Optimizers and schedules (torch.optim)",
    in: "optim",
    rows: [
      ...words("SGD Adam AdamW RMSprop Adagrad Adadelta").map((name) => `torch.optim.${name}`),
      ...words(`LambdaLR StepLR MultiStepLR ExponentialLR LinearLR CosineAnnealingLR CosineAnnealingWarmRestarts
        CyclicLR OneCycleLR SequentialLR ReduceLROnPlateau`).map(
        (name) => `torch.optim.lr_scheduler.${name}`,
      ),
    ],
  },
  {
    title: "Data (torch.utils.data, torchvision)",
    in: "data",
    rows: [
      ...words("Dataset TensorDataset Subset ConcatDataset DataLoader random_split").map(
        (name) => `torch.utils.data.${name}`,
      ),
      { torch: "torchvision.datasets.MNIST", name: "loadMnist" },
      { torch: "torchvision.transforms.Normalize", name: "normalize" },
    ],
  },
];

/** `masked_fill` → `maskedFill`; a trailing underscore (in place) is kept, as normgrad's init functions keep it. */
function camelCase(torchName: string): string {
  const last = torchName.split(".").at(-1) ?? torchName;
  return last.replace(/(?<=[a-z0-9])_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** The whole page, from the exports as they are now. */
export function pytorchTable(): string {
  const listed = new Map<Namespace, Set<string>>();
  const lines = [
    "# normgrad beside PyTorch",
    "",
    "<!-- generated by `pnpm docs:pytorch` (docs/pytorch-table.ts) from the packages' exports; a test fails when it is stale -->",
    "",
    "What a PyTorch user reaches for, and its normgrad name. Names follow PyTorch's in camelCase",
    "(`masked_fill` → `maskedFill`), with PyTorch's semantics and defaults; ✓ means the name is",
    "exported today, — that it is not there yet. Differences in detail are in each export's TSDoc.",
    "",
  ];
  let present = 0;
  let total = 0;
  for (const section of SECTIONS) {
    lines.push(`## ${section.title}`, "", "| PyTorch | normgrad | where | |", "|---|---|---|---|");
    for (const row of section.rows) {
      const {
        torch,
        name,
        in: where,
      } = typeof row === "string"
        ? { torch: row, name: camelCase(row), in: section.in }
        : { in: section.in, ...row };
      const exists = NAMESPACES[where].has(name);
      if (exists) listed.set(where, (listed.get(where) ?? new Set()).add(name));
      present += exists ? 1 : 0;
      total++;
      lines.push(`| \`${torch}\` | \`${name}\` | ${PACKAGE_OF[where]} | ${exists ? "✓" : "—"} |`);
    }
    lines.push("");
  }
  lines.push(
    `${present} of the ${total} PyTorch names above are in normgrad.`,
    "",
    "## normgrad's own exports",
    "",
    "Exports with no row above: normgrad's own tools (fused kernels, the backend interface, the",
    "BatchNorm-study helpers, formatting), or PyTorch internals exposed under a plain name.",
    "",
  );
  for (const where of ["core", "nn", "optim", "data", "train"] as const) {
    const own = [...NAMESPACES[where]].filter(
      (name) => !listed.get(where)?.has(name) && name !== "F" && name !== "init",
    );
    lines.push(
      `- ${PACKAGE_OF[where]}: ${own
        .sort()
        .map((name) => `\`${name}\``)
        .join(", ")}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  writeFileSync(new URL("pytorch.md", import.meta.url), pytorchTable());
}
