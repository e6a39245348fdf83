// The bottom module of names: where an app lives on a host. Every other folder may import it; it imports nothing of depl.
import { posix } from "node:path";

/**
 * Where everything of one app lives on a host (see DESIGN.md, "Server layout").
 * Pure: only builds paths from already validated names.
 */
export function layout(root: string, app: string) {
  const base = posix.join(root, app);
  const traffic = posix.join(base, "traffic");
  return {
    base,
    releases: posix.join(base, "releases"),
    release: (v: string) => posix.join(base, "releases", v),
    releaseJson: (v: string) => posix.join(base, "releases", v, "release.json"),
    sockDir: (v: string) => posix.join(base, "releases", v, "sock"),
    socket: (v: string) => posix.join(base, "releases", v, "sock", "app.sock"),
    /** What supervisord runs for a process of a version: releases/<v>/run-<process>.sh */
    runScript: (v: string, process: string) => posix.join(base, "releases", v, `run-${process}.sh`),
    /** Log of a process of a version: log/<v>.log for web, log/<v>-<process>.log for workers. */
    processLog: (v: string, process: string) => posix.join(base, "log", process === "web" ? `${v}.log` : `${v}-${process}.log`),
    /** Static files of a version, copied out of its image at install (config `static`). */
    staticDir: (v: string) => posix.join(base, "releases", v, "static"),
    envFile: (v: string) => posix.join(base, "releases", v, "env"),
    traffic,
    /** traffic/live.sock -> ../releases/<v>/sock/app.sock */
    liveLink: posix.join(traffic, "live.sock"),
    previousLink: posix.join(traffic, "previous.sock"),
    canaryLink: posix.join(traffic, "canary.sock"),
    /** traffic/live.static -> ../releases/<v>/static, moved with live.sock (previous, canary alike). */
    liveStatic: posix.join(traffic, "live.static"),
    previousStatic: posix.join(traffic, "previous.static"),
    canaryStatic: posix.join(traffic, "canary.static"),
    /** traffic/versions/<v>.sock: present only while <v> is installed and healthy (preview route). */
    versionsDir: posix.join(traffic, "versions"),
    versionLink: (v: string) => posix.join(traffic, "versions", `${v}.sock`),
    /** traffic/buckets/<NN>.sock -> ../live.sock or ../canary.sock */
    bucketsDir: posix.join(traffic, "buckets"),
    shared: posix.join(base, "shared"),
    nginxDir: posix.join(base, "nginx"),
    /** Certificates and keys nginx serves (tls:), named by content: nginx/tls/<id>.crt, <id>.key (0600). */
    tlsDir: posix.join(base, "nginx", "tls"),
    siteConf: posix.join(base, "nginx", "site.conf"),
    supervisorDir: posix.join(base, "supervisor"),
    programConf: (program: string) => posix.join(base, "supervisor", `${program}.conf`),
    logDir: posix.join(base, "log"),
    accessLog: posix.join(base, "log", "access.log"),
    stateJson: posix.join(base, "state.json"),
    auditLog: posix.join(base, "audit.log"),
    lock: posix.join(base, "lock"),
  };
}

export type Layout = ReturnType<typeof layout>;

/** The directories every app needs on a host before its first release (setup and install make them). */
export function appDirs(l: Layout): string[] {
  return [l.base, l.releases, l.shared, l.nginxDir, l.supervisorDir, l.logDir];
}

/** supervisord program and container name of a version's web process. */
export function programName(app: string, version: string, process = "web"): string {
  return process === "web" ? `${app}-${version}` : `${app}-${version}-${process}`;
}
