"""The catalogers run on every image, one module per ecosystem."""

from __future__ import annotations

from bundler.sbom.catalogers.apk import ApkCataloger
from bundler.sbom.catalogers.base import Cataloger
from bundler.sbom.catalogers.dotnet import DotnetCataloger
from bundler.sbom.catalogers.dpkg import DpkgCataloger
from bundler.sbom.catalogers.golang import GoCataloger
from bundler.sbom.catalogers.java import JavaCataloger
from bundler.sbom.catalogers.npm import NpmCataloger
from bundler.sbom.catalogers.php import ComposerCataloger
from bundler.sbom.catalogers.python import PythonCataloger
from bundler.sbom.catalogers.rpm import RpmCataloger
from bundler.sbom.catalogers.ruby import RubyCataloger
from bundler.sbom.catalogers.rust import RustCataloger

DEFAULT_CATALOGERS: tuple[Cataloger, ...] = (
    DpkgCataloger(), ApkCataloger(), RpmCataloger(), PythonCataloger(), NpmCataloger(), GoCataloger(),
    JavaCataloger(), RubyCataloger(), ComposerCataloger(), RustCataloger(), DotnetCataloger())

__all__ = ["DEFAULT_CATALOGERS", "ApkCataloger", "Cataloger", "ComposerCataloger", "DotnetCataloger",
           "DpkgCataloger", "GoCataloger", "JavaCataloger", "NpmCataloger", "PythonCataloger", "RpmCataloger",
           "RubyCataloger", "RustCataloger"]
