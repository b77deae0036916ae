// Paths to the repository's shared test data.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** clients/testdata: fixtures and vectors shared by the Go, Python and TypeScript suites. */
export const testdata = join(here, "..", "..", "testdata");
