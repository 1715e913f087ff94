"""Fixtures of the media tests; the rig itself is in media_rig.py."""
import pytest

from media_rig import Rig


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()
