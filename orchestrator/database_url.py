"""PostgreSQL URLs as people write them (``postgresql://user@host:5432/database``), for the
shared ledger and for the Prefect server's database: read once, and never shown or
written with their password, whether it sits before the ``@`` or in ``?password=``."""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+asyncpg")
FORM = "postgresql://user@host:5432/database"
HIDDEN = "***"


class DatabaseUrlError(ValueError):
    """A URL that names no PostgreSQL database; the message starts with the masked URL."""


def _has_password(url: URL) -> bool:
    return url.password is not None or "password" in url.query


def without_password(url: URL) -> URL:
    """``url`` with no password anywhere in it (``URL.set`` takes ``None`` for
    "unchanged", so ``_replace`` is how a URL loses it)."""
    return url._replace(password=None).difference_update_query(["password"])


def masked(url: str | URL) -> str:
    """``url`` as it may be printed or written down: as ``psql`` users write it
    (``postgresql://``, no driver), its password, if any, shown as ``***``."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url.strip())
    except (ArgumentError, ValueError):
        return _masked_text(str(url))
    if parsed.host and "@" in parsed.host:  # an unescaped @ in the password
        return _masked_text(parsed.render_as_string(hide_password=False))
    shown = without_password(parsed)
    if parsed.drivername in SCHEMES:
        shown = shown.set(drivername="postgresql")
    if _has_password(parsed):
        shown = shown._replace(password="hidden")  # rendered as ***
    return shown.render_as_string(hide_password=True)


def _masked_text(text: str) -> str:
    """A URL SQLAlchemy cannot read, masked by its text: all before the host's last @
    but the user name, and any ``password=``."""
    words = re.sub(r"//([^/]*)@", lambda m: "//" + m[1].split(":")[0] + f":{HIDDEN}@", text)
    return re.sub(r"password=[^&]*", f"password={HIDDEN}", words)


def parse_postgres_url(text: str) -> URL:
    """The URL ``text`` names, as ``postgresql://`` (callers pick their driver).

    Raises :class:`DatabaseUrlError` for one that is malformed or not PostgreSQL.
    """
    shown = masked(text)
    try:
        url = make_url(text.strip())
        port = url.port  # a port that is no number fails in make_url; a big one here
    except (ArgumentError, ValueError):
        raise DatabaseUrlError(f"{shown!r} is not a database URL; write it as {FORM}") from None
    if url.drivername not in SCHEMES:
        raise DatabaseUrlError(f"{shown!r} is not a PostgreSQL URL; write it as {FORM}")
    if not url.host or not url.database:
        missing = "host" if not url.host else "database"
        raise DatabaseUrlError(f"{shown!r} names no {missing}; write it as {FORM}")
    if "@" in url.host:
        raise DatabaseUrlError(
            f"{shown!r} has an @ in its host, which is most likely part of the password: "
            "write @ in a password as %40"
        )
    if port is not None and not 0 < port < 65536:
        raise DatabaseUrlError(f"{shown!r} has port {port}; a port is 1 to 65535")
    return url.set(drivername="postgresql")


def password_in(text: str) -> bool:
    """Whether the URL ``text`` carries a password (a file that others read must not)."""
    try:
        return _has_password(make_url(text.strip()))
    except (ArgumentError, ValueError):
        return False
