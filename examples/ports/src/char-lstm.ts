// A character-level LSTM language model on a small bundled text: the PyTorch pattern Embedding → LSTM → Linear.
import { readFileSync } from "node:fs";
import { manualSeed, noGrad, type Tensor, tensor } from "@normgrad/core";
import { CrossEntropyLoss, Embedding, Linear, LSTM, Module } from "@normgrad/nn";
import { Adam } from "@normgrad/optim";

/** The bundled text: about 4,400 characters of plain English (written for normgrad) on normalization. */
export const CHAR_TEXT_URL = new URL("../data/normalization-notes.txt", import.meta.url);

/** Embedding(vocabulary, 32) → one-layer LSTM(32, hidden) over batch-first sequences → Linear(hidden, vocabulary). */
export class CharLstm extends Module {
  embedding: Embedding;
  lstm: LSTM;
  head: Linear;

  constructor(vocabularySize: number, hiddenSize = 128) {
    super();
    this.embedding = new Embedding(vocabularySize, 32);
    this.lstm = new LSTM(32, hiddenSize, { batchFirst: true });
    this.head = new Linear(hiddenSize, vocabularySize);
  }

  /** (N, T) int32 character ids → (N, T, vocabulary) logits of the next character. */
  forward(ids: Tensor): Tensor {
    const [hidden] = this.lstm.forward(this.embedding.forward(ids));
    return this.head.forward(hidden);
  }
}

/** Options of {@link charLstm}; the defaults are the ones the README's comparison with PyTorch uses. */
export interface CharLstmOptions {
  /** Adam steps. Default 300. */
  steps?: number;
  /** Sequences per batch. Default 32. */
  batchSize?: number;
  /** Characters per sequence. Default 64. */
  sequenceLength?: number;
  /** Adam's learning rate. Default 0.002. */
  lr?: number;
  /** Default 128. */
  hiddenSize?: number;
  /** Seeds the initialization. Default 1. */
  seed?: number;
  /** Steps between progress lines (and validation losses). Default 50. */
  logInterval?: number;
  /** Receives the progress lines. Default: none. */
  log?: (line: string) => void;
}

/** The losses the run measured (mean cross-entropy in nats per character) and a greedy continuation. */
export interface CharLstmResult {
  trainLosses: { step: number; loss: number }[];
  validationLosses: { step: number; loss: number }[];
  sample: string;
}

/**
 * Batch b of step s starts at `(s·7919 + b·104729) mod (n − T − 1)` of the training text: a fixed
 * order that the PyTorch reference script (reference/char_lstm_reference.py) reproduces, so both
 * see the same data in the same steps.
 */
export function batchOffsets(
  step: number,
  batchSize: number,
  textLength: number,
  sequenceLength: number,
): number[] {
  const span = textLength - sequenceLength - 1;
  return Array.from({ length: batchSize }, (_, b) => (step * 7919 + b * 104729) % span);
}

/** Trains {@link CharLstm} on the first 90% of the bundled text, validating on the rest. */
export function charLstm(options: CharLstmOptions = {}): CharLstmResult {
  const {
    steps = 300,
    batchSize = 32,
    sequenceLength = 64,
    lr = 0.002,
    hiddenSize = 128,
    seed = 1,
  } = options;
  const { logInterval = 50 } = options;
  const log = options.log ?? (() => {});
  const text = readFileSync(CHAR_TEXT_URL, "utf8");
  const vocabulary = [...new Set(text)].sort();
  const ids = Array.from(text, (character) => vocabulary.indexOf(character));
  const split = Math.floor(0.9 * ids.length);
  const [train, validation] = [ids.slice(0, split), ids.slice(split)];

  manualSeed(seed);
  const model = new CharLstm(vocabulary.length, hiddenSize);
  const optimizer = new Adam(model.parameters(), { lr });
  const lossFn = new CrossEntropyLoss();
  const lossOf = (windows: number[][]): Tensor => {
    const batch = tensor(windows, { dtype: "int32" });
    const logits = model.forward(batch.narrow(1, 0, sequenceLength));
    return lossFn.forward(
      logits.reshape([-1, vocabulary.length]),
      batch.narrow(1, 1, sequenceLength).reshape([-1]),
    );
  };
  const result: CharLstmResult = { trainLosses: [], validationLosses: [], sample: "" };
  for (let step = 1; step <= steps; step++) {
    model.train();
    const offsets = batchOffsets(step, batchSize, train.length, sequenceLength);
    const loss = lossOf(offsets.map((start) => train.slice(start, start + sequenceLength + 1)));
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    result.trainLosses.push({ step, loss: loss.item() });
    if (step % logInterval === 0 || step === steps) {
      model.eval();
      const windows: number[][] = [];
      for (let start = 0; start + sequenceLength + 1 <= validation.length; start += sequenceLength) {
        windows.push(validation.slice(start, start + sequenceLength + 1));
      }
      const validationLoss = noGrad(() => lossOf(windows).item());
      result.validationLosses.push({ step, loss: validationLoss });
      log(`step ${step}: train loss ${loss.item().toFixed(3)}, validation loss ${validationLoss.toFixed(3)}`);
    }
  }
  result.sample = greedyContinuation(model, vocabulary, "The ", 120);
  log(`greedy continuation: ${JSON.stringify(result.sample)}`);
  return result;
}

/** Extends `prompt` one most-likely character at a time, feeding the whole text so far. */
function greedyContinuation(model: CharLstm, vocabulary: string[], prompt: string, length: number): string {
  model.eval();
  let text = prompt;
  noGrad(() => {
    for (let i = 0; i < length; i++) {
      const ids = tensor([Array.from(text, (character) => vocabulary.indexOf(character))], {
        dtype: "int32",
      });
      const next = model
        .forward(ids)
        .narrow(1, text.length - 1, 1)
        .reshape([-1])
        .argmax(0)
        .item();
      text += vocabulary[next];
    }
  });
  return text;
}
