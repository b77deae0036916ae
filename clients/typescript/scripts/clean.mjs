// Removes build outputs given as arguments (paths relative to the package),
// so that a build never ships files left over from an earlier one.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
for (const path of process.argv.slice(2)) {
  rmSync(join(root, path), { recursive: true, force: true });
}
