import { Command, CommanderError, InvalidArgumentError } from "commander";

// Declares the commands and lazily imports their handlers, so `depl --help`
// loads no Docker, SSH or nginx code. Only main() catches errors.

const program = new Command("depl")
  .description("Blue/green deployer for Python web apps in containers")
  .version("0.1.0")
  .option("-c, --config <file>", "config file", "depl.yml")
  .option("-d, --destination <name>", "one of depl.yml's destinations (staging, production...): its overrides, its own releases, lock and history")
  .option("--host <names>", "only these hosts (comma-separated names from depl.yml); for setup also user@address[:port]")
  .option("-v, --verbose", "show the output of Docker and other tools")
  .option("--wait [seconds]", "wait for another depl command's lock instead of refusing (default 600 s)", (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1) throw new InvalidArgumentError("expected a whole number of seconds");
    return n;
  })
  .configureOutput({
    // One line, like every other error: "depl: unknown option '--x' (see depl --help)".
    outputError: (str, write) => write(`depl: ${str.trim().replace(/^error: /, "")} (see depl --help)\n`),
  })
  .exitOverride();

type Globals = { config: string; destination?: string; host?: string; verbose?: boolean; wait?: number | true };
const globals = () => {
  const g = program.opts<Globals>();
  return { ...g, wait: g.wait === true ? 600 : g.wait };
};

program
  .command("setup")
  .description("prepare the app hosts: docker.io, nginx, supervisord, the server layout and depl's includes")
  .action(async () => (await import("./commands/setup.js")).setup(globals()));

const images = program.command("images").description("base images");
images
  .command("bootstrap")
  .description("make the base image offline with debootstrap + docker import (no registry needed)")
  .action(async () => (await import("./commands/images.js")).bootstrap(globals()));

program
  .command("build")
  .description("build the runtime image <app>:<version> (build stage with compilers -> wheels -> slim runtime)")
  .option("--version-name <version>", "use this version name instead of the UTC timestamp")
  .option("--json", "print only JSON")
  .action(async (o) => (await import("./commands/build.js")).build(globals(), o));

program
  .command("install")
  .argument("<version>", "an already built version")
  .description("ship the image, start it under supervisord on its own socket, health-check it, route its preview URL")
  .option("--json", "print only JSON")
  .action(async (version, o) => (await import("./commands/install.js")).install(globals(), version, o));

program
  .command("buildinst")
  .description("build + ship + install; prints the preview URL")
  .option("--version-name <version>", "use this version name instead of the UTC timestamp")
  .option("--json", "print only JSON: {\"version\": ...}")
  .option("--keep-days <days>", "keep this release from prune for <days> days")
  .option("--branch <name>", "a branch preview: the release answers at <branch>.<domain> and replaces the branch's previous one once healthy")
  .option("--resume", "continue the last failed or interrupted buildinst from its first unfinished step")
  .action(async (o) => (await import("./commands/buildinst.js")).buildinst(globals(), o));

program
  .command("promote")
  .argument("[version]", "an installed, healthy version")
  .description("serve <version> on the base domain: one switch for all hosts (checked, staged, renamed at once, verified; any failure switches every host back); the old live version stays warm as previous")
  .option("--resume", "finish the last failed or interrupted promote (the switch, the post_promote hook)")
  .option("--skip-release", "do not run the version's release phase (release: in depl.yml); recorded in its release.json and the audit log")
  .option("--json", "print only JSON: the version, each host's rename time and the rename skew between hosts")
  .action(async (version, o) => (await import("./commands/traffic.js")).promote(globals(), version, o));

program
  .command("rollback")
  .argument("[version]", "an installed version (default: the previous live one)")
  .description("serve the previous (or the named) version on the base domain again")
  .option("--json", "print only JSON, as promote does")
  .action(async (version, o) => (await import("./commands/traffic.js")).rollback(globals(), version, o));

program
  .command("canary")
  .argument("[version]", "an installed, healthy version")
  .argument("[percent]", "share of clients, 1% to 99%")
  .option("--stop", "send every client back to the live version")
  .option("--skip-release", "do not run the version's release phase before its first traffic; recorded")
  .option("--json", "print only JSON, as promote does")
  .option("--watch <duration>", "judge the canary against live for this long (e.g. 10m): stopped at once when it fails (canary: in depl.yml), a pass when the window ends clean")
  .option("--steps <percents>", "a stepped rollout, e.g. 5,25,50: each step watched as --watch says")
  .option("--promote", "promote the version when the last watched step passes")
  // "-1%" must reach the percentage check, not be taken for an unknown option.
  .allowUnknownOption()
  .description("serve <version> to a sticky share of clients (cookie depl_bucket); the rest get the live version")
  .action(async (version, percent, o) => (await import("./commands/traffic.js")).canary(globals(), version, percent, o));

program
  .command("stats")
  .description("requests, status classes, 5xx rate and latency per version, from nginx's access log")
  .option("--since <duration>", "window, such as 15m, 2h, 1d", "1h")
  .option("--json", "print JSON (with --watch: one object per line per refresh)")
  .option("--watch", "refresh every few seconds, with sparklines of requests and 5xx per minute (Ctrl-C ends)")
  .option("--every <duration>", "with --watch: time between refreshes", "3s")
  .option("--count <n>", "with --watch: stop after n refreshes")
  .action(async (o) => (await import("./commands/stats.js")).stats(globals(), o));

program
  .command("dashboard")
  .description("a status page: per app and host, releases, live/previous/canary and share, charts of request rate, 5xx rate and p95 per version; actions need the DASHBOARD_TOKEN secret")
  .option("--bind <address>", "address to listen on (beyond loopback only with a DASHBOARD_TOKEN secret)", "127.0.0.1")
  .option("--port <port>", "port to listen on", "8077")
  .option("--also <depl.yml>", "show this depl.yml's app too (repeatable; each app with its own hosts and token)", (v: string, prev: string[] = []) => [...prev, v])
  .action(async (o) => (await import("./dashboard/server.js")).dashboard(globals(), { bind: o.bind, port: Number(o.port), also: o.also }));

program
  .command("list")
  .description("releases on each host: state, health, processes and their supervisord state, commit, branch, build time, builder, size, preview URL, keep-until")
  .option("--json", "print JSON")
  .action(async (o) => (await import("./commands/list.js")).list(globals(), o));

program
  .command("history")
  .description("the audit log: builds, installs, promotes, rollbacks, canary changes, removals, failures")
  .option("--json", "print JSON")
  .option("-n <count>", "show the last <count> entries", "50")
  .action(async (o) => (await import("./commands/list.js")).history(globals(), o));

program
  .command("remove")
  .argument("<version>", "a release that is not live, previous or canary")
  .description("stop and remove one release: the programs and containers it was installed with (whatever depl.yml says now), socket dir, image (shared/ is never touched); waits up to drain_timeout for its open connections; once it is off every host, this machine drops its built image and its tag in depl's registry")
  .option("--force", "do not wait for open connections (WebSockets, streams): stopping the release closes them")
  .action(async (version, o) => (await import("./commands/retire.js")).remove(globals(), version, o));

program
  .command("prune")
  .description("remove releases beyond the newest N successful ones (never live, previous, canary or kept ones); what left every host also leaves this machine's images and depl's registry")
  .option("--keep <n>", "successful releases to keep (default: retention.keep)")
  .option("--keep-days <days>", "also keep releases built within this many days")
  .action(async (o) => (await import("./commands/retire.js")).prune(globals(), o));

program
  .command("logs")
  .argument("<version>", "an installed version")
  .description("the version's process log (gunicorn's access and error lines); with several hosts, each line starts with its host")
  .option("-f, --follow", "keep printing new lines")
  .option("--process <name>", "a worker process instead of web")
  .option("-n, --lines <n>", "lines to show", "100")
  .action(async (version, o) => (await import("./commands/logs.js")).logs(globals(), version, o));

program
  .command("exec")
  .argument("<version>", "an installed version")
  .argument("<command...>", "command to run (after --)")
  .description("run a one-off container of <version> with its env and shared data on every selected host (--host to narrow; stdin with one host only), e.g. depl exec V -- python -m app.migrate")
  .action(async (version, command) => (await import("./commands/logs.js")).exec(globals(), version, command));

program
  .command("doctor")
  .description("check every host against depl's records (services, nginx site, programs, health, routes, traffic links) and repair what it can, removing what no recorded release owns (programs, supervisord confs and links, containers, routes); exit 1 when something stays broken")
  .option("--dry-run", "report only, change nothing")
  .option("--timeout <seconds>", "how long a restarted version may take to become healthy", "60")
  .option("--json", "print JSON")
  .action(async (o) => (await import("./commands/doctor.js")).doctor(globals(), o));

const tls = program.command("tls").description("HTTPS certificates (tls: in depl.yml)");
tls
  .command("renew")
  .description("check depl.yml's certificates and put them on every web host: one nginx reload where they changed, no request lost")
  .action(async () => (await import("./commands/tls.js")).renew(globals()));
tls
  .command("self-signed")
  .description("make a local CA (once) and a certificate for the domain, its previews and subdomains; print the depl.yml lines and how to trust the CA")
  .option("--dir <dir>", "where the files go, relative to depl.yml", "tls")
  .option("--days <n>", "validity of the certificate", "90")
  .action(async (o) => (await import("./commands/tls.js")).selfSignedCommand(globals(), o));

const lock = program.command("lock").description("the app's lock on each host");
lock
  .command("status")
  .description("who holds the lock, since when, doing what; stale when its process is gone")
  .action(async () => (await import("./commands/lock.js")).status(globals()));
lock
  .command("release")
  .description("remove the lock (asks for confirmation unless --force)")
  .option("--force", "do not ask")
  .action(async (o) => (await import("./commands/lock.js")).release(globals(), o));

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    // A command that passes on an exit status of its own (depl exec) sets process.exitCode.
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end up here with exit code 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    const err = e as Error & { exitCode?: number };
    if (process.env.DEPL_DEBUG) console.error(err.stack);
    else console.error(`depl: ${err.message}`);
    return typeof err.exitCode === "number" ? err.exitCode : 1;
  }
}

process.exitCode = await main(process.argv);
