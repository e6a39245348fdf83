import type { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { unixGet, unixPost, unixRequest } from "../../src/host/http-stream.js";

// The exchange itself runs on both hosts' unix sockets in the host contract;
// here what a host's connect() can do to the request.
describe("unixRequest", () => {
  const req = unixGet("/health", { host: "v1.app1.localhost", timeoutMs: 150 });

  it("hands a refused connection to onConnectError with the request named, and answers its answer", async () => {
    const seen: string[] = [];
    const r = await unixRequest(() => Promise.reject(new Error("open failed")), "/s/app.sock", req, {
      prefix: "web1: ",
      onConnectError: async (what) => (seen.push(what), { status: 200, headers: {}, body: "by curl" }),
    });
    expect(r.body).toBe("by curl");
    expect(seen).toEqual(["web1: GET http://v1.app1.localhost/health via /s/app.sock"]);
  });

  it("a refused connection without onConnectError, or a connection that never comes, fails naming the request", async () => {
    await expect(unixRequest(() => Promise.reject(new Error("connect ENOENT /s/app.sock")), "/s/app.sock", req)).rejects.toThrow(
      "GET http://v1.app1.localhost/health via /s/app.sock: connect ENOENT /s/app.sock",
    );
    let fallback = false;
    const never = () => new Promise<Duplex>(() => undefined);
    await expect(unixRequest(never, "/s/app.sock", req, { prefix: "web1: ", onConnectError: async () => ((fallback = true), { status: 200, headers: {}, body: "" }) })).rejects.toThrow(
      "web1: GET http://v1.app1.localhost/health via /s/app.sock: timed out after 150 ms",
    );
    expect(fallback).toBe(false);
  });

  it("checks the path and Host before anything is sent", () => {
    expect(() => unixGet("/", { host: "h\r\nX: 1", timeoutMs: 1 })).toThrow(/invalid Host/);
    expect(() => unixPost("no-slash", { host: "h", contentType: "text/xml", body: "", timeoutMs: 1 })).toThrow();
  });
});
