"""The ``tryton`` entry point: installed, and configured by arguments or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

import aftersales_tryton
from aftersales.errors import ConfigurationError
from aftersales.plugins import installed_backends, load_backend
from aftersales_tryton.backend import TrytonBackend


def test_the_backend_is_registered_under_the_entry_point() -> None:
    found = installed_backends()
    assert found["tryton"].value == "aftersales_tryton.backend:TrytonBackend"
    assert found["tryton"].load() is TrytonBackend


def test_building_it_without_a_way_to_reach_tryton_refuses_and_says_how(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("URL", "DATABASE", "CONFIG", "USER", "PASSWORD"):
        monkeypatch.delenv(f"AFTERSALES_TRYTON_{name}", raising=False)
    with pytest.raises(ConfigurationError, match="exactly one way to reach Tryton") as refused:
        load_backend("tryton")
    assert "AFTERSALES_TRYTON_URL" in str(refused.value)
    with pytest.raises(ConfigurationError, match="exactly one way"):
        load_backend("tryton", url="http://127.0.0.1:1/db/rpc/", database="db")
    with pytest.raises(ConfigurationError, match="needs user= and password="):
        load_backend("tryton", url="http://127.0.0.1:1/db/rpc/")
    monkeypatch.setenv("AFTERSALES_TRYTON_DATABASE", "db")
    with pytest.raises(ConfigurationError, match="needs config_file="):
        load_backend("tryton")


def test_a_server_that_does_not_answer_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no Tryton server answers"):
        load_backend("tryton", url="http://127.0.0.1:9/db/rpc/", user="admin", password="x")


def test_importing_the_package_does_not_import_proteus() -> None:
    import subprocess
    import sys

    code = "import sys, aftersales_tryton; print('proteus' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert aftersales_tryton.TRYTON_SERIES == "8.2"


def test_an_abandoned_template_build_is_removed_and_a_recent_one_kept(
    tmp_path: Path,
) -> None:
    import os
    import time

    from tryton_server import ABANDONED_AFTER, _remove_abandoned_builds

    old, recent, kept = tmp_path / "build-old", tmp_path / "build-new", tmp_path / "0123abcd"
    for directory in (old, recent, kept):
        directory.mkdir()
    past = time.time() - ABANDONED_AFTER - 60
    os.utime(old, (past, past))
    os.utime(kept, (past, past))
    _remove_abandoned_builds(tmp_path)
    assert not old.exists()
    assert recent.exists()
    assert kept.exists()  # a finished template is never removed
