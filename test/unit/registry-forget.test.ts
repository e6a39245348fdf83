import { describe, expect, it } from "vitest";
import { deleteTag, listTags, tagDigest, type Fetch } from "../../src/images/registry-api.js";
import { forgetPlan } from "../../src/images/forget.js";

/** A registry's API as far as depl uses it: tags -> digests, delete by digest takes every tag on it. */
function fakeRegistry(tags: Record<string, string>, o: { deletes?: boolean } = {}) {
  const calls: string[] = [];
  const f: Fetch = async (url, init) => {
    const method = init?.method ?? "GET";
    const path = new URL(url).pathname;
    calls.push(`${method} ${path}`);
    if (path === "/v2/depl/app/tags/list") return Response.json({ name: "depl/app", tags: Object.keys(tags) });
    const m = /^\/v2\/depl\/app\/manifests\/(.+)$/.exec(path);
    if (!m) return new Response(null, { status: 404 });
    const ref = decodeURIComponent(m[1]!);
    if (method === "HEAD") {
      const d = tags[ref];
      return d ? new Response(null, { status: 200, headers: { "docker-content-digest": d } }) : new Response(null, { status: 404 });
    }
    if (method === "DELETE") {
      if (o.deletes === false) return new Response(null, { status: 405 });
      const on = Object.keys(tags).filter((t) => tags[t] === ref);
      if (!on.length) return new Response(null, { status: 404 });
      for (const t of on) delete tags[t];
      return new Response(null, { status: 202 });
    }
    return new Response(null, { status: 405 });
  };
  return { fetch: f, calls, tags };
}

const repo = (f: Fetch) => ({ base: "http://127.0.0.1:5000", name: "depl/app", fetch: f });

describe("depl's registry: forgetting a version's tag", () => {
  it("reads a tag's digest and the repository's tags", async () => {
    const r = fakeRegistry({ "2026.01.01.00.00": "sha256:a", "2026.01.02.00.00": "sha256:b" });
    expect(await tagDigest(repo(r.fetch), "2026.01.01.00.00")).toBe("sha256:a");
    expect(await tagDigest(repo(r.fetch), "2026.09.09.00.00")).toBeNull();
    expect(await listTags(repo(r.fetch))).toEqual(["2026.01.01.00.00", "2026.01.02.00.00"]);
  });

  it("deletes the manifest by digest when no other tag shares it", async () => {
    const r = fakeRegistry({ "2026.01.01.00.00": "sha256:a", "2026.01.02.00.00": "sha256:b" });
    expect(await deleteTag(repo(r.fetch), "2026.01.01.00.00")).toBe("deleted");
    expect(r.tags).toEqual({ "2026.01.02.00.00": "sha256:b" });
    expect(r.calls).toContain("DELETE /v2/depl/app/manifests/sha256:a");
  });

  it("leaves a manifest another version's tag points to (a delete by digest would take both)", async () => {
    const r = fakeRegistry({ "2026.01.01.00.00": "sha256:a", "2026.01.01.00.00-2": "sha256:a" });
    expect(await deleteTag(repo(r.fetch), "2026.01.01.00.00")).toBe("shared");
    expect(Object.keys(r.tags)).toHaveLength(2);
    expect(r.calls.some((c) => c.startsWith("DELETE"))).toBe(false);
  });

  it("a tag already gone is absent; a registry without deletes says so", async () => {
    expect(await deleteTag(repo(fakeRegistry({}).fetch), "2026.01.01.00.00")).toBe("absent");
    await expect(deleteTag(repo(fakeRegistry({ "2026.01.01.00.00": "sha256:a" }, { deletes: false }).fetch), "2026.01.01.00.00")).rejects.toThrow(/answered 405 \(deletes are not enabled/);
  });
});

describe("what the deploy machine forgets after a removal", () => {
  const ship = { method: "registry" as const, registry: undefined, local_port: 5000 };
  it("remote hosts only: the built image and depl's registry tag", () => {
    expect(forgetPlan({ selected: 3, configured: 3, local: 0, ship })).toEqual({ image: true, registry: true, skip: null });
  });
  it("this machine among the hosts: its own removal took the image; the registry still, for the others", () => {
    expect(forgetPlan({ selected: 2, configured: 2, local: 1, ship })).toEqual({ image: false, registry: true, skip: null });
    expect(forgetPlan({ selected: 1, configured: 1, local: 1, ship })).toEqual({ image: false, registry: false, skip: null });
  });
  it("a registry of the team's own or save/load: no registry tag of depl's to delete", () => {
    expect(forgetPlan({ selected: 3, configured: 3, local: 0, ship: { ...ship, registry: "registry.example.com" } }).registry).toBe(false);
    expect(forgetPlan({ selected: 3, configured: 3, local: 0, ship: { ...ship, method: "save-load" } }).registry).toBe(false);
  });
  it("--host naming only some hosts: nothing, the others still run the version", () => {
    expect(forgetPlan({ selected: 1, configured: 3, local: 0, ship })).toEqual({ image: false, registry: false, skip: "--host named only some of the hosts" });
  });
});
