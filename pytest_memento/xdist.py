"""pytest-xdist glue, registered only when xdist is active.

The controller resolves the store directory once and hands it to every
worker (replacement workers included) through ``workerinput``, so all
processes of a run write to the same store.
"""

from __future__ import annotations

from typing import Any

from .session import MementoSession


class XdistGlue:
    def __init__(self, session: MementoSession) -> None:
        self.session = session

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["memento_dir"] = str(self.session.settings.store_dir)
