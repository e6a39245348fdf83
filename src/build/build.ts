import { resolve } from "node:path";
import type { Config } from "../config/schema.js";
import { DeplError, UsageError } from "../errors.js";
import { contextStream, readRequirements } from "./context.js";
import { DEPL_DIR, renderDockerfile, type ImageLabels } from "./dockerfile.js";
import { existsSync } from "node:fs";

export interface BuildArgs {
  config: Config;
  /** Directory of depl.yml: build.context is relative to it. */
  configDir: string;
  version: string;
  meta: { commit: string | null; dirty: boolean; branch: string | null; builtAt: string; builtBy: string };
  verbose: boolean;
  log: (m: string) => void;
  /** Overrides the generated Dockerfile (the size benchmark's single-stage build). */
  dockerfile?: string;
  tag?: string;
}

export interface BuildResult {
  image: string;
  imageId: string;
  sizeBytes: number;
  /** Docker's output, for callers that measure cache use. */
  output: string;
}

interface BuildEvent {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/** "Step 3/14 : RUN ..." -> a short progress line. Pure. */
export function progressLine(stream: string): string | null {
  const m = /^Step (\d+\/\d+) : (.*)$/m.exec(stream);
  if (!m) return null;
  const what = m[2]!.replace(/\s+/g, " ");
  return `  step ${m[1]}: ${what.length > 90 ? what.slice(0, 87) + "..." : what}`;
}

/** Builds <app>:<version> with Docker Engine from the app's directory and a generated Dockerfile. */
export async function buildRelease(a: BuildArgs): Promise<BuildResult> {
  const { config } = a;
  const dir = resolve(a.configDir, config.build.context);
  if (!existsSync(dir)) throw new UsageError(`build.context: directory ${dir} does not exist`);
  const labels: ImageLabels = { app: config.app, version: a.version, ...a.meta };
  const dockerfile = a.dockerfile ?? renderDockerfile(config, labels);
  const tag = a.tag ?? `${config.app}:${a.version}`;
  const tar = contextStream(dir, { dockerfile, requirements: readRequirements(dir, config.build.python.requirements) });

  const { default: Docker } = await import("dockerode");
  const docker = new Docker();
  const stream = await docker.buildImage(tar, { t: tag, dockerfile: `${DEPL_DIR}/Dockerfile`, rm: true, forcerm: true });
  let output = "";
  let failure: string | null = null;
  await new Promise<void>((ok, fail) => {
    docker.modem.followProgress(
      stream,
      (err) => (err ? fail(err) : ok()),
      (e: BuildEvent) => {
        if (e.error) failure = e.errorDetail?.message ?? e.error;
        if (!e.stream) return;
        output += e.stream;
        if (a.verbose) process.stderr.write(e.stream);
        else {
          const p = progressLine(e.stream);
          if (p) a.log(p);
        }
      },
    );
  });
  if (failure) {
    const tail = output.trimEnd().split("\n").slice(-15).join("\n");
    throw new DeplError(`build of ${tag} failed: ${failure}\n--- last lines of the build ---\n${tail}`);
  }
  const info = await docker.getImage(tag).inspect();
  return { image: tag, imageId: info.Id, sizeBytes: info.Size, output };
}
