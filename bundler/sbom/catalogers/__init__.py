"""The catalogers run on every image, one module per ecosystem."""

from __future__ import annotations

from bundler.sbom.catalogers.apk import ApkCataloger
from bundler.sbom.catalogers.base import Cataloger
from bundler.sbom.catalogers.dpkg import DpkgCataloger
from bundler.sbom.catalogers.golang import GoCataloger
from bundler.sbom.catalogers.npm import NpmCataloger
from bundler.sbom.catalogers.python import PythonCataloger
from bundler.sbom.catalogers.rpm import RpmCataloger

DEFAULT_CATALOGERS: tuple[Cataloger, ...] = (
    DpkgCataloger(), ApkCataloger(), RpmCataloger(), PythonCataloger(), NpmCataloger(), GoCataloger())

__all__ = ["DEFAULT_CATALOGERS", "ApkCataloger", "Cataloger", "DpkgCataloger", "GoCataloger",
           "NpmCataloger", "PythonCataloger", "RpmCataloger"]
