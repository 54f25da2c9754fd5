"""Each xdist worker's share of the machine as the settings give it:
``--memento-threads`` and ``--memento-gpus`` (command line, then
environment, then ini, then ``auto``). Pure: no pytest; what the values
mean for a worker is :mod:`.workers`.
"""

from __future__ import annotations

import re

from .sources import SettingsError, Sources, layered
from .workers import GpuSetting, ThreadSetting

__all__ = ["resolve_gpus", "resolve_threads"]


def resolve_threads(sources: Sources) -> ThreadSetting:
    found = layered(sources, "memento_threads", "MEMENTO_THREADS", "memento_threads")
    if found is None:
        return "auto"
    where, text = found
    if text.lower() in ("auto", "off"):
        return "auto" if text.lower() == "auto" else "off"
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise SettingsError(f"{where}: expected auto, off or a number of threads >= 1, got {text!r}")


def resolve_gpus(sources: Sources) -> GpuSetting:
    found = layered(sources, "memento_gpus", "MEMENTO_GPUS", "memento_gpus")
    if found is None:
        return "auto"
    where, text = found
    if text.lower() in ("auto", "off"):
        return "auto" if text.lower() == "auto" else "off"
    devices = tuple(part.strip() for part in text.split(","))
    if not all(devices) or any(not re.fullmatch(r"[\w:./-]+", device) for device in devices):
        raise SettingsError(
            f"{where}: expected auto, off or a comma-separated list of GPU indices or UUIDs, got {text!r}"
        )
    return devices
