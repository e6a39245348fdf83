"""depl's pin check, run in the build stage before any wheel is built.

Every requirement of the app's requirements files (and the files they
include with -r) is checked against what the build stage has: Debian's
Python packages (the venv sees them) and the wheelhouse (build.python.find_links).
All the pins that nothing here meets are listed at once, each with the
version Debian has and the package that provides it, instead of pip's
failure on the first one after minutes of building.

  python3 depl_pins.py --mode strict|debian [--wheelhouse DIR] [--rewrite] REQUIREMENTS...

strict: unmet pins fail the build (exit 1, one depl-error line).
debian: a pin that Debian's installed version does not meet is replaced by
the bare name in the requirements file (with --rewrite), so that Debian's
version stands in; the substitutions are printed as a table and written to
/opt/depl/pins.json (JSON list) for the runtime image.
"""
import json
import os
import re
import subprocess
import sys
from importlib import metadata

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
    from packaging.version import InvalidVersion, Version
except ImportError:  # pip's own copy (the venv's pip)
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
    from pip._vendor.packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
    from pip._vendor.packaging.version import InvalidVersion, Version

MARK = "depl-error:"


def requirement_lines(path, seen=None):
    """(file, line) of each requirement, following -r includes; options and local paths are skipped."""
    seen = seen if seen is not None else set()
    real = os.path.realpath(path)
    if real in seen:
        return
    seen.add(real)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"\\\n", " ", text)
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        m = re.match(r"^(?:-r|--requirement)\s*=?\s*(\S+)$", line)
        if m:
            yield from requirement_lines(os.path.join(os.path.dirname(path), m.group(1)), seen)
            continue
        if line.startswith("-") or line.startswith(".") or line.startswith("/") or "://" in line:
            continue  # options, constraints, local paths and URLs: pip takes them as they are
        line = re.split(r"\s+--", line)[0].strip()  # per-requirement options (--hash=...)
        yield path, line


def wheelhouse_versions(directory):
    found = {}
    if not directory or not os.path.isdir(directory):
        return found
    for name in os.listdir(directory):
        try:
            if name.endswith(".whl"):
                dist, version, _, _ = parse_wheel_filename(name)
            elif name.endswith((".tar.gz", ".zip")):
                dist, version = parse_sdist_filename(name)
            else:
                continue
        except Exception:
            continue
        found.setdefault(canonicalize_name(dist), []).append(version)
    return found


def debian_package(dist):
    """The Debian package that installed a distribution (dpkg owns its metadata directory), or None."""
    path = getattr(dist, "_path", None)  # the .dist-info or .egg-info directory (or file)
    if path is None:
        return None
    try:
        out = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    m = re.match(r"^([^:\s,]+)(?::\S+)?: ", out)
    return m.group(1) if m else None


def main(argv):
    mode, wheelhouse, rewrite, files = "strict", None, False, []
    args = iter(argv)
    for a in args:
        if a == "--mode":
            mode = next(args)
        elif a == "--wheelhouse":
            wheelhouse = next(args)
        elif a == "--rewrite":
            rewrite = True
        else:
            files.append(a)
    wheels = wheelhouse_versions(wheelhouse)
    unmet, missing, substituted = [], [], []
    rewrites = {}
    for path, line in [x for f in files for x in requirement_lines(f)]:
        try:
            req = Requirement(line)
        except InvalidRequirement as e:
            print(f"{MARK} {path}: cannot read the requirement {line!r}: {e}")
            return 1
        if req.marker is not None and not req.marker.evaluate():
            continue
        key = canonicalize_name(req.name)
        if any(req.specifier.contains(v, prereleases=True) for v in wheels.get(key, [])):
            continue  # the wheelhouse meets it
        try:
            dist = metadata.distribution(req.name)
            have = dist.version
        except metadata.PackageNotFoundError:
            dist, have = None, None
        if have is not None:
            try:
                ok = req.specifier.contains(Version(have), prereleases=True)
            except InvalidVersion:
                ok = False
            if ok:
                continue
            row = {"requirement": line, "name": req.name, "wanted": str(req.specifier), "debian": have, "package": debian_package(dist), "file": path}
            if mode == "debian" and row["package"]:
                substituted.append(row)
                rewrites.setdefault(path, []).append(line)
            else:
                unmet.append(row)
        else:
            missing.append({"requirement": line, "name": req.name, "file": path})

    if substituted:
        print("depl: build.python.pins: debian: Debian's versions stand in for these pins:")
        print(f"depl:   {'REQUIREMENT':<32} {'DEBIAN HAS':<14} PACKAGE")
        for r in substituted:
            print(f"depl:   {r['requirement']:<32} {r['debian']:<14} {r['package']}")
        if rewrite:
            for path, lines in rewrites.items():
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for line in lines:
                    name = re.match(r"^\s*([A-Za-z0-9._-]+(?:\[[^\]]*\])?)", line).group(1)
                    text = re.sub(r"(?m)^\s*" + re.escape(line) + r"\s*(#.*)?$", name, text, count=1)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
    os.makedirs("/opt/depl", exist_ok=True)
    with open("/opt/depl/pins.json", "w", encoding="utf-8") as f:
        json.dump([{k: r[k] for k in ("requirement", "debian", "package")} for r in substituted], f)
    if unmet:
        print(f"depl: {len(unmet)} pinned requirement(s) that neither Debian's packages nor the wheelhouse meet:")
        print(f"depl:   {'REQUIREMENT':<32} {'DEBIAN HAS':<14} PACKAGE")
        for r in unmet:
            print(f"depl:   {r['requirement']:<32} {r['debian']:<14} {r['package'] or '(not a Debian package)'}")
        listed = "; ".join(f"{r['requirement']} (Debian has {r['debian']}{', ' + r['package'] if r['package'] else ''})" for r in unmet)
        fix = (
            "Debian's packages cannot stand in for them: loosen them, or provide the wheels (build.python.find_links or index_url)"
            if mode == "debian"
            else "Loosen them, set build.python.pins: debian to let Debian's versions stand in, or provide the wheels (build.python.find_links or index_url)"
        )
        print(f"{MARK} {len(unmet)} pin(s) not met offline: {listed}. {fix}")
        return 1
    for r in missing:
        print(f"depl: {r['requirement']} is not installed yet: pip resolves it (a Debian package under build.packages or a wheel is needed offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
