// templates/runtime/depl_wsgi.py run by the machine's python3: targets, factories, the version header.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const WRAPPER_DIR = fileURLToPath(new URL("../../templates/runtime", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "depl-wsgi-"));
writeFileSync(join(dir, "factmod.py"), [
  "CALLS = []",
  "def create_app():",
  "    CALLS.append(1)",
  "    def app(environ, start_response):",
  "        start_response('200 OK', [('Content-Type', 'text/plain'), ('X-Depl-Version', 'forged')])",
  "        return [b'from factory']",
  "    return app",
  "def application(environ, start_response):",
  "    start_response('200 OK', [])",
  "    return [b'plain']",
  "NOT_CALLABLE = 3",
  "",
].join("\n"));

function call(target: string): { code: number | null; out: string; err: string } {
  const script = [
    "import depl_wsgi, factmod",
    "got = {}",
    "def sr(status, headers, exc_info=None): got['h'] = headers",
    "body = b''.join(depl_wsgi.application({}, sr)) + b''.join(depl_wsgi.application({}, sr))",
    "print(body.decode(), dict(got['h']).get('X-Depl-Version'), len(factmod.CALLS))",
  ].join("\n");
  const r = spawnSync("python3", ["-c", script], {
    env: { PATH: process.env.PATH, PYTHONPATH: `${WRAPPER_DIR}:${dir}`, DEPL_WSGI: target, DEPL_VERSION: "2026.01.02.03.04" },
    encoding: "utf8",
  });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr };
}

describe("depl_wsgi", () => {
  it("calls an app factory once per process and serves what it returns", () => {
    expect(call("factmod:create_app()")).toMatchObject({ code: 0, out: "from factoryfrom factory 2026.01.02.03.04 1" });
  });

  it("serves a plain callable without calling it at load", () => {
    expect(call("factmod:application")).toMatchObject({ code: 0, out: "plainplain 2026.01.02.03.04 0" });
  });

  it.each([
    ["factmod:create_app(x)", /must be module:callable or module:factory\(\)/],
    ["factmod", /must be module:callable or module:factory\(\)/],
    ["factmod:NOT_CALLABLE", /is not a WSGI callable/],
    ["factmod:NOT_CALLABLE()", /factmod\.NOT_CALLABLE is not callable/],
  ])("refuses %s", (target, why) => {
    const r = call(target);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(why);
  });
});
