"""``stella import``: verify a kit completely, then commit it atomically (docs/appliance.md).

Order: lock → recover → signatures on the manifest envelope, before its index is parsed
(cheap checks first) → identity (already imported? say so, exit 0) → schema and expiry
(refused kits are quarantined) → freshness per channel (exit 5
"older than active" unless forced with a reason) → delta base present → stream once
into staging → one transaction → renames. A refused import changes nothing but the
quarantine folder; ``--dry-run`` changes nothing at all.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance import audit, keys, lock, testhooks, trust
from appliance.errors import BaseMissing, KitChanged, OlderThanActive, TrustChanged
from appliance.home import Home, actor as current_actor, fsync_dir
from appliance.importing import commit as committer, record, staging, workflows as carried_workflows
from appliance.importing.derive import derive
from appliance.quarantine import quarantine
from appliance.store.blobs import BlobStore
from appliance.store.db import open_db
from kit.canonical import sha256_hex
from kit.errors import KitFormatError, KitVerificationError, NotAKit
from kit.format.limits import KitLimits
from kit.format.manifest import Manifest
from kit.format.reader import Check, KitReader, ReadResult, inspect_kit
from kit.timeutil import format_time, now
from kit.trust.root import TrustRoot
from kit.workflow.carried import TemplateSink


@dataclass(frozen=True)
class ImportOptions:
    dry_run: bool = False
    force: bool = False
    reason: str | None = None
    wait: float = 0.0
    at: dt.datetime | None = None
    limits: KitLimits = KitLimits()
    progress: Callable[[int], None] | None = None
    actor: str | None = None         # who imports (the service's logged-in user); None: STELLA_ACTOR or the OS user
    quarantine: bool = True          # False: a refused kit is not kept (stella plan's import into a scratch copy)


@dataclass(frozen=True)
class ImportOutcome:
    status: str                      # imported | already-imported | dry-run
    kit_id: str
    name: str
    channel: str
    sequence: int
    kind: str
    import_id: str | None = None
    new_blobs: int = 0
    bytes_written: int = 0
    record: str | None = None
    forced: bool = False
    checks: list[dict[str, Any]] = field(default_factory=list)
    workflows: list[dict[str, Any]] = field(default_factory=list)    # templates the kit assigned or skipped

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "kitId": self.kit_id, "name": self.name, "channel": self.channel,
                "sequence": self.sequence, "kind": self.kind, "importId": self.import_id,
                "newBlobs": self.new_blobs, "bytesWritten": self.bytes_written, "record": self.record,
                "forced": self.forced, "checks": self.checks, "workflows": self.workflows}


def import_kit(home: Home, kit: Path, options: ImportOptions = ImportOptions()) -> ImportOutcome:
    """Import *kit* into *home* (see the module docstring for the order of checks).

    Raises:
        ConflictError: another import holds the lock, or the kit is older than active.
        KitVerificationError / KitFormatError: the kit failed verification and was quarantined
            (the failure's own class, its message naming the quarantine folder).
        KitVerificationError / RefusedError: refused by a check (nothing changed).
        KitIOError: the kit or the home cannot be read or written.
    """
    home.require()
    with lock.exclusive(home.lock_path, options.wait):
        testhooks.pause("locked")
        db = open_db(home.db_path)
        try:
            committer.recover(home, db)
            return _Import(home, db, Path(kit), options).run()
        finally:
            db.close()


def already_imported(db: sqlite_utils.Database, kit_id: str | None) -> bool:
    return kit_id is not None and db.execute("SELECT 1 FROM kits WHERE kit_id = ?", [kit_id]).fetchone() is not None


class _Import:
    def __init__(self, home: Home, db: sqlite_utils.Database, kit: Path, options: ImportOptions):
        self.home, self.db, self.kit, self.options = home, db, kit, options
        self.at = options.at or now()
        self.reader = KitReader(kit, limits=options.limits)
        self.checks: list[Check] = []
        self.forced = False

    def run(self) -> ImportOutcome:
        root = trust.current(self.db)
        # Cheap checks first: the envelope's signatures are verified before the index is parsed
        # (~70 µs an entry), so an unsigned manifest of 300,000 entries is refused in a second.
        ident = self.reader.verify(trust=root, at=self.at, manifest_only=True)
        done = self._already_imported(ident)
        if done is not None:
            return done
        self.checks.append(Check("trust-root", True, f"appliance trust root version {root.version} {root.digest}"))
        if not ident.ok:
            self._refuse(ident)
        manifest = self._checked_manifest(ident)
        assert ident.envelope is not None
        if self.options.dry_run:
            return self._dry_run(root, ident.envelope.payload, manifest.kit_id)
        return self._import(root, manifest, ident.envelope.payload, manifest.kit_id)

    def _already_imported(self, ident: ReadResult) -> ImportOutcome | None:
        """The outcome for a kit this appliance holds already (exit 0), even one that has since
        expired or whose key the current root dropped; None for a kit to import."""
        if ident.envelope is None:
            return None
        kit_id = ident.kit_id or "sha256:" + sha256_hex(ident.envelope.payload)
        if not already_imported(self.db, kit_id):
            return None
        manifest = ident.manifest or inspect_kit(self.kit, self.options.limits).manifest
        return _outcome("already-imported", manifest, kit_id) if manifest is not None else None

    def _checked_manifest(self, ident: ReadResult) -> Manifest:
        """Freshness and delta base, on the manifest whose signatures and expiry were checked.

        The streaming pass checks the signatures again before it hands any entry to the
        sink, and :meth:`_import` requires the streamed manifest to be this one, byte for byte.
        """
        assert ident.manifest is not None
        self._check_fresh(ident.manifest)
        self._check_base(ident.manifest)
        return ident.manifest

    def _same_kit(self, result: ReadResult, payload: bytes, kit_id: str, directory: Path | None = None) -> None:
        """The streamed (verified) manifest must be the one the checks ran on: same payload bytes."""
        assert result.envelope is not None
        if result.envelope.payload != payload:
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
            raise KitChanged(f"the kit file {self.kit.name} changed while it was being imported "
                             f"(its manifest is no longer {kit_id}); nothing imported")

    def _same_root(self, root: TrustRoot) -> None:
        """The kit was verified against *root*: it must still be the appliance's root at commit.

        ``trust update`` takes the import lock, so this holds; checked again because a kit
        signed only by a key the new root dropped must never be committed after the update.
        """
        now_trusted = trust.current(self.db)
        if now_trusted.digest != root.digest:
            raise TrustChanged(f"the trust root changed from version {root.version} to {now_trusted.version} "
                               "while the kit was being imported; nothing imported (import it again)")

    def _refuse(self, result: ReadResult) -> None:
        error = result.error
        assert error is not None
        if self.options.dry_run or not self.options.quarantine or \
                not isinstance(error, (KitVerificationError, KitFormatError)):
            raise error
        if isinstance(error, NotAKit):       # not a kit at all (a stray file): refuse, keep nothing
            raise error
        report = {"refusedAt": format_time(now()), "actor": self.options.actor or current_actor(), "error": {
            "kind": error.kind, "message": error.message, "entry": error.entry},
            "checks": [c.to_dict() for c in (*self.checks, *result.checks)],
            "kitId": result.kit_id, "sequence": result.manifest.sequence if result.manifest else None}
        kept = quarantine(self.home, self.kit, report)
        # the failure's own class, so its kind and exit code are the failure's, whatever
        # became of the copy (quarantine never replaces the verdict: a full disk included)
        raise type(error)(f"{error.message}; {kept.describe()}", entry=error.entry)

    def _check_fresh(self, m: Manifest) -> None:
        row = self.db.execute("SELECT max(sequence) FROM kits WHERE channel = ?", [m.channel]).fetchone()
        active = row[0] if row and row[0] is not None else None
        if active is None or m.sequence > active:
            self.checks.append(Check("freshness", True, f"sequence {m.sequence} is above the active "
                                                        f"{active if active is not None else 'none'} "
                                                        f"on channel {m.channel}"))
            return
        what = "older than active" if m.sequence < active else "not above the active one (older than active)"
        if not self.options.force:
            raise OlderThanActive(f"kit {m.name} sequence {m.sequence} on channel {m.channel} is {what} "
                                  f"sequence {active}; refused (rollback). Use --force --reason TEXT to import "
                                  "it anyway")
        self.forced = True
        self.checks.append(Check("freshness", True, f"FORCED: sequence {m.sequence} is not above the active "
                                                    f"{active} on channel {m.channel}; reason: {self.options.reason}"))

    def _check_base(self, m: Manifest) -> None:
        if m.base is None:
            return
        base_id = m.base["kitId"]
        if not already_imported(self.db, base_id):
            raise BaseMissing(f"delta kit {m.name} sequence {m.sequence} needs its base kit {base_id} "
                              f"(sequence {m.base['sequence']}), which this appliance has not imported; "
                              "import the base (or a full kit) first")
        store = BlobStore(self.home.blobs)
        missing = [e for e in m.inherited if not store.has(e.sha256)]
        if missing:
            raise BaseMissing(f"delta kit inherits {missing[0].path} ({missing[0].sha256[:16]}…), which is not "
                              "in the content store", entry=missing[0].path)
        self.checks.append(Check("delta-base", True, f"base {base_id} present; {len(m.inherited)} inherited "
                                                     "entries in the content store"))

    def _dry_run(self, root: TrustRoot, payload: bytes, kit_id: str) -> ImportOutcome:
        templates = TemplateSink()       # a dry run checks the templates an import would refuse
        result = self.reader.verify(trust=root, at=self.at, progress=self.options.progress, sink=templates)
        if not result.ok:
            self._refuse(result)
        self._same_kit(result, payload, kit_id)
        assert result.manifest is not None
        templates.templates(result.manifest.entries)
        carried_workflows.read(result.manifest.inherited, BlobStore(self.home.blobs).path)
        return _outcome("dry-run", result.manifest, kit_id, checks=result.checks + self.checks)

    def _import(self, root: TrustRoot, manifest: Manifest, payload: bytes, kit_id: str) -> ImportOutcome:
        import_id = f"{now().strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"
        directory = self.home.staging / import_id
        sink = staging.create(directory, BlobStore(self.home.blobs), (e.sha256 for e in manifest.entries))
        testhooks.pause("staging")
        try:
            result = self.reader.verify(trust=root, at=self.at, sink=sink, progress=self.options.progress)
            sink.finish(durable=result.ok)
            if not result.ok:
                shutil.rmtree(directory)
                self._refuse(result)
            self._same_kit(result, payload, kit_id, directory)
            self._same_root(root)
            return self._commit(import_id, directory, sink, result, kit_id)
        except BaseException:
            if directory.exists() and not already_imported(self.db, kit_id):
                shutil.rmtree(directory, ignore_errors=True)
            raise

    def _commit(self, import_id: str, directory: Path, sink: staging.StagingSink,
                result: ReadResult, kit_id: str) -> ImportOutcome:
        m = result.manifest
        assert m is not None
        # the staged files are durable (sink.finish); now their names, and staging/<import-id>
        fsync_dir(sink.blob_dir)
        fsync_dir(directory.parent)
        who, when = self.options.actor or current_actor(), format_time(now())
        derived = derive(kit_id, m.name, format_time(m.created), (*m.entries, *m.inherited), sink.locate)
        # validated before anything is committed: a bad template refuses the whole import
        templates = carried_workflows.read((*m.entries, *m.inherited), sink.locate)
        assigned: list[dict[str, Any]] = []

        def assign_templates(db: sqlite_utils.Database) -> dict[str, Any]:
            assigned.extend(carried_workflows.apply(db, templates, kit_id, who, when))
            return {"workflows": assigned} if assigned else {}
        signer = keys.signer(self.home)
        doc = record.payload(import_id=import_id, time=when, actor=who, kit_path=self.kit, result=result,
                             appliance_checks=self.checks, forced=self.forced, reason=self.options.reason,
                             new_blobs=len(sink.staged), bytes_written=sink.bytes_written,
                             audit_head=audit.head(self.db), signer=signer, kit_id=kit_id)
        envelope, digest = record.sign(doc, signer)
        _write_synced(directory / staging.RECORD_FILE, envelope)
        fsync_dir(directory)
        testhooks.pause("record-written")
        row = committer.KitRow(m, result.envelope.to_bytes() if result.envelope else b"", import_id, when, who,
                               self.forced, self.options.reason if self.forced else None,
                               self.kit.stat().st_size)
        details = {"kitId": kit_id, "name": m.name, "channel": m.channel, "sequence": m.sequence,
                   "kind": m.kind, "importId": import_id, "record": digest, "newBlobs": len(sink.staged),
                   "forced": self.forced, "reason": self.options.reason if self.forced else None}
        committer.commit(self.db, row, sink.staged, derived,
                         {"import_id": import_id, "kit_id": kit_id, "time": when, "digest": digest,
                          "envelope": envelope}, details, also=assign_templates)
        committer.finish(self.home, directory)
        return _outcome("imported", m, kit_id, import_id=import_id, new_blobs=len(sink.staged),
                        bytes_written=sink.bytes_written, forced=self.forced, workflows=assigned,
                        record=str(self.home.records / f"{import_id}.dsse.json"),
                        checks=[c.to_dict() for c in (*result.checks, *self.checks)])


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _outcome(status: str, m: Manifest, kit_id: str, checks: list[Any] | None = None, **kw: Any) -> ImportOutcome:
    rows = [c.to_dict() if isinstance(c, Check) else c for c in checks or []]
    return ImportOutcome(status, kit_id, m.name, m.channel, m.sequence, m.kind, checks=rows, **kw)
