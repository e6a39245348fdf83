import { relative, resolve } from "node:path";
import { loadConfig } from "../config/load.js";
import { UsageError, quote } from "../errors.js";
import { applySite } from "../nginx/apply.js";
import { servesWeb } from "../release/on-host.js";
import { expiryText, loadTls } from "../tls/certificates.js";
import { servedCertificates } from "../tls/install.js";
import { certificateNames, selfSigned } from "../tls/self-signed.js";
import { onHosts, withContext, withLocks, type GlobalOptions } from "./context.js";

/** Puts depl.yml's certificates on every web host: one nginx reload per host where they changed. */
export async function renew(g: GlobalOptions): Promise<void> {
  await withContext(g, {}, async (ctx) => {
    const { config } = ctx;
    if (!config.tls) throw new UsageError("depl.yml has no tls: section, so there is nothing to renew (depl tls self-signed makes certificates for a try-out)");
    // Every certificate checked here, before any host is touched.
    const plan = loadTls(config.tls, config.domain, config.subdomains);
    await withLocks(ctx, "tls renew", g.wait, () =>
      onHosts(ctx, "tls renew", async (a) => {
        if (!servesWeb(a)) return;
        const start = Date.now();
        const r = await applySite(a.host, config);
        a.say(
          r.changed
            ? `${a.host.name}: certificates in place, nginx ${r.reloaded ? `reloaded once (${Date.now() - start} ms)` : "not running: they take effect when it starts"}`
            : `${a.host.name}: already serving these certificates`,
        );
        for (const c of await servedCertificates(a.host, a.layout)) a.say(`${a.host.name}: ${c.names.join(", ")}: ${expiryText(c.notAfter)}`);
      }),
    );
    ctx.say(`tls: ${plan.certificates.length} certificate${plan.certificates.length > 1 ? "s" : ""} for ${[...plan.byName.keys()].join(", ")}`);
  });
}

/** A local CA (made once, kept) and a certificate for the app's names; prints what to add to depl.yml and how to trust the CA. */
export async function selfSignedCommand(g: GlobalOptions, o: { dir?: string; days?: string }): Promise<void> {
  const days = o.days === undefined ? 90 : Number(o.days);
  if (!Number.isInteger(days) || days < 1 || days > 825) throw new UsageError(`invalid --days ${quote(String(o.days))}: expected a whole number of days, 1-825`);
  const loaded = loadConfig(g.config, {}, g.destination ?? null);
  const { config } = loaded;
  const dir = resolve(loaded.dir, o.dir ?? "tls");
  const { ca, leaf } = selfSigned(dir, config.domain, config.subdomains, days);
  const rel = (p: string) => relative(loaded.dir, p) || p;
  const named = config.tls?.certificates.some((c) => c.cert === leaf.cert && c.key === leaf.key);
  const lines = [
    ca.made
      ? `made a local CA: ${rel(ca.cert)} (key ${rel(ca.key)}, mode 0600; it can vouch only for ${config.domain} and names under it)`
      : `reused the local CA ${rel(ca.cert)}`,
    `made ${rel(leaf.cert)} (key ${rel(leaf.key)}) for ${certificateNames(config.domain, config.subdomains).join(", ")}, valid ${days} days`,
    "",
    named
      ? "depl.yml names these files already: depl tls renew (or depl setup) puts them on the hosts."
      : "Add to depl.yml, then run depl setup (or depl tls renew):",
    ...(named ? [] : ["tls:", "  certificates:", `    - { cert: ${rel(leaf.cert)}, key: ${rel(leaf.key)} }`]),
    "",
    "Trust the CA where you browse from (once; a new certificate from the same CA needs nothing):",
    `  curl:     curl --cacert ${ca.cert} https://${config.domain}/`,
    `  Chromium: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n "depl ${config.domain}" -i ${ca.cert}   (libnss3-tools; restart Chromium)`,
    `  Debian:   cp ${ca.cert} /usr/local/share/ca-certificates/ && update-ca-certificates   (curl, Python, wget)`,
    `Previews over HTTPS use dashes for the dots of a version (https://2026-11-21-22-56.${config.domain}/): a wildcard certificate covers one label.`,
  ];
  console.log(lines.join("\n"));
}
