import { describe, expect, it } from "vitest";
import { BuildProgress, stepLine } from "../../src/build/progress.js";

describe("BuildProgress", () => {
  it("reads steps, cache hits and the image id of the legacy builder", () => {
    const p = new BuildProgress();
    expect(p.push({ stream: "Step 1/3 : FROM depl-base:bookworm" }).step).toEqual({ n: 1, of: 3, instruction: "FROM depl-base:bookworm" });
    p.push({ stream: "\n" });
    p.push({ stream: " ---> 80eac3b74228\n" });
    const s2 = p.push({ stream: "Step 2/3 : RUN apt-get update\n ---> Using cache\n ---> 1d77a96f2ab5\n" });
    expect(s2.step?.n).toBe(2);
    expect(s2.lines).toEqual(["Step 2/3 : RUN apt-get update", " ---> Using cache", " ---> 1d77a96f2ab5"]);
    p.push({ stream: "Step 3/3 : LABEL depl.app=\"app1\"\n" });
    p.push({ aux: { ID: "sha256:abc" } });
    p.push({ stream: "Successfully built abc\n" });
    expect(p.steps.map((s) => s.n)).toEqual([1, 2, 3]);
    expect(p.cachedSteps).toBe(1);
    expect(p.imageId).toBe("sha256:abc");
    expect(p.error).toBeNull();
  });

  it("keeps the error, the failing step and the last lines", () => {
    const p = new BuildProgress();
    p.push({ stream: "Step 9/24 : RUN pip wheel /src\n" });
    for (let i = 0; i < 50; i++) p.push({ stream: `line ${i}\n` });
    const r = p.push({ errorDetail: { message: "returned a non-zero code: 1", code: 1 }, error: "returned a non-zero code: 1" });
    expect(r.lines).toEqual(["ERROR: returned a non-zero code: 1"]);
    expect(p.error).toBe("returned a non-zero code: 1");
    expect(p.currentStep?.n).toBe(9);
    const tail = p.lastLines();
    expect(tail).toHaveLength(30);
    expect(tail.at(-1)).toBe("ERROR: returned a non-zero code: 1");
    expect(tail.at(-2)).toBe("line 49");
  });
});

describe("stepLine", () => {
  it("collapses whitespace and cuts long instructions", () => {
    expect(stepLine({ n: 3, of: 24, instruction: "RUN a \\\n  && b" })).toBe("step 3/24: RUN a \\ && b");
    const long = stepLine({ n: 1, of: 2, instruction: `RUN ${"x".repeat(200)}` }, 40);
    expect(long).toHaveLength(40);
    expect(long.endsWith("...")).toBe(true);
  });
});
