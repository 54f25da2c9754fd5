"""What is needed to reproduce a result: environment, git state, package
versions, and the seeding of random generators before each item.

Standard library only; numpy and torch are seeded only when already imported.
"""

from __future__ import annotations

import getpass
import hashlib
import importlib.metadata
import numbers
import platform
import random
import socket
import subprocess
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["environment", "git_state", "packages_of", "seed_everything", "seed_for"]

#: Always recorded when loaded, whatever the experiment module imports.
NOTABLE = {
    "numpy": "numpy",
    "torch": "torch",
    "sklearn": "scikit-learn",
    "pandas": "pandas",
    "jax": "jax",
    "scipy": "scipy",
}


def _git(root: Path, *args: str) -> str | None:
    try:
        completed = subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if completed.returncode != 0:
        return None
    return completed.stdout.decode("utf-8", "replace").strip()


def git_state(root: Path) -> dict[str, Any]:
    """Commit, branch, dirty flag and a hash of the diff of ``root``'s
    repository; ``{}`` without git or outside a repository."""
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return {}
    state: dict[str, Any] = {"commit": commit, "branch": _git(root, "rev-parse", "--abbrev-ref", "HEAD") or ""}
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    state["dirty"] = bool(status)
    if status:
        diff = _git(root, "diff", "HEAD") or ""
        state["diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()
    return state


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return ""


def environment(root: Path) -> dict[str, Any]:
    """Where results of this process are computed (one record per segment)."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "user": _user(),
        "git": git_state(root),
    }


_DISTRIBUTIONS: dict[str, list[str]] = {}


def _distributions() -> Mapping[str, list[str]]:
    if not _DISTRIBUTIONS:
        try:
            _DISTRIBUTIONS.update(importlib.metadata.packages_distributions())
        except Exception:  # a broken distribution's metadata
            _DISTRIBUTIONS["<none>"] = []
    return _DISTRIBUTIONS


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def packages_of(module: types.ModuleType | None) -> dict[str, str]:
    """Versions of the installed distributions ``module`` imported (its
    module-level imports), plus numpy, torch, scikit-learn, pandas, scipy
    and jax when they are loaded."""
    tops: set[str] = set()
    if module is not None:
        for value in vars(module).values():
            name = getattr(value, "__module__", None) if not isinstance(value, types.ModuleType) else value.__name__
            if isinstance(name, str) and name:
                tops.add(name.split(".")[0])
    tops.update(name for name in NOTABLE if name in sys.modules)
    found: dict[str, str] = {}
    mapping = _distributions()
    for top in sorted(tops):
        # Python 3.10 maps only distributions that ship top_level.txt (not
        # numpy's meson wheels): fall back to the usual name of the import.
        for distribution in mapping.get(top) or [NOTABLE.get(top, top)]:
            version = _version(distribution)
            if version is not None:
                found[distribution] = version
    return found


def seed_for(config: Mapping[str, Any], key: str) -> int:
    """``config["seed"]`` when it is an integer, else one derived from the key."""
    seed = config.get("seed")
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and type(seed).__name__ != "bool_":
        return int(seed)
    return int(key[:8], 16)


def seed_everything(seed: int) -> list[str]:
    """Seed ``random``, numpy's global generator and torch (when they are
    already imported); returns what was seeded."""
    random.seed(seed)
    seeded = ["random"]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % (2**32))
        seeded.append("numpy")
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(seed)
        seeded.append("torch")
    return seeded
