"""PyTorch reference for the character-level LSTM port: the same text, split, vocabulary, model,
optimizer and batch order (batchOffsets in src/char-lstm.ts). Prints a JSON line with the training
losses and the validation losses every 50 steps.
Run from the repository root: /usr/bin/python3 examples/ports/reference/char_lstm_reference.py"""
import argparse
import json
from pathlib import Path

import torch
from torch import nn

torch.set_num_threads(1)
TEXT = Path(__file__).resolve().parent.parent / "data" / "normalization-notes.txt"


class CharLstm(nn.Module):
    def __init__(self, vocabulary_size, hidden_size=128):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, 32)
        self.lstm = nn.LSTM(32, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocabulary_size)

    def forward(self, ids):
        hidden, _ = self.lstm(self.embedding(ids))
        return self.head(hidden)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    batch_size, sequence_length, log_interval = 32, 64, 50
    text = TEXT.read_text()
    vocabulary = sorted(set(text))
    ids = [vocabulary.index(c) for c in text]
    split = int(0.9 * len(ids))
    train, validation = ids[:split], ids[split:]
    torch.manual_seed(args.seed)
    model = CharLstm(len(vocabulary))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.002)
    loss_fn = nn.CrossEntropyLoss()

    def loss_of(windows):
        batch = torch.tensor(windows)
        logits = model(batch[:, :sequence_length])
        return loss_fn(logits.reshape(-1, len(vocabulary)), batch[:, 1:].reshape(-1))

    span = len(train) - sequence_length - 1
    train_losses, validation_losses = [], []
    for step in range(1, args.steps + 1):
        model.train()
        offsets = [(step * 7919 + b * 104729) % span for b in range(batch_size)]
        loss = loss_of([train[s : s + sequence_length + 1] for s in offsets])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        train_losses.append({"step": step, "loss": loss.item()})
        if step % log_interval == 0 or step == args.steps:
            model.eval()
            windows = [
                validation[s : s + sequence_length + 1]
                for s in range(0, len(validation) - sequence_length, sequence_length)
            ]
            with torch.no_grad():
                validation_losses.append({"step": step, "loss": loss_of(windows).item()})
    print(json.dumps({"source": f"PyTorch {torch.__version__}", "trainLosses": train_losses,
                      "validationLosses": validation_losses}))


if __name__ == "__main__":
    main()
