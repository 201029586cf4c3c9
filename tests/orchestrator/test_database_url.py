"""PostgreSQL URLs: one reading for the ledger and the Prefect server, no password shown."""

from __future__ import annotations

import pytest

from tansaku.database_url import DatabaseUrlError, masked, parse_postgres_url, password_in
from tansaku.ledger.location import SharedLedger, parse_ledger_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://lab:s3cret@db/ledger", "postgresql://lab:***@db/ledger"),
        ("postgresql://lab@db/ledger?password=s3cret", "postgresql://lab:***@db/ledger"),
        ("postgresql+psycopg://lab@db:5433/ledger", "postgresql://lab@db:5433/ledger"),
        ("postgresql://lab:s3cret@db:x/ledger", "postgresql://lab:***@db:x/ledger"),
        ("not a url, password=s3cret", "not a url, password=***"),
    ],
)
def test_a_password_is_never_shown(url: str, shown: str) -> None:
    assert masked(url) == shown


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://lab:p@ss@db/ledger", "write @ in a password as %40"),
        ("postgresql://lab@db:99999/ledger", "has port 99999"),
        ("postgresql://lab@db:x/ledger", "is not a database URL"),
        ("sqlite:///ledger.sqlite", "is not a PostgreSQL URL"),
        ("postgresql:///ledger", "names no host"),
    ],
)
def test_unusable_urls_say_why(url: str, words: str) -> None:
    with pytest.raises(DatabaseUrlError, match=words) as refused:
        parse_postgres_url(url)
    assert "ss@" not in str(refused.value) and "s3cret" not in str(refused.value)


def test_the_run_directory_pointer_holds_no_password_in_any_form() -> None:
    url = parse_ledger_url("postgresql://lab:a@db/ledger?password=b&sslmode=require")
    pointer = SharedLedger(url, "tansaku_film").pointer()
    assert pointer["url"] == "postgresql://lab@db/ledger?sslmode=require"
    assert password_in("postgresql://lab@db/ledger?password=b")
    assert not password_in(pointer["url"])
