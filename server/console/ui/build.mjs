// Builds the console into ../assets: one script and one stylesheet, named
// by a hash of their content, and the index.html that loads them. The
// output depends only on the sources and the pinned packages
// (package-lock.json), so CI rebuilds it and fails when it differs from what
// is committed: `node build.mjs --check`.
//
// The verifier is the TypeScript client's own (clients/typescript/src/
// verify.ts), bundled with the code buf generated (gen/ts) and with
// src/crypto.browser.ts in place of its Node.js crypto module.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { resolveOptions, ui } from "./resolve.mjs";

const assets = resolve(ui, "..", "assets");
const check = process.argv.includes("--check");

function hashOf(bytes) {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 12);
}

async function buildInto(out) {
  const result = await build({
    entryPoints: [join(ui, "src", "main.tsx"), join(ui, "src", "app.css")],
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome120", "firefox120", "safari17"],
    platform: "browser",
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "none",
    sourcemap: false,
    write: false,
    outdir: "out",
    metafile: true, // for the plugin's check that each file is reached one way (resolve.mjs)
    logLevel: "warning",
    ...resolveOptions,
  });
  mkdirSync(out, { recursive: true });
  const names = {};
  for (const f of result.outputFiles) {
    const ext = f.path.endsWith(".css") ? "css" : "js";
    const name = `app-${hashOf(f.contents)}.${ext}`;
    writeFileSync(join(out, name), f.contents);
    names[ext] = name;
  }
  const html = readFileSync(join(ui, "src", "index.html"), "utf8").replace("{{js}}", `/assets/${names.js}`).replace("{{css}}", `/assets/${names.css}`);
  writeFileSync(join(out, "index.html"), html);
  return names;
}

function listing(dir) {
  return Object.fromEntries(readdirSync(dir).sort().map((n) => [n, readFileSync(join(dir, n))]));
}

if (check) {
  const scratch = mkdtempSync(join(tmpdir(), "agenttrail-console-"));
  let differ;
  try {
    await buildInto(scratch);
    const want = listing(scratch);
    const got = listing(assets);
    differ = Object.keys({ ...want, ...got }).filter((n) => !want[n] || !got[n] || !want[n].equals(got[n]));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (differ.length > 0) {
    console.error(`server/console/assets is not what server/console/ui builds (differs: ${differ.join(", ")}): run npm run build in server/console/ui and commit the assets.`);
    process.exit(1);
  }
  console.log("server/console/assets matches server/console/ui");
} else {
  rmSync(assets, { recursive: true, force: true });
  const names = await buildInto(assets);
  console.log(`built ${names.js} and ${names.css} into server/console/assets`);
}
