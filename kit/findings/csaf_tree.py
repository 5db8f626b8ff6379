"""A CSAF 2.0 product tree resolved to what matching needs: purls, CPEs, names.

Every product id the document defines (``full_product_names``, ``branches`` at any depth,
``relationships[].full_product_name``) becomes a ``CsafProduct``. A product defined by a
relationship takes its purl from the product it references (``product_reference``, the
component), followed through further relationships, and keeps the CPEs of both sides
(the component and the platform it ``relates_to``). ``product_groups`` map group ids to
product ids.

Refused, with the JSON path where it happens: a product id defined twice, a reference to
a product id or group id the tree never defines, a group that lists a group (groups
cannot nest, so a "circular group" is caught here), and relationships that reference
each other in a circle.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kit.findings.csaf_schema import pointer
from kit.findings.errors import FindingsFormatError

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class CsafProduct:
    id: str
    name: str
    purl: str                 # product_identification_helper.purl, or the referenced component's; ""
    cpes: tuple[str, ...]     # its own CPE, then the component's and the platform's
    where: str                # JSON path of its definition
    version_range: str = ""   # the name of its product_version_range branch ("vers:npm/>=1.0|<2.0"), or ""


def fail(path: Path, message: str) -> FindingsFormatError:
    where = pointer(path)
    return FindingsFormatError(f"{where}: {message}", entry=where)


def _own(full: dict[str, Any], path: Path, version_range: str = "") -> CsafProduct:
    helper = full.get("product_identification_helper")
    helper = helper if isinstance(helper, dict) else {}
    purl, cpe = helper.get("purl"), helper.get("cpe")
    return CsafProduct(str(full.get("product_id", "")), str(full.get("name", "")),
                       purl if isinstance(purl, str) else "",
                       (cpe,) if isinstance(cpe, str) and cpe else (), pointer(path), version_range)


Definition = tuple[dict[str, Any], Path, str]     # full product name, its path, its version range


def _branches(items: Any, path: Path) -> Iterator[Definition]:
    for i, branch in enumerate(items if isinstance(items, list) else []):
        if not isinstance(branch, dict):
            continue
        if isinstance(branch.get("product"), dict):
            ranged = str(branch.get("name", "")) if branch.get("category") == "product_version_range" else ""
            yield branch["product"], (*path, i, "product"), ranged
        yield from _branches(branch.get("branches"), (*path, i, "branches"))


def _definitions(tree: dict[str, Any]) -> Iterator[Definition]:
    root: Path = ("product_tree",)
    for i, full in enumerate(tree.get("full_product_names") or []):
        yield full, (*root, "full_product_names", i), ""
    yield from _branches(tree.get("branches"), (*root, "branches"))


def _circle(ids: list[str]) -> str:
    """``a -> b -> a``; a long circle shortened so the message stays one readable line."""
    if len(ids) <= 8:
        return " -> ".join(ids)
    return " -> ".join([*ids[:3], f"… ({len(ids) - 1} products) …", *ids[-2:]])


class ProductTree:
    """Products and groups of one document, resolved; lookups raise on unknown ids."""

    def __init__(self, doc: dict[str, Any]) -> None:
        tree = doc.get("product_tree")
        tree = tree if isinstance(tree, dict) else {}
        self.products: dict[str, CsafProduct] = {}
        for full, path, ranged in _definitions(tree):
            self._define(_own(full, path, ranged), path)
        self._relationships: dict[str, tuple[dict[str, Any], Path]] = {}
        for i, rel in enumerate(tree.get("relationships") or []):
            path = ("product_tree", "relationships", i)
            named = rel.get("full_product_name") if isinstance(rel, dict) else None
            if isinstance(named, dict):
                product = _own(named, (*path, "full_product_name"))
                self._define(product, (*path, "full_product_name", "product_id"))
                self._relationships[product.id] = (rel, path)
        self._resolve_all()
        self.groups = self._groups(tree.get("product_groups") or [])

    def _define(self, product: CsafProduct, path: Path) -> None:
        if product.id in self.products:
            raise fail(path, f"product id {product.id!r} is defined twice "
                             f"(first at {self.products[product.id].where})")
        self.products[product.id] = product

    def _refs(self, ident: str) -> tuple[str, str]:
        """(component, platform) a relationship product references; both must be defined."""
        rel, path = self._relationships[ident]
        out = []
        for key in ("product_reference", "relates_to_product_reference"):
            ref = rel.get(key)
            if not isinstance(ref, str) or ref not in self.products:
                raise fail((*path, key), f"product id {ref!r} is never defined in the product tree")
            out.append(ref)
        return out[0], out[1]

    def _combine(self, ident: str) -> None:
        """A relationship product with the purl and CPEs of what it references (already resolved)."""
        component, platform = (self.products[r] for r in self._refs(ident))
        own = self.products[ident]
        cpes = tuple(dict.fromkeys((*own.cpes, *component.cpes, *platform.cpes)))
        self.products[ident] = CsafProduct(own.id, own.name, own.purl or component.purl, cpes, own.where,
                                           own.version_range if own.purl else component.version_range)

    def _resolve_all(self) -> None:
        """Every relationship product, references first (an explicit stack: a chain of any length)."""
        done: set[str] = set()
        for start in sorted(self._relationships):
            stack: list[tuple[str, bool]] = [(start, False)]
            chain: list[str] = []                     # expanded, not yet combined: the current path
            on_chain: set[str] = set()
            while stack:
                ident, combine = stack.pop()
                if combine:
                    self._combine(ident)
                    done.add(ident)
                    on_chain.discard(chain.pop())
                    continue
                if ident in done or ident not in self._relationships:
                    continue
                chain.append(ident)
                on_chain.add(ident)
                stack.append((ident, True))
                for ref in reversed(self._refs(ident)):
                    if ref in on_chain:
                        circle = _circle([*chain[chain.index(ref):], ref])
                        raise fail(self._relationships[ref][1], f"relationships form a circle: {circle}")
                    if ref in self._relationships and ref not in done:
                        stack.append((ref, False))

    def _groups(self, items: list[Any]) -> dict[str, tuple[str, ...]]:
        ids = {g.get("group_id") for g in items if isinstance(g, dict)}
        groups: dict[str, tuple[str, ...]] = {}
        for i, group in enumerate(items):
            path: Path = ("product_tree", "product_groups", i)
            gid = str(group.get("group_id"))
            if gid in groups:
                raise fail((*path, "group_id"), f"group id {gid!r} is defined twice")
            members = group.get("product_ids") or []
            for j, member in enumerate(members):
                if member in ids and member not in self.products:
                    raise fail((*path, "product_ids", j), f"group {gid!r} lists group {member!r}: "
                                                          "groups cannot contain groups (circular or nested group)")
                self.product((*path, "product_ids", j), member)
            groups[gid] = tuple(members)
        return groups

    def product(self, path: Path, ident: Any) -> CsafProduct:
        """The product *ident* names; *path* is where the reference stands (for the error)."""
        found = self.products.get(ident) if isinstance(ident, str) else None
        if found is None:
            raise fail(path, f"product id {ident!r} is never defined in the product tree")
        return found

    def expand(self, item: dict[str, Any], path: Path) -> tuple[CsafProduct, ...]:
        """Products of a ``product_ids``/``group_ids`` (or ``products``) pair, groups expanded."""
        out: list[CsafProduct] = []
        for key in ("product_ids", "products"):
            out += [self.product((*path, key, i), p) for i, p in enumerate(item.get(key) or [])]
        for i, gid in enumerate(item.get("group_ids") or []):
            if gid not in self.groups:
                raise fail((*path, "group_ids", i), f"group id {gid!r} is never defined in the product tree")
            out += [self.products[p] for p in self.groups[gid]]
        return tuple(dict.fromkeys(out))
