import { describe, expect, it } from "vitest";
import { curlPostArgv, parseCurlResponse } from "../../src/host/curl.js";

describe("parseCurlResponse", () => {
  it("splits status, headers and body", () => {
    const out = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nnot ready\r\n\r\nyet";
    expect(parseCurlResponse(out)).toEqual({
      status: 503,
      headers: { "content-type": "text/plain", "set-cookie": "a=1, b=2" },
      body: "not ready\r\n\r\nyet",
    });
  });

  it("skips 1xx interim responses and accepts an empty body", () => {
    const out = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 No Content\r\nX-A: 1\r\n\r\n";
    expect(parseCurlResponse(out)).toEqual({ status: 204, headers: { "x-a": "1" }, body: "" });
  });

  it("refuses output that is not HTTP", () => {
    expect(() => parseCurlResponse("garbage")).toThrow(/unexpected HTTP response/);
  });
});

describe("curlPostArgv", () => {
  it("POSTs stdin over the unix socket with its content type", () => {
    expect(curlPostArgv("/var/run/supervisor.sock", "/RPC2", { host: "localhost", contentType: "text/xml", timeoutMs: 60_000 })).toEqual([
      "curl", "-sS", "--max-time", "60.000", "--unix-socket", "/var/run/supervisor.sock", "-H", "Host: localhost",
      "-D", "-", "-o", "-", "-H", "Content-Type: text/xml", "--data-binary", "@-", "http://localhost/RPC2",
    ]);
  });
});
