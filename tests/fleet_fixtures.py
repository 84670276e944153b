"""Fixtures of the fleet tests (a pytest plugin, named in conftest.py): one real PostgreSQL and
one real Mosquitto per test session on 127.0.0.1 (tests/servers.py), a fresh database per test,
and the password in the environment only, as a rig gets it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest

from tests.servers import PG_PASSWORD, MosquittoBroker, PostgresServer

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer().init()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database of its own for the test; PGPASSWORD set, as libpq reads it."""
    name = f"lab_{next(_databases)}"
    with psycopg.connect(pg_server.url(), password=PG_PASSWORD, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    monkeypatch.setenv("PGPASSWORD", PG_PASSWORD)
    return pg_server.url(name)


@pytest.fixture(scope="session")
def broker() -> Iterator[MosquittoBroker]:
    server = MosquittoBroker().start()
    yield server
    server.close()
