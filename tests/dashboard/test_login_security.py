"""Login throttling, password reset by email, expiring sessions."""

import re

import pytest
from django.core import mail


@pytest.fixture
def dana(django_user_model):
    return django_user_model.objects.create_user("dana", "dana@example.com", "correct-horse-battery")


@pytest.mark.django_db
def test_repeated_failures_lock_out_even_the_right_password(client, dana, settings, caplog) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/login/", {"username": "dana", "password": "wrong"})
        assert response.status_code == 200 and "correct username and password" in response.content.decode()
    assert client.post("/login/", {"username": "dana", "password": "wrong"}).status_code == 429  # the limit
    locked = client.post("/login/", {"username": "dana", "password": "correct-horse-battery"})
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert any("lock" in r.getMessage().lower() for r in caplog.records)


@pytest.mark.django_db
def test_a_success_before_the_limit_resets_the_count(client, dana, settings) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/login/", {"username": "dana", "password": "wrong"})
    assert client.post("/login/", {"username": "dana", "password": "correct-horse-battery"}).status_code == 302


@pytest.mark.django_db
def test_password_reset_by_email(client, dana) -> None:
    response = client.post("/password-reset/", {"email": "dana@example.com"})
    assert response.status_code == 302 and len(mail.outbox) == 1
    link = re.search(r"http://testserver(/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    url = form.redirect_chain[-1][0] if form.redirect_chain else link
    done = client.post(url, {"new_password1": "a-brand-new-passphrase", "new_password2": "a-brand-new-passphrase"})
    assert done.status_code == 302
    dana.refresh_from_db()
    assert dana.check_password("a-brand-new-passphrase")


def test_sessions_expire(settings) -> None:
    assert 0 < settings.SESSION_COOKIE_AGE <= 24 * 3600
