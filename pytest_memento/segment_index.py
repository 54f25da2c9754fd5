"""The in-memory index of a store's segments: which record of each key
(and of each experiment's ``current``) is live. No pytest; nothing here is
unpickled.

Which record of a key is live never depends on a clock. Every ``put``
supersedes the records of its key that its writer saw (``p``); a ``del``
removes the records it names (``r``). A record is live when no record
present names it. Two live records of one key were written concurrently
(neither writer saw the other: both are valid results of the
configuration), and every reader picks the same one, the greatest id.
With a secret, records whose signature does not verify neither count as
live nor supersede or remove anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .segment_format import Entry, signed_parts
from .signing import Signer

__all__ = ["Scan"]


class _Heads:
    """Live records per group (a key, or an experiment): the chosen one
    (greatest id) and its rivals, with the ids that were superseded."""

    def __init__(self) -> None:
        self.chosen: dict[str, Any] = {}
        self.rivals: dict[str, list[Any]] = {}
        #: Superseded or removed record id -> its group.
        self.dead: dict[str, str] = {}

    def known(self, group: str, record_id: str) -> bool:
        if self.dead.get(record_id) == group:
            return True
        chosen = self.chosen.get(group)
        if chosen is not None and chosen.record_id == record_id:
            return True
        return any(other.record_id == record_id for other in self.rivals.get(group, ()))

    def add(self, group: str, item: Any) -> None:
        current = self.chosen.get(group)
        if current is None:
            self.chosen[group] = item
        elif item.record_id > current.record_id:
            self.rivals.setdefault(group, []).append(current)
            self.chosen[group] = item
        else:
            self.rivals.setdefault(group, []).append(item)

    def kill(self, group: str, record_id: str) -> Any:
        """Mark ``record_id`` dead; returns the live item it was, if any."""
        self.dead[record_id] = group
        return self.drop(group, record_id)

    def drop(self, group: str, record_id: str) -> Any:
        current = self.chosen.get(group)
        if current is not None and current.record_id == record_id:
            rivals = self.rivals.pop(group, [])
            if rivals:
                rivals.sort(key=lambda other: other.record_id)
                self.chosen[group] = rivals.pop()
                if rivals:
                    self.rivals[group] = rivals
            else:
                del self.chosen[group]
            return current
        others = self.rivals.get(group)
        if others:
            for index, other in enumerate(others):
                if other.record_id == record_id:
                    del others[index]
                    if not others:
                        del self.rivals[group]
                    return other
        return None

    def live(self, group: str) -> list[Any]:
        chosen = self.chosen.get(group)
        return [] if chosen is None else [chosen, *self.rivals.get(group, ())]


@dataclass
class _Current:
    record_id: str
    #: One fingerprint, or those of every configuration the run collected.
    fingerprint: str | tuple[str, ...]


class Scan:
    """The result of reading every segment once.

    ``entries`` holds the live, verified entry of each key (what runs use,
    list and export). With a ``signer``, records whose signature does not
    verify are kept apart in ``refused``: they are never live and never
    supersede or remove anything.
    """

    def __init__(self, signer: Signer | None = None) -> None:
        self.signer = signer
        self._heads = _Heads()
        self.entries: dict[str, Entry] = self._heads.chosen
        self.refused: dict[str, list[Entry]] = {}
        #: Entries found live whose payload turned out missing or damaged.
        self.unusable: dict[str, list[Entry]] = {}
        self.bad: dict[str, str] = {}
        self._current = _Heads()
        #: Fingerprint -> what it is made of (parts, packages), from "code" records.
        self.code: dict[str, dict[str, Any]] = {}
        #: An entry per config_hash: the same configuration at any version.
        self.by_config: dict[str, Entry] = {}

    # -- results -----------------------------------------------------------

    def verified(self, entry: Entry) -> bool:
        if self.signer is None:
            return True
        parts = signed_parts(
            entry.key, entry.sha256, entry.metrics, entry.fingerprint, entry.record_id, entry.supersedes
        )
        return self.signer.verify(entry.signature, *parts)

    def put(self, entry: Entry, *, verified: bool | None = None) -> None:
        key = entry.key
        trusted = self.verified(entry) if verified is None else verified
        if trusted:
            # Even a record read after whatever superseded it still supersedes
            # what it names (segments are read in no particular order).
            for victim in entry.supersedes:
                self.kill(key, victim)
        if self._heads.known(key, entry.record_id) or any(
            other.record_id == entry.record_id for other in self.refused.get(key, ())
        ):
            return  # superseded already, or the same record twice (a copy gc made)
        if not trusted:
            self.refused.setdefault(key, []).append(entry)
            return
        self._heads.add(key, entry)
        self.bad.pop(key, None)
        if entry.config_hash:
            self.by_config[entry.config_hash] = entry

    def kill(self, key: str, record_id: str) -> None:
        self._heads.kill(key, record_id)
        for group in (self.refused, self.unusable):
            found = group.get(key)
            if found:
                found[:] = [other for other in found if other.record_id != record_id]
                if not found:
                    del group[key]

    def delete(self, key: str, record_ids: Sequence[str]) -> None:
        for record_id in record_ids:
            self.kill(key, record_id)

    def set_aside(self, entry: Entry, reason: str) -> None:
        """``entry`` is live but unusable (its payload is gone or damaged)."""
        if self._heads.drop(entry.key, entry.record_id) is not None:
            self.unusable.setdefault(entry.key, []).append(entry)
        if entry.key not in self.entries:
            self.bad[entry.key] = reason

    def seen(self, key: str) -> list[str]:
        """Ids of every record of ``key`` a new record supersedes."""
        records = [*self._heads.live(key), *self.refused.get(key, ()), *self.unusable.get(key, ())]
        return [entry.record_id for entry in records]

    def all_live(self) -> list[Entry]:
        """Every entry no record supersedes: chosen, rivals, refused, unusable."""
        found = list(self.entries.values())
        for group in (self._heads.rivals, self.refused, self.unusable):
            for entries in group.values():
                found.extend(entries)
        return found

    def refused_entry(self, key: str) -> Entry | None:
        found = self.refused.get(key)
        return max(found, key=lambda entry: entry.record_id) if found else None

    def find(self, key: str, record_id: str) -> Entry | None:
        candidates: list[Entry] = [*self._heads.live(key), *self.refused.get(key, ())]
        for entry in candidates:
            if entry.record_id == record_id:
                return entry
        return None

    # -- the code runs collected ------------------------------------------------

    def note_current(
        self, experiment: str, record_id: str, fingerprint: str | tuple[str, ...], supersedes: Sequence[str]
    ) -> None:
        for victim in supersedes:
            self._current.kill(experiment, victim)
        if self._current.known(experiment, record_id):
            return
        self._current.add(experiment, _Current(record_id, fingerprint))

    def current(self, experiment: str) -> str | tuple[str, ...] | None:
        """The fingerprint(s) of the newest run that collected ``experiment``."""
        found = self._current.chosen.get(experiment)
        return None if found is None else found.fingerprint

    def current_ids(self, experiment: str) -> list[str]:
        return [item.record_id for item in self._current.live(experiment)]
