"""The real backend servers the Redis and PostgreSQL tests run on (tests/conftest.py,
testkit/backends.py): they answer, keep their address across a restart, and isolate
each test's data."""

from __future__ import annotations

import psycopg
import pytest
import redis

from testkit.backends import PostgresServer, RedisServer


def _redis_answers(url: str) -> bool:
    with redis.Redis.from_url(url) as client:
        return bool(client.ping())


def test_redis_answers_at_its_url_and_starts_empty(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.set("left-over", "from an earlier test")
        assert client.get("left-over") == b"from an earlier test"
    assert redis_url.startswith("redis://127.0.0.1:") and redis_url.endswith("/0")


def test_each_test_gets_an_empty_redis(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() == 0


def test_redis_restarts_on_the_same_port_empty(redis_server: RedisServer, redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.set("live-view", "1")
    redis_server.stop()
    with pytest.raises(redis.ConnectionError):
        _redis_answers(redis_url)
    redis_server.start()
    assert redis_server.url == redis_url
    with redis.Redis.from_url(redis_url) as client:
        assert client.get("live-view") is None  # no persistence: a restart comes back empty


def test_a_killed_redis_starts_again(redis_server: RedisServer, redis_url: str) -> None:
    redis_server.kill()
    assert not redis_server.running
    redis_server.start()
    assert _redis_answers(redis_url)


def test_postgres_takes_the_password_url_and_refuses_a_wrong_password(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT current_user").fetchone() == ("callassist",)
    wrong = postgres_url.replace(postgres_server.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)


def test_each_new_database_is_empty_and_separate(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.new_database("first"), postgres_server.new_database("second")
    with psycopg.connect(first) as db:
        db.execute("CREATE TABLE calls (id text)")
    with psycopg.connect(second) as db:
        assert db.execute("SELECT to_regclass('calls')").fetchone() == (None,)


def test_postgres_keeps_its_data_and_url_across_a_restart(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with psycopg.connect(postgres_url) as db:
        db.execute("CREATE TABLE calls (id text)")
        db.execute("INSERT INTO calls VALUES ('kept')")
    postgres_server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_url, connect_timeout=2)
    postgres_server.start()
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT id FROM calls").fetchall() == [("kept",)]


def test_a_killed_postgres_recovers_its_committed_data(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with psycopg.connect(postgres_url) as db:
        db.execute("CREATE TABLE calls (id text)")
        db.execute("INSERT INTO calls VALUES ('committed')")
    postgres_server.kill()
    postgres_server.start()
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT id FROM calls").fetchall() == [("committed",)]
