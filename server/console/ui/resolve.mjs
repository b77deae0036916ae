// The esbuild plugin of the console's builds (build.mjs, and the test of
// the verifier's browser build): the verifier comes from
// clients/typescript/src/verify.ts with src/crypto.browser.ts in place of its
// Node.js crypto module, the generated code from gen/ts, and every library
// from this package's node_modules, so that one copy of each is bundled.
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
    b.onResolve({ filter: /^(@bufbuild|@connectrpc|@noble|@tanstack|preact)(\/|$)/ }, async (a) => {
      if (a.pluginData === "ui") return undefined;
      const r = await b.resolve(a.path, { resolveDir: ui, kind: a.kind, pluginData: "ui" });
      return r.errors.length ? { errors: r.errors } : { path: r.path };
    });
  },
};

