// Copies the code buf generated into gen/ts into src/gen, so that it is
// compiled and published with this package and resolves @bufbuild/protobuf
// from this package's node_modules. src/gen is never committed or edited.
import { cpSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const from = join(here, "..", "..", "..", "gen", "ts");
const to = join(here, "..", "src", "gen");
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
