// Memory: tidy, keep, dispose and Symbol.dispose, checked exactly with the CPU backend's live-buffer count.
import { seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { keep, liveBuffers, type Tensor, tensor, tidy, zeros } from "../src/index.ts";

describe("tidy", () => {
  it("frees everything a forward + backward step made, except the gradients kept on the leaves", () => {
    const weight = seeded([3, 2], 1);
    const bias = seeded([2], 2);
    const input = seeded([4, 3], 3, { requiresGrad: false });
    const step = () =>
      tidy(() => {
        const loss = input.matmul(weight).add(bias).relu().square().mean();
        loss.backward();
      });
    const start = liveBuffers();
    step();
    expect(liveBuffers()).toBe(start + 2);
    // A second step adds into .grad: the old gradient buffers are freed, the new ones kept.
    step();
    expect(liveBuffers()).toBe(start + 2);
    for (const parameter of [weight, bias]) {
      parameter.grad!.dispose();
      parameter.grad = null;
    }
    expect(liveBuffers()).toBe(start);
  });

  it("keeps what the callback returns (also inside arrays and objects) and moves it to the enclosing scope", () => {
    const start = liveBuffers();
    const outer = tidy(() => {
      const inner = tidy(() => {
        const a = zeros([2]).add(1);
        return { a, pair: [a.mul(2), 3] };
      });
      expect(liveBuffers()).toBe(start + 2);
      expect(inner.a.tolist()).toEqual([1, 1]);
      return inner.pair[0];
    });
    expect(liveBuffers()).toBe(start + 1);
    expect(outer).toBeDefined();
    if (typeof outer === "number") throw new Error("tidy returned the number instead of the tensor");
    expect(outer.tolist()).toEqual([2, 2]);
    outer.dispose();
    expect(liveBuffers()).toBe(start);
  });

  // A returned Map used to be walked as a plain object (no own properties), so its tensors were
  // disposed on the way out.
  it("keeps the tensors of a returned Map (keys and values) and Set", () => {
    const start = liveBuffers();
    const { map, set } = tidy(() => {
      const key = zeros([1]);
      zeros([5]).add(1);
      const map = new Map<string | Tensor, Tensor>([["a", zeros([2]).add(1)]]).set(key, key.add(2));
      return { map, set: new Set([zeros([3])]) };
    });
    expect(liveBuffers()).toBe(start + 4);
    expect([...map.values()].map((t) => t.tolist())).toEqual([[1, 1], [2]]);
    for (const t of [...map.keys(), ...map.values(), ...set]) if (typeof t !== "string") t.dispose();
    expect(liveBuffers()).toBe(start);
  });

  it("refuses an async callback, disposing what it made before its first await", async () => {
    const start = liveBuffers();
    let resumed = false;
    const asyncStep = async (): Promise<void> => {
      zeros([2]).add(1);
      await Promise.resolve();
      resumed = true;
    };
    // What JavaScript (or a cast) can pass: the compiler refuses a Promise-returning callback.
    expect(() => Reflect.apply(tidy, undefined, [asyncStep])).toThrow(
      "tidy(fn): fn returned a Promise, but tidy is synchronous",
    );
    expect(liveBuffers()).toBe(start);
    await Promise.resolve();
    expect(resumed).toBe(true);
  });

  it("spares tensors passed to keep", () => {
    const start = liveBuffers();
    const kept = tidy(() => {
      keep(zeros([3]).add(5));
      return keep(zeros([1]));
    });
    expect(liveBuffers()).toBe(start + 2);
    kept.dispose();
    expect(liveBuffers()).toBe(start + 1);
  });

  it("disposes its tensors when the callback throws", () => {
    const start = liveBuffers();
    expect(() =>
      tidy(() => {
        zeros([2]).add(1);
        throw new Error("in the middle");
      }),
    ).toThrow("in the middle");
    expect(liveBuffers()).toBe(start);
  });

  it("frees a view's storage only when its last view is disposed", () => {
    const start = liveBuffers();
    const base = zeros([2, 3]);
    const view = base.mT;
    base.dispose();
    expect(liveBuffers()).toBe(start + 1);
    expect(view.tolist()).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    view.dispose();
    view.dispose();
    expect(liveBuffers()).toBe(start);
  });
});

describe("dispose", () => {
  it("Symbol.dispose frees the tensor at the end of a `using` block", () => {
    const start = liveBuffers();
    let escaped: Tensor | null = null;
    {
      using scoped = zeros([4]);
      escaped = scoped;
      expect(liveBuffers()).toBe(start + 1);
    }
    expect(escaped.isDisposed).toBe(true);
    expect(liveBuffers()).toBe(start);
  });

  it.each<{ name: string; use: (t: Tensor) => unknown }>([
    { name: "an op", use: (t) => t.add(1) },
    { name: "a read", use: (t) => t.dataSync() },
    { name: "tolist", use: (t) => t.tolist() },
    { name: "an in-place op", use: (t) => t.fill_(0) },
    { name: "being an operand", use: (t) => tensor([1, 2]).mul(t) },
  ])("refuses a disposed tensor in $name", ({ use }) => {
    const t = tensor([1, 2]);
    t.dispose();
    expect(() => use(t)).toThrow("tensor of shape [2] was used after dispose()");
  });

  // Views share the storage, so these used to read a freed GPU buffer, and on the CPU to free
  // the buffer a second time when the view was disposed (liveBuffers dropped below the truth).
  it.each<{ name: string; view: (t: Tensor) => Tensor }>([
    { name: "reshape", view: (t) => t.reshape([3, 2]) },
    { name: "reshape", view: (t) => t.flatten() },
    { name: "permute", view: (t) => t.permute(1, 0) },
    { name: "transpose", view: (t) => t.transpose(0, 1) },
    { name: "mT", view: (t) => t.mT },
    { name: "expand", view: (t) => t.expand([4, 2, 3]) },
    { name: "narrow", view: (t) => t.narrow(1, 0, 2) },
    { name: "slice", view: (t) => t.slice(1, 1) },
    { name: "detach", view: (t) => t.detach() },
  ])("refuses a view ($name) of a disposed tensor", ({ name, view }) => {
    const start = liveBuffers();
    const t = zeros([2, 3]);
    t.dispose();
    expect(() => view(t)).toThrow(
      `${name}: tensor of shape [2, 3] was used after dispose(): keep it alive (outside tidy, or keep() it) until its last use`,
    );
    expect(liveBuffers()).toBe(start);
  });

  it("prints a disposed tensor without reading it", () => {
    const t = tensor([1, 2]);
    t[Symbol.dispose]();
    expect(t.toString()).toBe("tensor(<disposed>, shape=[2], dtype=float32)");
  });
});
