// @normgrad/example-ports: ports of PyTorch code, run with normgrad, for the CLI and the smoke tests.

export type { CharLstmOptions, CharLstmResult } from "./char-lstm.ts";
export { batchOffsets, CHAR_TEXT_URL, CharLstm, charLstm } from "./char-lstm.ts";
export type { MnistPortOptions, MnistPortResult } from "./mnist-port.ts";
export { MnistNet, mnistPort } from "./mnist-port.ts";
