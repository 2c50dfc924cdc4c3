"""LLM client layer against a real loopback HTTP server (no mocks of the SDK or httpx)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cruxforge.llm import (
    ChatClient,
    ConfigError,
    LLMConfig,
    LLMRequestError,
    LLMUnavailable,
    ReplayMiss,
    TranscriptCache,
    load_config,
)
from cruxforge.llm.testserver import Reply, ScriptedChatServer

MSGS = [{"role": "system", "content": "Translate."}, {"role": "user", "content": "def f(): ..."}]


def cfg(server: ScriptedChatServer | None, **kw: Any) -> LLMConfig:
    base: dict[str, Any] = dict(
        base_url=server.base_url if server else None,
        model="test-model",
        timeout_s=10.0,  # generous: the machine may be loaded; tests never wait on it
        max_retries=3,
        backoff_base_s=0.001,
        backoff_max_s=0.01,
    )
    return LLMConfig(**(base | kw))


@pytest.fixture
def server() -> Iterator[ScriptedChatServer]:
    with ScriptedChatServer() as srv:
        yield srv


@pytest.fixture
def cache(tmp_path: Path) -> TranscriptCache:
    return TranscriptCache(tmp_path / "transcript")


def test_plain_answer_and_token_accounting(server: ScriptedChatServer) -> None:
    server.push(Reply.answer("fn f() {}", 11, 7), Reply.answer("two", 3, 2))
    client = ChatClient(cfg(server, temperature=0.2, max_tokens=99))
    r = client.complete(MSGS, purpose="translate")
    assert (r.text, r.finish_reason, r.prompt_tokens, r.completion_tokens) == (
        "fn f() {}",
        "stop",
        11,
        7,
    )
    assert not r.cached and r.attempts == 1 and len(r.request_key) == 64
    client.complete([*MSGS, {"role": "user", "content": "again"}])
    u = client.usage
    assert (u.prompt_tokens, u.completion_tokens, u.requests, u.cache_hits) == (14, 9, 2, 0)
    body = server.requests[0]
    assert body["model"] == "test-model" and body["messages"] == MSGS
    assert body["temperature"] == 0.2 and body["max_tokens"] == 99


def test_429_then_success_honours_retry_after_within_bounds(server: ScriptedChatServer) -> None:
    server.push(
        Reply.error(429, retry_after="0.005"),
        Reply.error(429, retry_after="30"),
        Reply.answer("ok"),
    )
    sleeps: list[float] = []
    client = ChatClient(cfg(server), sleep=sleeps.append)
    r = client.complete(MSGS)
    assert r.text == "ok" and r.attempts == 3
    assert sleeps == [0.005, 0.01]  # the server's wish, then capped at backoff_max_s
    assert client.usage.retries == 2 and client.usage.requests == 1


def test_500_twice_then_success(server: ScriptedChatServer) -> None:
    server.push(Reply.error(500), Reply.error(503), Reply.answer("fine"))
    r = ChatClient(cfg(server)).complete(MSGS)
    assert r.text == "fine" and r.attempts == 3 and len(server.requests) == 3


def test_timeout_then_success(server: ScriptedChatServer) -> None:
    server.push(Reply.slow(5.0, "too late"))
    server.default = Reply.answer("in time")  # any retry succeeds, even on a slow machine
    r = ChatClient(cfg(server, timeout_s=0.5)).complete(MSGS)
    assert r.text == "in time" and r.attempts >= 2


def test_permanent_500_gives_up_after_max_retries(server: ScriptedChatServer) -> None:
    server.default = Reply.error(500)
    with pytest.raises(LLMUnavailable, match="after 3 attempts") as ei:
        ChatClient(cfg(server, max_retries=2)).complete(MSGS)
    assert ei.value.attempts == 3 and len(server.requests) == 3
    assert "HTTP 500" in str(ei.value) and ei.value.__cause__ is not None


def test_connection_refused_is_unavailable() -> None:
    with ScriptedChatServer() as srv:
        config = cfg(srv, max_retries=1)
    with pytest.raises(LLMUnavailable) as ei:  # server gone: nothing listens on the port
        ChatClient(config).complete(MSGS)
    assert ei.value.attempts == 2


def test_400_is_not_retried(server: ScriptedChatServer) -> None:
    server.push(Reply.error(400, message="bad model"), Reply.answer("never"))
    with pytest.raises(LLMRequestError, match="bad model") as ei:
        ChatClient(cfg(server)).complete(MSGS)
    assert ei.value.status == 400 and len(server.requests) == 1


def test_empty_and_truncated_are_returned_and_recorded(
    server: ScriptedChatServer, cache: TranscriptCache
) -> None:
    """They come back with their finish_reason (the loop makes them diagnostics) and are
    recorded, so a resumed or replayed build sees the same answer without asking again."""
    server.push(Reply.empty(), Reply.truncated("fn f("))
    client = ChatClient(cfg(server), cache)
    empty = client.complete(MSGS)
    assert empty.text == "" and empty.finish_reason == "stop"
    cut = client.complete([*MSGS, {"role": "user", "content": "x"}])
    assert cut.text == "fn f(" and cut.finish_reason == "length"
    assert len(cache) == 2
    again = ChatClient(cfg(server), cache, mode="replay").complete(MSGS)
    assert again.cached and again.text == "" and len(server.requests) == 2


def test_cache_hit_makes_no_http_request(
    server: ScriptedChatServer, cache: TranscriptCache
) -> None:
    server.push(Reply.answer("once", 5, 5))
    first = ChatClient(cfg(server), cache).complete(MSGS, purpose="translate:rust")
    # Another endpoint, key and timeout must not change the key: same file answers.
    other = ChatClient(cfg(server, timeout_s=9.0, api_key_env="NOPE"), cache)
    again = other.complete(MSGS)
    assert again.cached and again.text == "once" and again.attempts == 0
    assert again.request_key == first.request_key
    assert len(server.requests) == 1 and len(cache) == 1
    assert other.usage.cache_hits == 1 and other.usage.requests == 0
    rec = cache.get(first.request_key)
    assert rec is not None and rec.purpose == "translate:rust" and rec.request.messages == MSGS


def test_replay_answers_from_cache_and_misses_without_http(
    server: ScriptedChatServer, cache: TranscriptCache
) -> None:
    server.push(Reply.answer("recorded"))
    ChatClient(cfg(server), cache).complete(MSGS)
    replay = ChatClient(cfg(None), cache, mode="replay")  # no endpoint at all
    assert replay.complete(MSGS).text == "recorded"
    unknown = [{"role": "user", "content": "never asked " + "y" * 300}]
    with pytest.raises(ReplayMiss) as ei:
        replay.complete(unknown)
    assert ei.value.key in str(ei.value) and "never asked" in str(ei.value)
    assert "y" * 180 in str(ei.value) and "y" * 200 not in str(ei.value)
    assert len(server.requests) == 1


def test_concurrency_limits_in_flight_requests(server: ScriptedChatServer) -> None:
    lock, now, peak = threading.Lock(), [0], [0]

    def script(_: dict[str, Any]) -> Reply:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.15)  # long enough that two requests surely overlap
        with lock:
            now[0] -= 1
        return Reply.answer("ok")

    with ScriptedChatServer(script) as srv:
        client = ChatClient(cfg(srv, concurrency=2))
        threads = [
            threading.Thread(target=client.complete, args=([{"role": "user", "content": str(i)}],))
            for i in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert peak[0] == 2 and client.usage.requests == 6


def test_api_key_never_in_transcript(
    server: ScriptedChatServer, cache: TranscriptCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-very-secret-0123456789"
    monkeypatch.setenv("CRUXFORGE_TEST_KEY", secret)
    server.push(Reply.answer("ok"))
    config = cfg(server, api_key_env="CRUXFORGE_TEST_KEY")
    ChatClient(config, cache).complete(MSGS)
    assert server.authorizations == [f"Bearer {secret}"]  # it was really used
    files = list(cache.directory.rglob("*"))
    assert files and all(secret not in f.read_text() for f in files if f.is_file())
    assert secret not in config.model_dump_json()


def test_config_precedence_file_env_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "cruxforge.toml"
    toml.write_text(
        '[llm]\nmodel = "file-model"\nbase_url = "http://file/v1"\n'
        "temperature = 0.1\nmax_tokens = 100\nconcurrency = 8\n"
    )
    env = {
        "CRUXFORGE_LLM_TEMPERATURE": "0.2",
        "CRUXFORGE_LLM_MAX_TOKENS": "200",
        "OPENAI_BASE_URL": "http://openai-env/v1",
    }
    c = load_config(toml, {"max_tokens": 300, "temperature": None}, environ=env)
    assert (c.model, c.concurrency) == ("file-model", 8)  # file only
    assert c.temperature == 0.2  # env beats file; None override means "not given"
    assert c.max_tokens == 300  # override beats env
    assert c.base_url == "http://openai-env/v1"  # OPENAI_BASE_URL beats the file...
    env["CRUXFORGE_LLM_BASE_URL"] = "http://ours/v1"  # ...and ours beats OPENAI_BASE_URL
    assert load_config(toml, {}, environ=env).base_url == "http://ours/v1"
    assert load_config(None, {"model": "m"}, environ={}).max_retries == 5  # defaults


def test_config_errors_name_their_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CRUXFORGE_LLM_MAX_TOKENS"):
        load_config(None, {"model": "m"}, environ={"CRUXFORGE_LLM_MAX_TOKENS": "lots"})
    with pytest.raises(ConfigError, match="model.*CRUXFORGE_LLM_MODEL"):
        load_config(None, {}, environ={})
    with pytest.raises(ConfigError, match="override 'temperature'"):
        load_config(None, {"model": "m", "temperature": 9}, environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "m"\ntemprature = 0.3\n')
    with pytest.raises(ConfigError, match=f"temprature.*{bad.name}"):
        load_config(bad, {}, environ={})


def test_transcript_files_are_whole_and_temp_files_ignored(
    server: ScriptedChatServer, cache: TranscriptCache
) -> None:
    server.push(Reply.answer("a"))
    key = ChatClient(cfg(server), cache).complete(MSGS).request_key
    path = cache.path_for(key)
    assert path == cache.directory / key[:2] / f"{key}.json"
    (path.parent / ".tmp-crashed.json").write_text("{half")  # what a kill -9 could leave
    assert list(cache.keys()) == [key] and key in cache and len(cache) == 1
