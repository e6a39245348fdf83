import { DeplError, UsageError, quote } from "../errors.js";
import { nginxGid } from "../release/install.js";
import { readRelease } from "../release/metadata.js";
import { assertVersion } from "../naming/version.js";
import { oneOffArgv } from "../supervisor/program.js";
import { withContext, type GlobalOptions } from "./context.js";

export async function logs(g: GlobalOptions, version: string, o: { follow?: boolean; process?: string; lines: string }): Promise<void> {
  assertVersion(version);
  if (!/^\d+$/.test(o.lines)) throw new UsageError(`invalid -n ${quote(String(o.lines))}: expected a whole number of lines`);
  await withContext(g, {}, async (ctx) => {
    const process = o.process ?? "web";
    if (process !== "web" && !(process in ctx.config.processes)) {
      throw new UsageError(`unknown process "${process}": expected web${Object.keys(ctx.config.processes).map((p) => ` or ${p}`).join("")}`);
    }
    const prefix = (h: string) => (ctx.hosts.length > 1 ? (s: string) => s.replace(/^(?=.)/gm, `${h}: `) : (s: string) => s);
    await Promise.all(
      ctx.hosts.map(async (host) => {
        const file = ctx.layout.processLog(version, process);
        if (!(await host.exists(file))) throw new DeplError(`${host.name}: no log for ${version} (${process}) at ${file}`);
        const p = prefix(host.name);
        await host.run(["tail", "-n", o.lines, ...(o.follow ? ["-F"] : []), file], { onStdout: (s) => globalThis.process.stdout.write(p(s)) });
      }),
    );
  });
}

/** A one-off container of the release: its image, env file and shared data; exits with the command's code. */
export async function exec(g: GlobalOptions, version: string, command: string[]): Promise<void> {
  assertVersion(version);
  if (command.length === 0) throw new UsageError("usage: depl exec <version> -- <command...>");
  await withContext(g, {}, async (ctx) => {
    // One host: the command's own stdin, output and exit status. Several: run on each at once,
    // every output line prefixed with its host; the exit status is the first non-zero one.
    const multi = ctx.hosts.length > 1;
    const codes = await Promise.all(
      ctx.hosts.map(async (host) => {
        const meta = await readRelease(host, ctx.layout, version);
        if (!meta) throw new DeplError(`${host.name}: version ${version} is not installed (narrow with --host)`);
        const argv = oneOffArgv(
          { config: ctx.config, layout: ctx.layout, version, image: meta.image_id, socketGid: await nginxGid(host) },
          command,
          "exec",
        );
        const out = prefixedLines(host.name, (s) => process.stdout.write(s));
        const err = prefixedLines(host.name, (s) => process.stderr.write(s));
        const r = await host.run(argv, {
          allowFailure: true,
          stdin: multi || process.stdin.isTTY ? "" : process.stdin,
          onStdout: multi ? out.write : (s) => process.stdout.write(s),
          onStderr: multi ? err.write : (s) => process.stderr.write(s),
        });
        if (multi) {
          out.flush();
          err.flush();
          console.error(`${host.name}: exit ${r.code}`);
        }
        return r.code;
      }),
    );
    process.exitCode = codes.find((c) => c !== 0) ?? 0;
  });
}

/** Writes whole lines, each prefixed with the host's name; flush() writes what is left. */
export function prefixedLines(host: string, write: (s: string) => void): { write: (chunk: string) => void; flush: () => void } {
  let rest = "";
  return {
    write: (chunk) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const p of parts) write(`${host}: ${p}\n`);
    },
    flush: () => {
      if (rest) write(`${host}: ${rest}\n`);
      rest = "";
    },
  };
}
