import { createHash } from "node:crypto";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get } from "../helpers/http.js";
import { buildinst, cleanupApp, example, must, PORT, sh } from "./apps-helpers.js";

// examples/djangosite: `django-admin startproject` + one app with a model and
// a migration, Django from Debian, SQLite in shared/, migrations in
// post_install, admin static files collected at build and served by nginx.

const d = example("djangosite");
let v1: string;
let v2: string;

async function post(host: string, path: string, form: Record<string, string>) {
  const r = await request(`http://127.0.0.1:${PORT}${path}`, {
    method: "POST",
    headers: { host, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
  return { status: r.statusCode, body: await r.body.text() };
}
const notes = async (host: string) => {
  const r = await get(PORT, host, "/notes");
  expect(r.status, r.body).toBe(200);
  return JSON.parse(r.body) as { version: string; notes: { text: string; version: string }[] };
};
const texts = async (host: string) => (await notes(host)).notes.map((n) => n.text);

beforeAll(async () => {
  cleanupApp(d);
  await must(d, ["setup"]);
  v1 = await buildinst(d);
});

afterAll(() => cleanupApp(d));

describe("examples/djangosite (startproject, migrations, admin static)", () => {
  it("ran its migrations in post_install, into the shared SQLite database", async () => {
    const r = await d.run(["exec", v1, "--", "python", "manage.py", "showmigrations", "notes", "admin"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\[X\] 0001_initial/);
    expect(r.stdout).not.toMatch(/\[ \]/);
    expect(sh(`ls ${d.base}/shared/data/`)).toContain("db.sqlite3");
  });

  it("answers at its preview URL with the version it runs, and /health", async () => {
    const r = await get(PORT, `${v1}.${d.domain}`);
    expect(r.status, r.body).toBe(200);
    expect(r.body).toContain("Hello from djangosite");
    expect(r.body).toContain(`<span id="version">${v1}</span>`);
    expect((await get(PORT, `${v1}.${d.domain}`, "/health")).body).toBe("ok\n");
  });

  it("serves the admin's CSS (collected at build, DEBUG off) through the preview", async () => {
    const login = await get(PORT, `${v1}.${d.domain}`, "/admin/login/");
    expect(login.status).toBe(200);
    expect(login.body).toContain("Django administration");
    expect(login.body).toContain('href="/static/admin/css/base.css"');
    const css = await get(PORT, `${v1}.${d.domain}`, "/static/admin/css/base.css");
    expect(css.status).toBe(200);
    expect(String(css.headers["content-type"])).toMatch(/^text\/css/);
    expect(css.body).toMatch(/#header\s*\{/);
    const same = await d.run(["exec", v1, "--", "sh", "-c", "sha256sum < /app/static/admin/css/base.css"]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout.split(" ")[0]).toBe(createHash("sha256").update(css.body).digest("hex"));
    // The symlink into Debian's libjs-jquery became a real file at collect time.
    expect((await get(PORT, `${v1}.${d.domain}`, "/static/admin/js/vendor/jquery/jquery.js")).status).toBe(200);
  });

  it("keeps data created through a POST and through depl exec across release 2 and a rollback", async () => {
    const created = await post(`${v1}.${d.domain}`, "/notes", { text: "posted to the v1 preview" });
    expect(created.status, created.body).toBe(201);
    expect(JSON.parse(created.body)).toMatchObject({ version: v1 });
    const shell = await d.run([
      "exec", v1, "--", "python", "manage.py", "shell", "-c",
      "from notes.models import Note; Note.objects.create(text='created by depl exec', version='exec'); print(Note.objects.count())",
    ]);
    expect(shell.code, shell.stderr).toBe(0);
    expect(shell.stdout.trim()).toBe("2");

    await must(d, ["promote", v1]);
    expect(await texts(d.domain)).toEqual(["posted to the v1 preview", "created by depl exec"]);

    v2 = await buildinst(d);
    expect(v2).not.toBe(v1);
    expect(await texts(`${v2}.${d.domain}`)).toEqual(["posted to the v1 preview", "created by depl exec"]);
    await must(d, ["promote", v2]);
    const live = await notes(d.domain);
    expect(live.version).toBe(v2);
    expect((await post(d.domain, "/notes", { text: "posted to v2 live" })).status).toBe(201);

    await must(d, ["rollback"]);
    const back = await notes(d.domain);
    expect(back.version).toBe(v1);
    expect(back.notes.map((n) => n.text)).toEqual(["posted to the v1 preview", "created by depl exec", "posted to v2 live"]);
    expect(back.notes[2]!.version).toBe(v2);
  });

  it("serves the admin's CSS on the base domain, and the login page uses it", async () => {
    const css = await get(PORT, d.domain, "/static/admin/css/base.css");
    expect(css.status).toBe(200);
    expect(css.body).toMatch(/#header\s*\{/);
    expect((await get(PORT, d.domain, "/static/admin/css/nope.css")).status).toBe(404);
    expect((await get(PORT, d.domain, "/admin/login/")).body).toContain("/static/admin/css/base.css");
  });

  it("exec passes manage.py's exit code", async () => {
    const r = await d.run(["exec", v1, "--", "python", "manage.py", "shell", "-c", "import sys; sys.exit(4)"]);
    expect(r.code, r.stderr).toBe(4);
    const bad = await d.run(["exec", v1, "--", "python", "manage.py", "no-such-command"]);
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stderr + bad.stdout).toMatch(/Unknown command: 'no-such-command'/);
  });
});
