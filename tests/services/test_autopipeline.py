"""The auto-pipelined Redis client of the API's event loop: RESP as redis-py reads it, the commands of one
loop turn in one write, replies matched in order, and every failure where it belongs (an error reply fails
its command only; a lost, refused or timed-out connection fails every command waiting on it, and the next
command connects anew). Against the real Redis (TLS + AUTH) unless the point is the protocol alone."""

from __future__ import annotations

import asyncio

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from services.common import autopipeline
from services.common.autopipeline import INCOMPLETE, AutoPipeline, pack, parse
from services.common.settings import RedisSettings

# -- the protocol alone -----------------------------------------------------------------------------------

REPLIES = [
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"$4\r\na\r\nb\r\n", b"a\r\nb"),  # a bulk string is framed by its length, not by CRLF
    (b":42\r\n", 42),
    (b":-3\r\n", -3),
    (b"+OK\r\n", b"OK"),
    (b"*-1\r\n", None),
    (b"*0\r\n", []),
    (b"*4\r\n$1\r\na\r\n$3\r\n1.5\r\n$-1\r\n*1\r\n:7\r\n", [b"a", b"1.5", None, [7]]),
]


@pytest.mark.parametrize("wire, value", REPLIES)
def test_each_reply_parses_whole_and_never_from_a_part(wire, value):
    assert parse(bytearray(wire), 0) == (value, len(wire))
    for cut in range(len(wire)):
        assert parse(bytearray(wire[:cut]), 0) == (INCOMPLETE, 0), cut


@given(st.lists(st.sampled_from(REPLIES), min_size=1, max_size=8), st.data())
def test_replies_split_anywhere_come_out_whole_and_in_order(replies, data):
    """However the bytes of a run of replies are cut into reads, the parser yields each reply once, in order."""
    wire = b"".join(w for w, _ in replies)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(wire) - 1)), max_size=6)))
    buffer, out = bytearray(), []
    for start, stop in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        buffer += wire[start:stop]
        pos = 0
        while True:
            value, after = parse(buffer, pos)
            if value is INCOMPLETE:
                break
            out.append(value)
            pos = after
        del buffer[:pos]
    assert out == [v for _, v in replies] and not buffer


@pytest.mark.parametrize("line, kind", [
    (b"-NOSCRIPT No matching script. Please use EVAL.\r\n", redis.exceptions.NoScriptError),
    (b"-WRONGPASS invalid username-password pair\r\n", redis.exceptions.AuthenticationError),
    (b"-NOAUTH Authentication required.\r\n", redis.exceptions.AuthenticationError),
    (b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", redis.exceptions.ResponseError),
])
def test_an_error_reply_is_redis_pys_own_exception(line, kind):
    error, after = parse(bytearray(line), 0)
    assert type(error) is kind and after == len(line)


@pytest.mark.parametrize("wire", [b"!3\r\nabc\r\n", b"$x\r\n", b":\r\n", b"$3\r\nabcde\r\n"])
def test_what_is_not_resp2_is_a_protocol_error(wire):
    with pytest.raises(ValueError, match=r"unknown reply type|invalid literal|longer than announced"):
        parse(bytearray(wire), 0)


def test_a_connection_that_sends_what_is_not_a_reply_fails_its_commands_and_is_dropped():
    """A reply nobody asked for, bytes that are not RESP2, arrays nested past any reply of ours: each command
    waiting on the connection fails with a ConnectionError, and the connection is closed."""
    async def main(wire: bytes):
        client = AutoPipeline(RedisSettings(host="127.0.0.1", port=1, password="x", ca_bundle=None))
        client.loop = asyncio.get_running_loop()
        connection = autopipeline._Connection(client, client.loop)
        client._connection = connection
        closed = []
        connection.transport = type("T", (), {"write": lambda self, data: None,
                                              "abort": lambda self: closed.append(True)})()
        waiters = [client.loop.create_future() for _ in range(2)]
        connection.send(b"", waiters, client.loop.time() + 60)
        connection.data_received(wire)
        results = await asyncio.gather(*waiters, return_exceptions=True)
        return results, closed, client._connection

    failed = redis.exceptions.ConnectionError
    for wire, expected in [(b"+OK\r\n+OK\r\n+OK\r\n", [bytes, bytes]), (b"?what\r\n", [failed, failed]),
                           (b"+OK\r\n" + b"*1\r\n" * 5000 + b":1\r\n", [bytes, failed])]:
        results, closed, current = asyncio.run(main(wire))
        assert [type(r) for r in results] == expected and closed == [True] and current is None, wire[:20]


def test_commands_for_a_connection_lost_before_its_first_use_fail_at_once():
    async def main():
        client = AutoPipeline(RedisSettings(host="127.0.0.1", port=1, password="x", ca_bundle=None))
        client.loop = asyncio.get_running_loop()
        connection = autopipeline._Connection(client, client.loop)
        connection.connection_lost(None)
        waiter = client.loop.create_future()
        connection.send(b"*1\r\n$4\r\nPING\r\n", [waiter], client.loop.time() + 60)
        return await asyncio.gather(waiter, return_exceptions=True)

    [result] = asyncio.run(main())
    assert isinstance(result, redis.exceptions.ConnectionError)


def test_commands_are_packed_as_arrays_of_bulk_strings():
    assert pack(("SET", "k", b"v\r\n", 5)) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n$1\r\n5\r\n"
    assert pack(("GET", "ключ")) == b"*2\r\n$3\r\nGET\r\n$8\r\n" + "ключ".encode() + b"\r\n"
    for bad in (1.5, None, True):
        with pytest.raises(TypeError):
            pack(("SET", "k", bad))


# -- against Redis -------------------------------------------------------------------------------------------

def run(coroutine):
    return asyncio.run(coroutine)


class Writes:
    """Counts the writes of the client's connections (monkeypatched `_Connection.send`)."""

    def __init__(self, monkeypatch) -> None:
        self.sizes: list[int] = []
        send = autopipeline._Connection.send

        def counting(connection, data, waiters, deadline):
            self.sizes.append(len(waiters))
            return send(connection, data, waiters, deadline)

        monkeypatch.setattr(autopipeline._Connection, "send", counting)


def test_the_commands_of_one_turn_go_out_in_one_write_and_come_back_in_order(redis_settings, cache, monkeypatch):
    writes = Writes(monkeypatch)

    async def main():
        client = AutoPipeline(redis_settings)
        await client.execute("PING")  # connected (AUTH and PING in the first write)
        before = len(writes.sizes)
        replies = await asyncio.gather(*(client.execute("INCRBY", "n", i) for i in range(1, 51)),
                                       client.execute("GET", "n"))
        client.close()
        return before, replies

    before, replies = run(main())
    assert writes.sizes[:before] == [2]  # AUTH, then the PING queued while connecting
    assert writes.sizes[before:] == [51]  # fifty-one commands from one turn: one write
    assert replies == [sum(range(1, i + 1)) for i in range(1, 51)] + [b"1275"]


def test_an_error_reply_fails_its_own_command_only(redis_settings, cache):
    cache.client.set("text", "x")

    async def main():
        client = AutoPipeline(redis_settings)
        results = await asyncio.gather(client.execute("SET", "a", "1"), client.execute("ZINCRBY", "text", 1, "m"),
                                       client.execute("GET", "a"), return_exceptions=True)
        client.close()
        return results

    first, wrong, third = run(main())
    assert first == b"OK" and third == b"1"
    assert type(wrong) is redis.exceptions.ResponseError and "WRONGTYPE" in str(wrong)


def test_a_reply_that_never_comes_times_out_every_waiting_command_then_a_new_connection_serves(redis_settings,
                                                                                                 cache):
    """BLPOP holds the connection's replies far past the client's timeout (0.25 s): it and the PING behind it
    time out together; the next command connects anew and is answered."""
    async def main():
        client = AutoPipeline(redis_settings)
        await client.execute("PING")
        results = await asyncio.gather(client.execute("BLPOP", "never", 30), client.execute("PING"),
                                       return_exceptions=True)
        after = await client.execute("PING")
        client.close()
        return results, after

    results, after = run(main())
    assert [type(r) for r in results] == [redis.exceptions.TimeoutError] * 2 and after == b"PONG"


def test_a_connection_the_server_closes_fails_its_commands_and_the_next_connects_anew(redis_settings, cache):
    async def main():
        client = AutoPipeline(redis_settings)
        own_id = await client.execute("CLIENT", "ID")
        # Killed by itself from within the same write: the commands after the kill lose their connection.
        results = await asyncio.gather(client.execute("CLIENT", "KILL", "ID", own_id, "SKIPME", "no"),
                                       client.execute("PING"), return_exceptions=True)
        for _ in range(200):  # the close may reach the client after a command already queued: that one fails
            try:
                after = await client.execute("PING")
                break
            except redis.exceptions.ConnectionError:
                await asyncio.sleep(0.01)
        client.close()
        return results, after

    results, after = run(main())
    assert all(isinstance(r, redis.exceptions.ConnectionError) for r in results[1:]) and after == b"PONG"


def test_a_refused_password_fails_every_queued_command(redis_settings, cache):
    wrong = RedisSettings(**{**redis_settings.__dict__, "password": "wrong"})

    async def main():
        client = AutoPipeline(wrong)
        results = await asyncio.gather(client.execute("PING"), client.execute("GET", "a"), return_exceptions=True)
        client.close()
        return results

    assert [type(r) for r in run(main())] == [redis.exceptions.AuthenticationError] * 2


def test_a_certificate_from_another_ca_is_refused(redis_settings, cache, tmp_path):
    from localenv.tls import make_tls_files

    other = make_tls_files(tmp_path / "other")
    impostor_ca = RedisSettings(**{**redis_settings.__dict__, "ca_bundle": str(other.ca)})

    async def main():
        client = AutoPipeline(impostor_ca)
        try:
            return await client.execute("PING")
        finally:
            client.close()

    with pytest.raises(redis.exceptions.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        run(main())


def test_a_closed_client_refuses_commands(redis_settings, cache):
    async def main():
        client = AutoPipeline(redis_settings)
        await client.execute("PING")
        client.close()
        return await asyncio.gather(client.execute("PING"), return_exceptions=True)

    [result] = run(main())
    assert isinstance(result, redis.exceptions.ConnectionError)
