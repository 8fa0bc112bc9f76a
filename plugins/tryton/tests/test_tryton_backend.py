"""The ``tryton`` entry point: installed, and honest that its ports are not wired yet."""

from __future__ import annotations

import pytest

import aftersales_tryton
from aftersales.errors import ConfigurationError
from aftersales.plugins import installed_backends, load_backend
from aftersales_tryton.backend import TrytonBackend


def test_the_backend_is_registered_under_the_entry_point() -> None:
    found = installed_backends()
    assert found["tryton"].value == "aftersales_tryton.backend:TrytonBackend"
    assert found["tryton"].load() is TrytonBackend


def test_building_it_refuses_and_says_why() -> None:
    with pytest.raises(ConfigurationError, match="not wired") as refused:
        load_backend("tryton", url="http://127.0.0.1:8000/db/rpc/")
    assert "Options given: url" in str(refused.value)


def test_importing_the_package_does_not_import_proteus() -> None:
    import subprocess
    import sys

    code = "import sys, aftersales_tryton; print('proteus' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert aftersales_tryton.TRYTON_SERIES == "8.2"
