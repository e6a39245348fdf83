import { describe, expect, it } from "vitest";
import { backendPackage, buildBackend, parseRequirements, pyprojectIsPackage } from "../../src/build/source.js";
import { explainFailure } from "../../src/build/build.js";
import { insideContext, neverSent } from "../../src/build/context.js";
import { validateConfig } from "../../src/config/load.js";

describe("pyproject.toml", () => {
  it("reads the build backend of [build-system] only", () => {
    const flit = '[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n\n[project]\nname = "x"\n';
    expect(buildBackend(flit)).toBe("flit_core.buildapi");
    expect(buildBackend("[build-system]\nbuild-backend = 'poetry.core.masonry.api'\n")).toBe("poetry.core.masonry.api");
    expect(buildBackend("[tool.x]\nbuild-backend = \"evil\"\n[build-system]\nrequires = []\n")).toBeNull();
    expect(buildBackend('[build-system]\nbuild-backend = "backend:obj"\n')).toBe("backend");
    expect(buildBackend('[build-system]\nbuild-backend = "x; rm -rf /"\n')).toBeNull();
  });

  it("maps backends to bookworm's packages", () => {
    expect(backendPackage("flit_core.buildapi")).toBe("flit");
    expect(backendPackage("hatchling.build")).toBe("python3-hatchling");
    expect(backendPackage("poetry.core.masonry.api")).toBe("python3-poetry-core");
    expect(backendPackage("setuptools.build_meta")).toBe("python3-setuptools");
    expect(backendPackage("setuptools.build_meta:__legacy__".split(":")[0]!)).toBe("python3-setuptools");
    expect(backendPackage("pdm.backend")).toBeNull();
    expect(backendPackage("flit_corex")).toBeNull();
  });

  it("is a package with [build-system] or [project], not with tool settings alone", () => {
    expect(pyprojectIsPackage("[project]\nname='x'\n")).toBe(true);
    expect(pyprojectIsPackage("[build-system]\nrequires=[]\n")).toBe(true);
    expect(pyprojectIsPackage("[tool.black]\nline-length = 100\n")).toBe(false);
  });
});

describe("requirements files", () => {
  it("finds local paths and builds -e ones as normal wheels", () => {
    const r = parseRequirements("# deps\n./libs/fastcount\n-e ./libs/common\n--editable=./libs/x[extra]\nflask>=2\n-r other.txt\n");
    expect(r.localPaths).toEqual(["libs/fastcount", "libs/common", "libs/x"]);
    expect(r.text).toBe("# deps\n./libs/fastcount\n./libs/common\n./libs/x[extra]\nflask>=2\n-r other.txt\n");
    expect(r.includes).toEqual(["other.txt"]);
    expect(r.names).toEqual(["flask>=2"]);
    expect(parseRequirements("requests[socks] >= 2 ; python_version > '3' # why\npkg @ https://x/y.whl\n--hash=sha256:00\n").names).toEqual(["requests[socks] >= 2 ; python_version > '3'"]);
    expect(parseRequirements("--constraint=c.txt\n-c ../up.txt\n").includes).toEqual(["c.txt", "../up.txt"]);
  });

  it("refuses a path outside the context", () => {
    expect(() => parseRequirements("../elsewhere\n")).toThrow(/not a directory inside the build context/);
    expect(() => parseRequirements("-e /abs/path\n")).toThrow(/not a directory inside the build context/);
  });
});

describe("what never goes into a build context", () => {
  it("drops .git anywhere and the given paths with everything under them", () => {
    const never = ["depl.yml", ".state/depl", "secrets.env"];
    expect(neverSent(".git", never)).toBe(true);
    expect(neverSent("libs/x/.git/config", never)).toBe(true);
    expect(neverSent("depl.yml", never)).toBe(true);
    expect(neverSent(".state/depl/journal.json", never)).toBe(true);
    expect(neverSent("secrets.env", never)).toBe(true);
    expect(neverSent("depl.yml.example", never)).toBe(false);
    expect(neverSent("app/.gitignore", never)).toBe(false);
  });

  it("keeps only paths inside the context", () => {
    expect(insideContext("/w/app", ["/w/app/depl.yml", "/w/other.yml", "/w/app/sub/s.env", "/w/app"])).toEqual(["depl.yml", "sub/s.env", "."]);
  });
});

describe("build failures", () => {
  it("shows depl's own error line", () => {
    expect(explainFailure([
      "Step 4/20 : RUN python3 -c 'import flit_core.buildapi' 2>/dev/null || { echo 'depl-error: x'; exit 1; }",
      " ---> Running in 0123",
      "depl-error: pyproject.toml uses the PEP 517 backend flit_core.buildapi, which is not installed",
    ])).toBe("pyproject.toml uses the PEP 517 backend flit_core.buildapi, which is not installed");
  });

  it("names the three ways to provide a dependency pip cannot find offline", () => {
    const m = explainFailure(["ERROR: Could not find a version that satisfies the requirement Flask_Login>=0.6 (from versions: none)", "ERROR: No matching distribution found for Flask_Login>=0.6"]);
    expect(m).toMatch(/Flask_Login>=0\.6 cannot be found offline/);
    expect(m).toMatch(/build\.python\.find_links/);
    expect(m).toMatch(/build\.python\.index_url/);
    expect(m).toMatch(/python3-flask-login\) under build\.packages\.runtime/);
    expect(explainFailure(["gcc: error"])).toBeNull();
  });
});

describe("run.wsgi", () => {
  const cfg = (wsgi: string) => () => validateConfig({ app: "app1", domain: "app1.localhost", run: { wsgi } });
  it.each(["pkg:app", "pkg.mod:create_app()", "a_b.c1:_x"])("accepts %s", (w) => expect(cfg(w)).not.toThrow());
  it.each(["pkg:create_app(1)", "pkg:create_app( )", "pkg:a.b", "pkg..x:app", "pkg.:app", ".pkg:app", "pkg:app()()", "pkg:app;x", "pkg"])("refuses %s", (w) =>
    expect(cfg(w)).toThrow(/run\.wsgi/),
  );
});

describe("the runtime stage's check of named requirements", () => {
  it("keeps pins under pins: strict and checks names (markers kept) under pins: debian", async () => {
    const { namedCheck } = await import("../../src/build/build.js");
    const names = ["Django==4.0.3", "asgiref>=3.5,<3.6", 'requests[socks]>=1; python_version < "3"', "gunicorn"];
    expect(namedCheck(names, "strict")).toBe(`${names.join("\n")}\n`);
    expect(namedCheck(names, "debian")).toBe('Django\nasgiref\nrequests[socks]; python_version < "3"\ngunicorn\n');
  });

  it("prints what Debian stands in for as a table", async () => {
    const { pinsTable } = await import("../../src/build/build.js");
    expect(pinsTable([])).toEqual([]);
    expect(pinsTable([{ requirement: "asgiref==3.5.0", debian: "3.6.0", package: "python3-asgiref" }])).toEqual([
      "build.python.pins: debian: Debian's versions stand in for 1 pin(s):",
      "  REQUIREMENT     DEBIAN HAS  PACKAGE",
      "  asgiref==3.5.0  3.6.0       python3-asgiref",
    ]);
  });
});
