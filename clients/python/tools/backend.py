"""PEP 517 build backend of the agenttrail package: setuptools, after copying
the generated agenttrail.v1 code into src/ (see copy_gen.py).

pyproject.toml names this module with backend-path = ["tools"], so that
`pip install clients/python` and `python -m build` from the repository ship
the code buf generated, and never a stale or missing copy.
"""

from typing import Any

from setuptools import build_meta
from setuptools.build_meta import (
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

import copy_gen

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Builds a wheel after copying the generated code in."""
    copy_gen.ensure()
    return str(build_meta.build_wheel(wheel_directory, config_settings, metadata_directory))


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    """Builds an sdist, which carries src/agenttrail/v1, after copying the
    generated code in."""
    copy_gen.ensure()
    return str(build_meta.build_sdist(sdist_directory, config_settings))


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Builds an editable wheel after copying the generated code in. Run
    tools/copy_gen.py again after regenerating gen/."""
    copy_gen.ensure()
    return str(build_meta.build_editable(wheel_directory, config_settings, metadata_directory))
