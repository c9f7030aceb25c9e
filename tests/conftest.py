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


def _closed_at_end():
    made = []
    yield made
    for thing in made:
        thing.close()


@pytest.fixture
def workers():
    """Fake inference workers (serving_util.FakeWorker) a test makes, closed at its end."""
    yield from _closed_at_end()


@pytest.fixture
def brokers():
    """Fake brokers (serving_util.FakeBroker) a test makes, closed at its end."""
    yield from _closed_at_end()
