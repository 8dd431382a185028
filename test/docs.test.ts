/**
 * The documentation cannot drift from the code unnoticed: every variable of
 * the configuration schema is in .env.example and in docs/configuration.md
 * (and neither lists one the schema does not have), and every relative link
 * in the Markdown files, and every docs/ path named in a code comment, resolves.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIGURATION_VARIABLES } from "../app/platform/env.server.ts";

const root = path.resolve(import.meta.dirname, "..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");
const SKIP = new Set(["node_modules", "build", ".git", ".cache", "redis/data", "test-results"]);

function files(dir: string, keep: (file: string) => boolean): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const file = path.posix.join(dir, name);
    if (SKIP.has(file) || SKIP.has(name)) return [];
    return statSync(path.join(root, file)).isDirectory() ? files(file, keep) : keep(file) ? [file] : [];
  });
}

const sorted = (names: Iterable<string>) => [...new Set(names)].sort();

describe("configuration", () => {
  it(".env.example names every variable of the schema, and no other", () => {
    const listed = [...read(".env.example").matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!);
    expect(sorted(listed)).toEqual(sorted(CONFIGURATION_VARIABLES));
  });

  it("docs/configuration.md has one row for every variable of the schema, and no other", () => {
    const rows = [...read("docs/configuration.md").matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
    expect(rows.length, "one row each").toBe(new Set(rows).size);
    expect(sorted(rows)).toEqual(sorted(CONFIGURATION_VARIABLES));
  });
});

/** GitHub's heading anchors: lowercase, punctuation other than - and _ dropped, spaces to -. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const slug = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n ? `${slug}-${n}` : slug);
  }
  return result;
}

describe("README", () => {
  it("reads in five minutes: at most 10 KB, the rest in docs/", () => {
    expect(Buffer.byteLength(read("README.md"))).toBeLessThanOrEqual(10_000);
  });

  it("its test line is the one command CI runs, on every Node it runs on", () => {
    const line = /^Tests: `([^`]+)`/m.exec(read("README.md"))?.[1];
    expect(line).toBe("npm run setup && npm run validate");
    const ci = read(".ci/run");
    // One bash -c in a function, and that function is what each Node's run calls.
    expect([...ci.matchAll(/bash -c '([^']*)'/g)].map((m) => m[1])).toEqual([line]);
    expect(ci).toMatch(/^run_test_line\(\) \{\n(?:.*\n)*?\s+bash -c '/m);
    expect(ci.match(/^\s*run_test_line "/gm)).toHaveLength(2);
  });

  it("names the Node versions package.json's engines claims, the machine's 20 and the LTS CI installs", () => {
    const lts = /^lts=(\d+)$/m.exec(read(".ci/run"))?.[1];
    expect(lts).toBe("24");
    expect(read(".ci/run")).toContain('"node@${lts}"');
    const { engines } = JSON.parse(read("package.json")) as { engines: { node: string } };
    expect(engines.node).toBe(`^20.19 || ^${lts}`);
    expect(read("README.md")).toMatch(new RegExp(`^On Debian/Ubuntu with Node\\.js ${lts} \\(or 20\\.19\\+`, "m"));
  });
});

describe("links", () => {
  const markdown = files(".", (f) => f.endsWith(".md"));

  it("finds the Markdown files", () => {
    expect(markdown).toEqual(
      expect.arrayContaining(["README.md", "docs/configuration.md", "docs/decisions/001-sessions-in-redis.md"]),
    );
  });

  it("every relative link in the Markdown files resolves (files, and headings for #anchors)", () => {
    const broken: string[] = [];
    for (const file of markdown) {
      const text = read(file)
        .replace(/```[\s\S]*?```/g, "")
        .replace(/`[^`\n]*`/g, "");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto: …
        const [link = "", anchor] = target!.split("#");
        const resolved = link
          ? path.posix.normalize(path.posix.join(path.posix.dirname(file), decodeURIComponent(link)))
          : file;
        if (!existsSync(path.join(root, resolved))) {
          broken.push(`${file}: ${target} (no ${resolved})`);
        } else if (anchor && resolved.endsWith(".md") && !anchors(read(resolved)).has(anchor)) {
          broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("every docs/ file named in the code, its comments and its configuration exists", () => {
    const sources = files(".", (f) => /\.(ts|tsx|js|conf|sh)$/.test(f) || f === ".env.example");
    const missing: string[] = [];
    for (const file of sources) {
      for (const [named] of read(file).matchAll(/\bdocs\/[\w./-]+\.(md|json|svg)\b/g)) {
        if (!existsSync(path.join(root, named))) missing.push(`${file}: ${named}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("finds a broken link when there is one (the checks above can fail)", () => {
    expect(
      anchors("# Quick start\n## Two designs, measured side by side\n## Two designs, measured side by side"),
    ).toEqual(new Set(["quick-start", "two-designs-measured-side-by-side", "two-designs-measured-side-by-side-1"]));
  });
});

/** The tests docs/conformance.md names: `[test/file.ts](../test/file.ts): "name"; "name"` in its table rows. */
function conformanceReferences(markdown: string): Array<{ row: string; file: string; name: string }> {
  const references: Array<{ row: string; file: string; name: string }> = [];
  for (const row of markdown.split("\n").filter((line) => line.startsWith("| `oidcc-"))) {
    // Each link to a test file, then the quoted names that follow it up to the next link or cell.
    for (const [, file, names] of row.matchAll(/\]\(\.\.\/((?:test|app)\/[^)#]+)\):((?:\s*;?\s*"[^"]+")+)/g)) {
      for (const [, name] of names!.matchAll(/"([^"]+)"/g))
        references.push({ row: row.slice(0, 60), file: file!, name: name! });
    }
  }
  return references;
}

describe("docs/conformance.md", () => {
  const doc = read("docs/conformance.md");
  const references = conformanceReferences(doc);

  it("every test it names exists, under that name, in the file it links", () => {
    expect(references.length).toBeGreaterThan(30);
    const missing = references.filter(
      ({ file, name }) => !existsSync(path.join(root, file)) || !read(file).includes(`"${name}"`),
    );
    expect(missing).toEqual([]);
  });

  it("every module row names a test, or says which work covers it", () => {
    const rows = doc.split("\n").filter((line) => line.startsWith("| `oidcc-"));
    const bare = rows.filter((row) => !/\]\(\.\.\/test\//.test(row) && !/see \[Basic RP\]/.test(row));
    expect(bare).toEqual([]);
  });

  it("every module test of test/conformance.test.ts has a row that names it", () => {
    const named = new Set(references.filter((r) => r.file === "test/conformance.test.ts").map((r) => r.name));
    const tests = [...read("test/conformance.test.ts").matchAll(/\bit\(\s*"(oidcc-[^"]+)"/g)].map((m) => m[1]!);
    expect(tests.length).toBeGreaterThan(10);
    expect(tests.filter((name) => !named.has(name))).toEqual([]);
  });

  it("finds a test that does not exist (the check above can fail)", () => {
    const ghost = ["no", "such", "test"].join(" "); // not a string literal of this file
    const real = "finds a test that does not exist (the check above can fail)";
    const found = conformanceReferences(
      `| \`oidcc-x\` | x | [test/docs.test.ts](../test/docs.test.ts): "${ghost}"; "${real}" | pass | |`,
    );
    expect(found.map((r) => r.name)).toEqual([ghost, real]);
    expect(found.map((r) => read(r.file).includes(`"${r.name}"`))).toEqual([false, true]);
  });
});
