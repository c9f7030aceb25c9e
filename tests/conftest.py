"""conftest.py: fixtures every multi-process test shares (pytest loads this
file by itself for the tests in this directory)."""
import pytest

from procs import Procs


@pytest.fixture
def procs(tmp_path):
    """Processes a test starts (logs in its tmp_path), stopped by pid at its end."""
    p = Procs(tmp_path)
    yield p
    p.stop()
