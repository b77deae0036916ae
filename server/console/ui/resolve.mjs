// The esbuild plugin of the console's builds (build.mjs, and the test of
// the verifier's browser build): the verifier comes from
// clients/typescript/src/verify.ts with src/crypto.browser.ts in place of its
// Node.js crypto module, the generated code from gen/ts, and every library
// from this package's node_modules, so that one copy of each is bundled.
// Every callback is synchronous: esbuild numbers files in the order it
// finds them, and asynchronous resolution would make that order, and so the
// minified names, vary from build to build.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ui = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(ui, "..", "..", "..");

export const resolvePlugin = {
  name: "agenttrail",
  setup(b) {
    const verifyDir = join(repo, "clients", "typescript", "src");
    b.onResolve({ filter: /^@agenttrail\/verify$/ }, () => ({ path: join(verifyDir, "verify.ts") }));
    b.onResolve({ filter: /^@agenttrail\/gen\// }, (a) => ({ path: join(repo, "gen", "ts", "agenttrail", "v1", a.path.slice("@agenttrail/gen/".length).replace(/\.js$/, ".ts")) }));
    b.onResolve({ filter: /^\.\/crypto\.js$/ }, (a) => (a.importer.startsWith(verifyDir) ? { path: join(ui, "src", "crypto.browser.ts") } : undefined));
    b.onResolve({ filter: /^\.\/gen\/agenttrail\/v1\// }, (a) =>
      a.importer.startsWith(verifyDir) ? { path: join(repo, "gen", "ts", "agenttrail", "v1", a.path.slice("./gen/agenttrail/v1/".length).replace(/\.js$/, ".ts")) } : undefined,
    );
    b.onResolve({ filter: /^\.\/[a-z_]+_pb\.js$/ }, (a) =>
      a.importer.startsWith(join(repo, "gen", "ts")) ? { path: join(dirname(a.importer), a.path.replace(/\.js$/, ".ts")) } : undefined,
    );
    // The verifier and the generated code import @bufbuild/protobuf from
    // outside this package: resolve it here (Node's ESM resolution of this
    // module, synchronous, so that the build stays deterministic).
    b.onResolve({ filter: /^@bufbuild\/protobuf(\/|$)/ }, (a) =>
      a.importer.startsWith(ui + "/") ? undefined : { path: fileURLToPath(import.meta.resolve(a.path)) },
    );
  },
};

