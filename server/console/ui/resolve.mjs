// How the console's builds (build.mjs, and the test of the verifier's
// browser build) find their modules: the verifier comes from
// clients/typescript/src/verify.ts with src/crypto.browser.ts in place of its
// Node.js crypto module, the generated code from gen/ts, and every library
// from this package's node_modules, so that one copy of each is bundled.
//
// A file must be reached one way only: either always through a path the
// plugin returns, or always through esbuild's own resolver. esbuild takes a
// file's settings (package.json's "sideEffects" and "type", tsconfig.json)
// from the first resolution of it to finish, and a plugin's path carries
// none of them; a file reached both ways is parsed with one set or the
// other, depending on timing, and the bundle changes. That was the
// nondeterministic build: @bufbuild/protobuf's entry files, reached by the
// plugin from the verifier and the generated code and by esbuild from the
// console and @connectrpc, were sometimes kept without the package's
// "sideEffects": false, and the minified names followed from their
// characters. So the libraries are esbuild's (alias), the repository's own
// files the plugin's, and the plugin fails a build that asks for a
// metafile (build.mjs does) when a file was reached both ways.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ui = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(ui, "..", "..", "..");

const verifyDir = join(repo, "clients", "typescript", "src");
const genDir = join(repo, "gen", "ts", "agenttrail", "v1");

export const resolvePlugin = {
  name: "agenttrail",
  setup(b) {
    const handled = new Set(); // importer + "\0" + import path, for each path the plugin returned
    const on = (filter, fn) =>
      b.onResolve({ filter }, (a) => {
        const r = fn(a);
        if (r) handled.add(a.importer + "\0" + a.path);
        return r;
      });
    on(/^@agenttrail\/verify$/, () => ({ path: join(verifyDir, "verify.ts") }));
    on(/^@agenttrail\/gen\//, (a) => ({ path: join(genDir, a.path.slice("@agenttrail/gen/".length).replace(/\.js$/, ".ts")) }));
    on(/^\.\/crypto\.js$/, (a) => (a.importer.startsWith(verifyDir + "/") ? { path: join(ui, "src", "crypto.browser.ts") } : undefined));
    on(/^\.\/gen\/agenttrail\/v1\//, (a) =>
      a.importer.startsWith(verifyDir + "/") ? { path: join(genDir, a.path.slice("./gen/agenttrail/v1/".length).replace(/\.js$/, ".ts")) } : undefined,
    );
    on(/^\.\/[a-z_]+_pb\.js$/, (a) =>
      a.importer.startsWith(join(repo, "gen", "ts") + "/") ? { path: join(dirname(a.importer), a.path.replace(/\.js$/, ".ts")) } : undefined,
    );
    b.onEnd((result) => {
      if (!result.metafile) return;
      const cwd = b.initialOptions.absWorkingDir ?? process.cwd();
      const ways = new Map();
      for (const [file, input] of Object.entries(result.metafile.inputs)) {
        for (const imp of input.imports) {
          if (imp.external) continue;
          const way = handled.has(resolve(cwd, file) + "\0" + imp.original) ? "plugin" : "esbuild";
          ways.set(imp.path, (ways.get(imp.path) ?? new Set()).add(way));
        }
      }
      const both = [...ways].filter(([, w]) => w.size > 1).map(([f]) => f);
      if (both.length > 0) {
        return { errors: [{ text: `reached both through the agenttrail plugin and through esbuild, so built with settings that depend on timing (see resolve.mjs): ${both.sort().join(", ")}` }] };
      }
    });
  },
};

// The options every console build uses. @bufbuild/protobuf is imported from
// outside this package too (the verifier and the generated code): the alias
// makes esbuild resolve every import of it from absWorkingDir, this
// package, whatever the importer.
export const resolveOptions = {
  absWorkingDir: ui,
  alias: { "@bufbuild/protobuf": "@bufbuild/protobuf" },
  plugins: [resolvePlugin],
};
