import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { shellQuote, shellQuoteWord } from "../../src/host/shell.js";

const HOSTILE = [
  "",
  " ",
  "a b",
  "it's",
  "''",
  `"double" quotes`,
  "$(touch /tmp/depl-pwned)",
  "`id`",
  "$HOME ${PATH}",
  "line1\nline2\n",
  "tab\there",
  "*",
  "?",
  "~",
  "~root",
  "#not a comment",
  "a=b",
  "-n",
  "back\\slash",
  "!event",
  "; rm -rf / &",
  "a|b>c<d&e",
  "{a,b}",
  "[abc]",
  "ünïcødé ✓",
];

/** What a real shell makes of the quoted line: the argv it would pass on. */
function argvAfter(shell: string, words: readonly string[]): string[] {
  const out = execFileSync(shell, ["-c", `printf '%s\\0' ${shellQuote(words)}`], { encoding: "utf8" });
  return out.split("\0").slice(0, -1);
}

describe("shellQuote", () => {
  it("leaves plain words alone", () => {
    expect(shellQuote(["docker", "run", "--name", "app-2024.01.02.03.04", "/srv/depl/app1", "a:b,c@d+e%f"])).toBe(
      "docker run --name app-2024.01.02.03.04 /srv/depl/app1 a:b,c@d+e%f",
    );
  });

  it("single-quotes everything else, closing and escaping embedded quotes", () => {
    expect(shellQuoteWord("")).toBe("''");
    expect(shellQuoteWord("a b")).toBe("'a b'");
    expect(shellQuoteWord("it's")).toBe(`'it'\\''s'`);
    expect(shellQuoteWord("$(id)")).toBe("'$(id)'");
    expect(shellQuoteWord("a=b")).toBe("'a=b'");
    expect(shellQuoteWord("~")).toBe("'~'");
  });

  it("rejects NUL, which no argv can carry", () => {
    expect(() => shellQuote(["a\0b"])).toThrow(/NUL/);
  });

  for (const shell of ["sh", "bash"]) {
    it(`round-trips hostile strings through ${shell}`, () => {
      expect(argvAfter(shell, HOSTILE)).toEqual(HOSTILE);
      for (const word of HOSTILE) expect(argvAfter(shell, [word])).toEqual([word]);
    });
  }

  it("never lets the first word become an assignment", () => {
    const out = execFileSync("sh", ["-c", `${shellQuote(["FOO=bar", "x"])} 2>&1 || true`], { encoding: "utf8" });
    expect(out).toMatch(/FOO=bar.*not found/);
  });
});
