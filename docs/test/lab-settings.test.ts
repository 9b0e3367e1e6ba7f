// The BatchNorm lab's settings: defaults, the URL form both ways, and refused values named.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_SETTINGS,
  type LabSettings,
  labSettingsQuery,
  parseLabSettings,
  sameRun,
} from "../.vitepress/lab/lab-settings.ts";

describe("the lab's settings", () => {
  it("are the study's defaults when the URL names none, and the URL of the defaults is empty", () => {
    expect(parseLabSettings("")).toEqual({ settings: DEFAULT_SETTINGS, problems: [] });
    expect(DEFAULT_SETTINGS).toMatchObject({
      depth: 2,
      batchSize: 64,
      lr: 0.02,
      norm: "batch",
      activation: "relu",
    });
    expect(labSettingsQuery(DEFAULT_SETTINGS)).toBe("");
  });

  it("survive a round trip through the URL, which lists only what differs from the defaults", () => {
    const settings: LabSettings = {
      norm: "group",
      activation: "sigmoid",
      depth: 4,
      batchSize: 8,
      lr: 0.37,
      seed: 12,
      steps: 300,
      backend: "cpu",
      mode: "eval",
      inspect: "relu-bn",
      layer: 3,
      channel: 201,
    };
    const query = labSettingsQuery(settings);
    expect(query).toBe(
      "norm=group&act=sigmoid&depth=4&batch=8&lr=0.37&seed=12&steps=300&backend=cpu&mode=eval&inspect=relu-bn&layer=3&channel=201",
    );
    expect(parseLabSettings(`?${query}`)).toEqual({ settings, problems: [] });
    expect(labSettingsQuery({ ...DEFAULT_SETTINGS, lr: 0.5 })).toBe("lr=0.5");
  });

  it("refuse values out of range and unknown parameters, naming each, and keep the defaults", () => {
    const { settings, problems } = parseLabSettings(
      "lr=-1&batch=3&norm=instance&depth=7&channel=256&speed=9&seed=1.5",
    );
    expect(settings).toEqual(DEFAULT_SETTINGS);
    expect(problems).toEqual([
      "lr=-1 ignored: lr must be a number in (0, 10]",
      "batch=3 ignored: batch must be one of 2, 4, 8, 16, 32, 64, 128, 256",
      "norm=instance ignored: norm must be one of batch, group, layer",
      "depth=7 ignored: depth must be an integer from 1 to 6",
      "channel=256 ignored: channel must be an integer from 0 to 255",
      expect.stringContaining("unknown setting speed=9 ignored (known: norm, act, depth, batch, lr"),
      "seed=1.5 ignored: seed must be an integer from 0 to 2147483647",
    ]);
    expect(parseLabSettings("lr=").problems).toEqual(["lr= ignored: lr must be a number in (0, 10]"]);
  });

  it("clamp the inspected layer to the network's depth", () => {
    expect(parseLabSettings("depth=2&layer=5").settings.layer).toBe(2);
    expect(parseLabSettings("depth=6&layer=5").settings.layer).toBe(5);
  });

  it("tell a setting that defines the run from one that only changes the view", () => {
    expect(sameRun(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, mode: "eval", channel: 9, layer: 2 })).toBe(true);
    expect(sameRun(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, batchSize: 8 })).toBe(false);
    expect(sameRun(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, backend: "gpu" })).toBe(false);
  });
});
