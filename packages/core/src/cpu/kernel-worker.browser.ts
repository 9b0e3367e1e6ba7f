// Browsers: kernel Web Workers from a Blob URL, navigator.hardwareConcurrency, and where blocking waits are refused.
import type {
  availableCores as availableCoresInNode,
  blockingWaitUnavailableReason as blockingWaitUnavailableReasonInNode,
  spawnKernelWorker as spawnKernelWorkerInNode,
  threadCountSetting as threadCountSettingInNode,
} from "./kernel-worker.node.ts";

/** The part of the Web Worker API used here (TypeScript declares it only in lib.dom, which core leaves out). */
interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: "error", listener: (event: { readonly message?: string }) => void): void;
}
type WebWorkerConstructor = new (url: string) => WebWorker;
interface BlobUrls {
  createObjectURL(blob: object): string;
}
type BlobConstructor = new (parts: string[], options: { type: string }) => object;

function isConstructor<T>(value: unknown): value is T {
  return typeof value === "function";
}

function isBlobUrls(value: unknown): value is BlobUrls {
  return (
    typeof value === "function" && "createObjectURL" in value && typeof value.createObjectURL === "function"
  );
}

/** Starts a Web Worker running `program` from a Blob URL (no file for a bundler to find) and hands it `init`. */
export const spawnKernelWorker: typeof spawnKernelWorkerInNode = (program, init, onError) => {
  const WorkerClass: unknown = Reflect.get(globalThis, "Worker");
  const BlobClass: unknown = Reflect.get(globalThis, "Blob");
  const urls: unknown = Reflect.get(globalThis, "URL");
  if (
    !isConstructor<WebWorkerConstructor>(WorkerClass) ||
    !isConstructor<BlobConstructor>(BlobClass) ||
    !isBlobUrls(urls)
  ) {
    throw new Error("kernel workers need Worker, Blob and URL.createObjectURL, which this context lacks");
  }
  const source = `${program}\nself.onmessage = (event) => start(event.data);\n`;
  const url = urls.createObjectURL(new BlobClass([source], { type: "text/javascript" }));
  const worker = new WorkerClass(url);
  worker.addEventListener("error", (event) => onError(event.message ?? "a kernel worker failed to start"));
  worker.postMessage(init);
  return { terminate: () => worker.terminate() };
};

/** `navigator.hardwareConcurrency`, or 1 where it is missing. */
export const availableCores: typeof availableCoresInNode = () => {
  const navigator: unknown = Reflect.get(globalThis, "navigator");
  const cores: unknown =
    typeof navigator === "object" && navigator !== null
      ? Reflect.get(navigator, "hardwareConcurrency")
      : undefined;
  return typeof cores === "number" && Number.isInteger(cores) && cores >= 1 ? cores : 1;
};

/** Browsers have no environment variables: threads are set with `setNumThreads`. */
export const threadCountSetting: typeof threadCountSettingInNode = () => undefined;

/**
 * Why this context cannot drive kernel workers, or undefined: a browser's main thread may not
 * block (`Atomics.wait` throws there), and Web Workers may be missing (a worklet, an old engine).
 */
export const blockingWaitUnavailableReason: typeof blockingWaitUnavailableReasonInNode = () => {
  if (typeof Reflect.get(globalThis, "Worker") !== "function") return "Web Workers are unavailable here";
  if (typeof SharedArrayBuffer === "undefined") return undefined; // createSharedMemory gives the reason
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return undefined;
  } catch {
    return "a browser's main thread cannot block in Atomics.wait: run normgrad in a Web Worker for threads";
  }
};
