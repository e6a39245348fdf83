import { z } from "zod";
import { Secret } from "./secret.js";
import {
  APP_NAME,
  DEB_PACKAGE,
  DNS_LABEL,
  DOMAIN,
  ENV_NAME,
  IMAGE_REF,
  WSGI_TARGET,
  isSafeAbsPath,
} from "./names.js";

const absPath = z
  .string()
  .refine(isSafeAbsPath, "expected an absolute path of letters, digits and ._@+- (no spaces, quotes or ..)");

/** "30s", "2m", "500ms" or a number of seconds. Parsed to milliseconds. */
const duration = z.union([z.number().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return Math.round(v * 1000);
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a duration such as 30s, 2m or 500ms, got "${v}"` });
    return z.NEVER;
  }
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * mult);
});

/** "1%", "0.5%" or a fraction (0.01). Parsed to a fraction. */
const rate = z.union([z.number().min(0).max(1), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return v;
  const m = /^(\d+(?:\.\d+)?)%$/.exec(v.trim());
  if (!m || Number(m[1]) > 100) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a percentage such as 1% or 0.5%, got "${v}"` });
    return z.NEVER;
  }
  return Number(m[1]) / 100;
});

/** "100MB", "1GB", "512KB" or a number of bytes. Parsed to bytes. */
const byteSize = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return v;
  const m = /^(\d+)\s*(B|KB|MB|GB)$/i.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a size such as 100MB, 1GB or 512KB, got "${v}"` });
    return z.NEVER;
  }
  return Number(m[1]) * { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2]!.toUpperCase() as "B" | "KB" | "MB" | "GB"];
});

/** "30d", "12h" or a number of days. Parsed to milliseconds. */
const age = z.union([z.number().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return Math.round(v * 86_400_000);
  const m = /^(\d+)(h|d)$/.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected an age such as 30d or 12h, got "${v}"` });
    return z.NEVER;
  }
  return Number(m[1]) * (m[2] === "h" ? 3_600_000 : 86_400_000);
});

const hostAddress = z.string().regex(/^[A-Za-z0-9.:-]+$/, "expected a host name or IP address");
const userName = z.string().regex(/^[a-z_][a-z0-9_-]*$/, "expected a user name");
const jumpHost = z
  .object({
    address: hostAddress,
    user: userName.default("root"),
    port: z.number().int().min(1).max(65535).default(22),
    key: z.string().optional(),
  })
  .strict();

/** What a host does: web serves the app's traffic, worker runs its workers. */
export const HOST_ROLES = ["web", "worker"] as const;
/** A host's name in messages, --host and the journal: short, no spaces. */
export const HOST_NAME = /^[a-z0-9][a-z0-9.-]{0,62}$/;

const sshHost = z
  .object({
    /** The host's name in depl's output and for --host (default: its address, with :port off 22). */
    name: z.string().regex(HOST_NAME, "expected a host name of lower-case letters, digits, dots and hyphens").optional(),
    address: hostAddress,
    user: userName.default("root"),
    port: z.number().int().min(1).max(65535).default(22),
    /** Private key file on the deploy machine. */
    key: z.string().optional(),
    /** known_hosts file used to check the host key (never skipped). */
    known_hosts: z.string().optional(),
    /** Hosts to jump through (ssh -J), first to last: one, or a list for several hops. */
    jump: z
      .union([jumpHost, z.array(jumpHost).max(8)])
      .optional()
      .transform((j) => (j === undefined ? [] : Array.isArray(j) ? j : [j])),
    /** Default both: a worker-only host runs no web process and takes no traffic. */
    roles: z.array(z.enum(HOST_ROLES)).min(1).default(["web", "worker"]),
  })
  .strict();

/** A value that reaches an env file or an argv: one line, no NUL. */
const oneLine = z.string().refine((v) => !/[\r\n\0]/.test(v), "must not contain a newline or NUL");
/** A command as a list of words (no shell unless you write ["sh", "-c", "..."]). */
const commandWords = z.array(oneLine.pipe(z.string().min(1))).min(1, "expected a command as a list of words");
const hookCommand = commandWords.optional();

export const hostSchema = z.union([z.literal("local"), sshHost]);

export const configSchema = z
  .object({
    app: z.string().regex(APP_NAME, "expected 2-32 lower-case letters, digits or hyphens, starting with a letter"),
    domain: z.string().regex(DOMAIN, "expected a lower-case domain such as app1.example.com (letters, digits, hyphens, dots)"),
    /** Subdomains the app itself serves (foo -> foo.<domain>); never taken as version names. */
    subdomains: z.array(z.string().regex(DNS_LABEL, "expected a DNS label (a-z, 0-9, inner hyphens)")).default([]),
    /** Root of the server layout on every host. */
    root: absPath.default("/srv/depl"),
    hosts: z
      .array(hostSchema)
      .min(1)
      .default(["local"])
      .superRefine((hosts, ctx) => {
        const seen = new Set<string>();
        hosts.forEach((h, i) => {
          const n = hostName(h);
          if (seen.has(n)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `a second host named "${n}": give each host its own name` });
          seen.add(n);
        });
        if (!hosts.some((h) => hostRoles(h).includes("web"))) ctx.addIssue({ code: z.ZodIssueCode.custom, message: "no host has the web role: at least one must serve traffic" });
      }),
    /**
     * How images reach remote hosts. registry: pushed to a registry and pulled by
     * each host, so a host fetches only the layers it lacks; with no address,
     * depl's own on this machine (127.0.0.1:5000, make setup_deploy), reached by
     * each host through a reverse tunnel on its SSH connection. save-load: the
     * whole image over SSH (docker save | docker load), also the fallback.
     */
    ship: z
      .object({
        method: z.enum(["registry", "save-load"]).default("registry"),
        registry: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]*(?::\d{1,5})?(?:\/[a-z0-9._-]+)*$/, "expected a registry address such as registry.example.com:5000 (the hosts pull from it as it is)")
          .optional(),
        /** Port of depl's own registry on this machine (scripts/services.sh, DEPL_REGISTRY_PORT). */
        local_port: z.number().int().min(1).max(65535).default(5000),
      })
      .strict()
      .default({}),
    /** Hosts worked on at once by every command. */
    parallel: z.number().int().min(1).max(64).default(8),
    nginx: z
      .object({
        listen: z.number().int().min(1).max(65535).default(80),
        /** Where depl's http-level include goes. */
        conf_dir: absPath.default("/etc/nginx/conf.d"),
        /** Largest request body nginx accepts (413 beyond it); nginx's own default, 1MB, refuses most uploads. */
        max_body_size: byteSize.pipe(z.number().max(64 * 1024 ** 3, "must be at most 64GB")).default("10MB"),
        /** How long nginx waits between two reads of the app's answer (a long poll or a slow report needs more). */
        read_timeout: duration.pipe(z.number().min(1000, "must be at least 1s").max(86_400_000, "must be at most 24h")).default("60s"),
        /** false: answers go to the client as the app writes them (streaming, server-sent events). */
        buffering: z.boolean().default(true),
      })
      .strict()
      .default({}),
    /**
     * HTTPS for the live site and every preview. Each certificate file (PEM, leaf first, then its chain)
     * and key on the deploy machine, relative to depl.yml; depl finds which of the app's names each one
     * covers: the domain, each <sub>.<domain>, *.<domain> and *.<sub>.<domain> (previews) must all be covered.
     */
    tls: z
      .object({
        certificates: z
          .array(z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict())
          .min(1, "list at least one { cert, key } (depl tls self-signed makes some for a try-out)"),
        port: z.number().int().min(1).max(65535).default(443),
        /** Plain HTTP answers with a redirect to HTTPS (308); false: both serve the site. */
        redirect: z.boolean().default(true),
        http2: z.boolean().default(true),
      })
      .strict()
      .optional(),
    build: z
      .object({
        /** The app's source directory, relative to depl.yml. */
        context: z.string().min(1).default("."),
        base_image: z.string().regex(IMAGE_REF, "expected an image reference such as depl-base:bookworm").default("depl-base:bookworm"),
        python: z
          .object({
            requirements: z.string().optional(),
            index_url: z.string().url().optional(),
            /** A local directory of wheels/sdists, relative to the context. */
            find_links: z.string().optional(),
            /**
             * strict: an exact or ranged pin that neither Debian's packages nor the wheelhouse meet fails the
             * build before any wheel is built, all such pins listed at once; debian: Debian's version stands in.
             */
            pins: z.enum(["strict", "debian"]).default("strict"),
          })
          .strict()
          .default({}),
        packages: z
          .object({
            build: z.array(z.string().regex(DEB_PACKAGE, "expected a Debian package name")).default([]),
            runtime: z.array(z.string().regex(DEB_PACKAGE, "expected a Debian package name")).default([]),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    run: z
      .object({
        /** WSGI entry point: module:callable, or module:factory() called once per process. */
        wsgi: z.string().regex(WSGI_TARGET, "expected module.path:callable or module.path:factory()"),
        workers: z.number().int().min(1).max(64).default(2),
        threads: z.number().int().min(1).max(256).default(4),
        /** listen(2) backlog of the app's socket: a small one makes nginx answer 502 under load. */
        backlog: z.number().int().min(64).max(65535).default(2048),
        /** uid the app runs as inside its container. */
        uid: z.number().int().min(1000).max(65000).default(10001),
        /** Read-only root file system (a tmpfs at /tmp; shared dirs stay writable) where the app allows it. */
        read_only: z.boolean().default(false),
        /** Memory limit of each container (no swap beyond it). */
        memory: byteSize.pipe(z.number().min(32 * 1024 * 1024, "must be at least 32MB")).default("1GB"),
        /** Limit on processes and threads in each container (gunicorn's workers x threads, plus a margin). */
        pids: z.number().int().min(16).max(65535).default(512),
      })
      .strict(),
    health: z
      .object({
        path: z.string().regex(/^\/[A-Za-z0-9_.\/-]*$/, "expected a path such as /health").default("/health"),
        timeout: duration.default("60s"),
        /** Concurrent requests per round: a version that cannot take load must not pass. */
        concurrency: z.number().int().min(1).max(256).default(16),
      })
      .strict()
      .default({}),
    retention: z
      .object({
        /** prune keeps the newest N successful releases (besides live, previous, canary and kept ones). */
        keep: z.number().int().min(1).max(1000).default(5),
        /** prune also keeps releases built within this many days. */
        keep_days: z.number().int().min(1).max(3650).optional(),
      })
      .strict()
      .default({}),
    /** remove and prune wait this long for a release's open connections (WebSockets, streams) to close before stopping it. */
    drain_timeout: duration.pipe(z.number().min(0).max(86_400_000, "must be at most 24h")).default("30s"),
    /**
     * Worker processes besides web: name -> argv, or { command, every_release }. Each is its own
     * supervisord program without a socket. By default only the live release runs them; every_release
     * runs the process in every installed release.
     */
    processes: z
      .record(
        z.string().regex(/^[a-z][a-z0-9]{0,19}$/, "expected a process name of lower-case letters and digits").refine((n) => n !== "web", "web is the WSGI process"),
        z
          .union([
            commandWords,
            z
              .object({
                command: commandWords,
                every_release: z.boolean().default(false),
              })
              .strict(),
          ])
          .transform((p) => (Array.isArray(p) ? { command: p, every_release: false } : p)),
      )
      .default({}),
    /**
     * Static files served by nginx: collected at build time into the image (collect runs in the
     * runtime stage), copied out of it into releases/<v>/static on each host at install.
     */
    static: z
      .object({
        /** URL prefix, such as /static/. */
        url: z.string().regex(/^\/(?:[A-Za-z0-9_.-]+\/)+$/, "expected a URL path that starts and ends with /, such as /static/").default("/static/"),
        /** Directory inside the image that holds the collected files. */
        path: z.string().refine(isSafeAbsPath, "expected an absolute path inside the image").default("/app/static"),
        /** Command run in the runtime stage at build time, e.g. [python, manage.py, collectstatic, --noinput]. */
        collect: commandWords.optional(),
      })
      .strict()
      .optional(),
    /** Persistent directories: name -> path inside the container; kept in <root>/<app>/shared/<name> across releases. */
    shared: z
      .record(z.string().regex(/^[a-z][a-z0-9_-]{0,30}$/, "expected a directory name"), z.string().refine(isSafeAbsPath, "expected an absolute path inside the container"))
      .default({}),
    /** Secret environment variables; values never reach an image, a log line or --verbose output. */
    secrets: z
      .record(z.string().regex(ENV_NAME, "expected an environment variable name"), oneLine)
      .default({})
      .transform((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, new Secret(v)]))),
    /** A file of KEY=value secrets on the deploy machine, relative to depl.yml (mode 0600 recommended). */
    secrets_file: z.string().optional(),
    /**
     * The release phase: a command run once per version in its own image (its env, secrets and
     * shared data) before it first takes real traffic (promote, or a canary): database migrations.
     */
    release: commandWords.optional(),
    release_timeout: duration.pipe(z.number().min(1000, "must be at least 1s")).default("10m"),
    hooks: z
      .object({
        pre_build: hookCommand,
        post_build: hookCommand,
        pre_install: hookCommand,
        post_install: hookCommand,
        pre_promote: hookCommand,
        post_promote: hookCommand,
        post_rollback: hookCommand,
      })
      .strict()
      .default({}),
    env: z.record(z.string().regex(ENV_NAME, "expected an environment variable name"), oneLine).default({}),
    /**
     * Guarded canary (depl canary V N% --watch 10m): canary vs live over the window, judged every
     * interval; alpha is the chance of failing a canary that is no worse than the allowances over
     * the whole watch (the looks share it by an alpha-spending plan).
     */
    canary: z
      .object({
        /** The canary's 5xx rate may reach this whatever live's is. */
        max_5xx_rate: rate.default("1%"),
        /** ...and may exceed live's by this many points (0.5% = half a point). */
        max_5xx_increase: rate.refine((r) => r < 1, "must be below 100%").default("0%"),
        /** The canary's median and p95 latency may exceed live's by this share. */
        max_latency_increase: rate.default("10%"),
        /** canary p95 / live p95 allowed, when set (else 1 + max_latency_increase). */
        max_p95_ratio: z.number().min(1).max(100).optional(),
        /** ...plus this much on both latency allowances: nginx logs whole milliseconds. */
        min_p95_increase: z.union([z.literal(0), duration]).default("1ms"),
        min_requests: z.number().int().min(1).default(200),
        /** Chance of failing a canary no worse than the allowances, over the whole watch. */
        alpha: z.number().gt(0).lt(0.5).default(0.01),
        interval: duration.pipe(z.number().min(1000, "must be at least 1s")).default("10s"),
        /** The watch's first stretch (at most a quarter of the window): requests shown, not judged (JIT, cold caches). */
        warmup: z.union([z.literal(0), duration]).default("60s"),
      })
      .strict()
      .default({}),
    /** log/access.log is rotated past max_size (after each changing command and in stats); keep rotated files, none older than max_age. */
    logs: z
      .object({
        max_size: byteSize.pipe(z.number().min(1024 * 1024, "must be at least 1MB")).default("100MB"),
        keep: z.number().int().min(1).max(1000).default(10),
        max_age: age.default("30d"),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.tls && c.tls.port === c.nginx.listen) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["tls", "port"], message: `is nginx.listen (${c.nginx.listen}) too: HTTP and HTTPS need their own ports` });
    }
    for (const k of Object.keys(c.secrets)) {
      if (k in c.env) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["secrets", k], message: "is also set in env" });
    }
    for (const k of [...Object.keys(c.env), ...Object.keys(c.secrets)]) {
      if (k.startsWith("DEPL_")) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k in c.env ? "env" : "secrets", k], message: "DEPL_ variables are set by depl" });
    }
  });

export type Config = z.output<typeof configSchema>;
export type HostConfig = z.output<typeof hostSchema>;
export type SshHostConfig = Exclude<HostConfig, "local">;

/** The host's name: "local", its configured name, else its address (with :port off 22). */
export function hostName(h: HostConfig | z.input<typeof hostSchema>): string {
  if (h === "local") return "local";
  return h.name ?? (h.port === undefined || h.port === 22 ? h.address : `${h.address}:${h.port}`);
}

/** The roles of a host; "local" has both. */
export function hostRoles(h: HostConfig): readonly (typeof HOST_ROLES)[number][] {
  return h === "local" ? HOST_ROLES : h.roles;
}
