import pytest
from django.contrib.auth import get_user_model

from jobs import polling


@pytest.fixture
def viewer(db):
    return get_user_model().objects.create_user("viewer", password="correct-horse-battery")


@pytest.fixture
def logged_in(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def polled(mp_account, make_pipeline):
    """The four seed samples, polled once through the real path."""
    pipelines = {
        cid: make_pipeline(cid, name=f"Pipeline {cid}")
        for cid in ("seed-queued", "seed-running", "seed-success", "seed-failed")
    }
    polling.poll_now(mp_account)
    return pipelines
