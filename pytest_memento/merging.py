"""``memento merge DEST SRC...``: results and checkpoints of other stores
(CI shards, Slurm jobs on another filesystem) copied into one store.

Nothing is unpickled: each result is copied as its pickled bytes with its
metadata (its original environment and provenance kept) and its code
record, through the stores' own reading and writing, so checksums are
checked on read and the destination's records are whole and, with a
secret, signed. A result is

- *merged* when the destination has no result of its key;
- *already there* when the destination has the same result (same payload
  hash and code fingerprint): merging twice changes nothing;
- a *conflict* when the destination has another result of the key: the
  destination's is kept (merge into a fresh store to take the sources');
- *refused* when it does not verify: with a secret, a record not signed
  with it; without one, a damaged record. Refused records are named.

Checkpoints of configurations that have no result in the destination are
copied when whole (and signed, with a secret) and further along (more
saves) than the destination's. No pytest in here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .checkpoint import checkpoint_path, iter_checkpoints, read_info, verified
from .files import atomic_write
from .store import ResultStore

__all__ = ["MergeReport", "merge_stores"]

#: Meta keys a store adds when it reads a record (not part of what was written).
_ADDED = ("key", "payload", "fingerprint_parts", "packages")


@dataclass
class MergeReport:
    merged: int = 0
    already: int = 0
    conflicts: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    checkpoints: int = 0

    def lines(self) -> list[str]:
        found = [
            f"merged {self.merged} result(s); {self.already} already there; "
            f"{len(self.conflicts)} conflict(s) kept as in the destination; {len(self.refused)} refused; "
            f"{self.checkpoints} checkpoint(s) copied"
        ]
        found += [f"conflict: {text}" for text in self.conflicts[:20]]
        found += [f"refused: {text}" for text in self.refused[:20]]
        return found


def merge_stores(dest: ResultStore, sources: list[ResultStore]) -> MergeReport:
    report = MergeReport()
    for source in sources:
        _merge_results(dest, source, report)
        _merge_checkpoints(dest, source, report)
    dest.flush()
    return report


def _merge_results(dest: ResultStore, source: ResultStore, report: MergeReport) -> None:
    scan = source.scan()
    for key in sorted(set(scan.refused) - set(scan.entries)):
        report.refused.append(f"{key[:12]} from {source.location}: not signed with this store's secret")
    for entry in source.iter_entries():
        where = f"{entry.key[:12]} from {source.location}"
        if not source.signature_ok(entry):
            report.refused.append(f"{where}: not signed with this store's secret")
            continue
        there = dest.get(entry.key)
        if there is not None:
            if there.sha256 == entry.sha256 and there.fingerprint == entry.fingerprint:
                report.already += 1
            else:
                report.conflicts.append(f"{where}: the destination has another result of this key")
            continue
        try:
            meta = source.meta(entry)
            payload = source.payload(entry)
        except LookupError as exc:
            report.refused.append(f"{where}: {exc}")
            continue
        code = source.code_of(entry.fingerprint)
        record = {name: value for name, value in meta.items() if name not in _ADDED}
        dest.put(entry.key, record, payload, defer=True, code=dict(code) if code else None)
        report.merged += 1


def _merge_checkpoints(dest: ResultStore, source: ResultStore, report: MergeReport) -> None:
    source.sync_checkpoints()
    dest.sync_checkpoints()
    for info in iter_checkpoints(source.root):
        if dest.get(info.key) is not None:
            continue  # finished there: the checkpoint is no longer needed
        if not verified(info.path, dest.signer):
            report.refused.append(
                f"checkpoint {info.key[:12]} from {source.location}: damaged or not signed with this store's secret"
            )
            continue
        target = checkpoint_path(dest.root, info.key)
        current = read_info(target)
        if current is not None and current.saves >= info.saves:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, info.path.read_bytes())
        dest.publish(target)
        report.checkpoints += 1
