"""Copies the generated agenttrail.v1 code into the package source.

buf generates the Python code for proto/agenttrail/v1 into gen/python at the
repository root (see buf.gen.yaml); the package ships it as agenttrail.v1.
This script copies gen/python/agenttrail/v1 to src/agenttrail/v1 and adds the
package's __init__.py. src/agenttrail/v1 is ignored by git and never edited by
hand: run this script after every `buf generate`, before testing or building.
.ci/test runs it, and the package's build backend (tools/backend.py) runs it
before every build from the repository. Building from an sdist, which already
holds src/agenttrail/v1, needs no copy.

Usage: python tools/copy_gen.py
"""

import pathlib
import shutil
import sys

HERE = pathlib.Path(__file__).resolve().parent
#: Where buf writes the generated code.
GENERATED = HERE.parents[2] / "gen" / "python" / "agenttrail" / "v1"
#: Where the package holds its copy.
PACKAGE = HERE.parent / "src" / "agenttrail" / "v1"

INIT = '''"""The agenttrail.v1 API: messages and gRPC stubs generated from proto/agenttrail/v1.

Copied from gen/python by tools/copy_gen.py; never edit.
"""
'''


def copy(generated: pathlib.Path = GENERATED, package: pathlib.Path = PACKAGE) -> None:
    """Replaces package with a fresh copy of generated and its __init__.py."""
    if not (generated / "event_pb2.py").is_file():
        raise FileNotFoundError(f"no generated code in {generated}: run .ci/generate")
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(generated, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").write_text(INIT, encoding="utf-8")


def ensure() -> None:
    """Copies the generated code when building from the repository, and
    checks that the package holds it when building from an sdist."""
    if GENERATED.is_dir():
        copy()
    elif not (PACKAGE / "event_pb2.py").is_file():
        raise FileNotFoundError(
            f"neither {GENERATED} nor {PACKAGE} holds the generated agenttrail.v1 code"
        )


def main() -> int:
    copy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
