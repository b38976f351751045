import os
import re
import time
from pathlib import Path

import pytest

from contract.codec import schema_text
from contract.publish import published
from contract.settings import SettingsError
from streams.backends import safe_url
from streams.cli import config_from_argv, main
from streams.config import DEFAULT_CANDIDATE_LANGUAGES, NOT_SETTINGS, load_config
from streams.errors import ConfigError, StreamsError

FILE = (
    '[server]\nport = 8000\nhost = "0.0.0.0"\n[asr]\nmodel = "base"\ncpu_threads = 2\n'
    '[streaming.vad]\nmin_silence_s = 0.6\n[tokens]\nagent = "from-file"\n'
)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "callassist.toml"
    path.write_text(FILE)
    return path


@pytest.fixture(autouse=True)
def no_stray_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./callassist.toml and no CALLASSIST_ variables from the machine running the tests."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("CALLASSIST_")]:
        monkeypatch.delenv(name)


def test_defaults_need_no_file():
    config = load_config(environ={})
    assert config.server.port == 8765
    assert config.asr.model == "tiny.en"
    assert config.tokens.agent is None


def test_defaults_then_file_then_environment_then_flags(config_file: Path):
    environ = {
        "CALLASSIST_SERVER_PORT": "9000",
        "CALLASSIST_ASR_DEVICE": "cuda",
        "CALLASSIST_TOKENS_AGENT": "from-env",
        "CALLASSIST_STREAMING_VAD_THRESHOLD": "0.6",
    }
    config = load_config(config_file, environ, server={"port": 9100, "host": None})
    assert config.server.port == 9100  # flag over environment over file
    assert config.server.host == "0.0.0.0"  # a flag not given (None) leaves the file's
    assert config.asr.model == "base" and config.asr.cpu_threads == 2  # file over defaults
    assert config.asr.device == "cuda"  # environment over defaults
    assert config.tokens.agent == "from-env"  # environment over file
    assert config.streaming.vad.min_silence_s == 0.6  # nested section from the file ...
    assert config.streaming.vad.threshold == 0.6  # ... and from the environment
    assert config.streaming.vad.neg_threshold == 0.35  # the rest keep their defaults
    assert load_config(config_file, environ).server.port == 9000


def test_flags_beat_environment_on_the_command_line(config_file: Path):
    environ = {"CALLASSIST_SERVER_PORT": "9000", "CALLASSIST_ASR_MODEL": "tiny.en"}
    config = config_from_argv(
        ["serve", "--config", str(config_file), "--port", "9100", "--model", "base.en"], environ
    )
    assert config.server.port == 9100
    assert config.asr.model == "base.en"
    assert config.server.host == "0.0.0.0"
    assert config_from_argv(["serve", "--config", str(config_file)], environ).server.port == 9000
    assert config_from_argv(["serve", "--config", str(config_file)], {}).server.port == 8000


def test_the_file_comes_from_the_environment_or_the_current_directory(
    config_file: Path, tmp_path: Path
):
    assert config_from_argv(["serve"], {}).server.port == 8000  # ./callassist.toml
    other = tmp_path / "other.toml"
    other.write_text("[server]\nport = 7000\n")
    assert config_from_argv(["serve"], {"CALLASSIST_CONFIG": str(other)}).server.port == 7000
    config_file.unlink()
    assert config_from_argv(["serve"], {}).server.port == 8765


def test_a_float_is_not_a_port(tmp_path: Path):
    path = tmp_path / "callassist.toml"
    path.write_text("[server]\nport = 8765.9\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(caught.value) == f"{path}: server.port: expected int, got float"
    assert caught.value.key == "server.port"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[server]\nhost = 127\n", "server.host: expected str, got int"),
        ("[assist]\nenabled = 1\n", "assist.enabled: expected bool, got int"),
        ('[assist]\nenabled = "maybe"\n', "assist.enabled: expected bool, got str"),
        ('[streaming.vad]\nthreshold = "high"\n', "streaming.vad.threshold: expected float"),
        ("server = 5\n", "server: expected table, got int"),
        ('[tokens]\nagent = ["a"]\n', "tokens.agent: expected str | null, got array"),
    ],
)
def test_wrong_types_are_refused_by_key(tmp_path: Path, text: str, message: str):
    path = tmp_path / "callassist.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"^{path}: {message}".replace("|", r"\|")):
        load_config(path, {})


def test_unknown_keys_are_refused_by_name(tmp_path: Path):
    path = tmp_path / "callassist.toml"
    path.write_text("[server]\nprot = 1\n[streaming.vad]\ntreshold = 0.3\n[sever]\nport = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    message = str(caught.value)
    assert "server.prot: unknown key (did you mean port?)" in message
    assert "streaming.vad.treshold: unknown key (did you mean threshold?)" in message
    assert "sever: unknown key (did you mean server?)" in message


def test_an_unreadable_file_is_named(tmp_path: Path):
    path = tmp_path / "callassist.toml"
    path.write_text("[server\n")
    with pytest.raises(ConfigError, match=r"callassist\.toml: not valid TOML"):
        load_config(path, {})
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        load_config(tmp_path / "missing.toml", {})


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("CALLASSIST_SERVER_PORT", "eighty", "'eighty' is not a valid int"),
        ("CALLASSIST_SERVER_PORT", "8765.9", "'8765.9' is not a valid int"),
        ("CALLASSIST_ASSIST_ENABLED", "maybe", "'maybe' is not a boolean"),
        ("CALLASSIST_STREAMING_VAD_THRESHOLD", "high", "'high' is not a valid float"),
        (
            "CALLASSIST_SERVER_PROT",
            "9000",
            "names no setting (did you mean CALLASSIST_SERVER_PORT?)",
        ),
    ],
)
def test_bad_variables_are_refused_by_name(name: str, value: str, message: str):
    with pytest.raises(ConfigError) as caught:
        load_config(None, {name: value})
    assert str(caught.value).startswith(f"{name}: {message}")


def test_environment_values_are_parsed():
    environ = {
        "CALLASSIST_ASSIST_ENABLED": "off",
        "CALLASSIST_ASR_FIT_WINDOW_FINALS": "TRUE",
        "CALLASSIST_TOKENS_AGENT": "",
        "CALLASSIST_ASSIST_INTENT_MIN_SHARE": "0.6",
        "CALLASSIST_SERVER_MAX_CALLS": "3",
    }
    config = load_config(None, environ)
    assert config.assist.enabled is False and config.asr.fit_window_finals is True
    assert config.tokens.agent is None  # "" unsets an optional setting
    assert config.assist.intent.min_share == 0.6
    assert config.server.max_calls == 3


def test_the_clis_own_variables_are_not_settings(tmp_path: Path):
    path = tmp_path / "other.toml"
    path.write_text("[server]\nport = 7000\n")
    environ = {name: "x" for name in NOT_SETTINGS} | {"CALLASSIST_CONFIG": str(path)}
    assert load_config(None, environ).server.port == 7000
    assert {
        "CALLASSIST_LOG_LEVEL",
        "CALLASSIST_LOG_FORMAT",
        "CALLASSIST_MODELS_DIR",
    } <= NOT_SETTINGS


def test_overrides_are_checked_too():
    with pytest.raises(ConfigError, match=r"^flags: server\.port: expected int, got str"):
        load_config(None, {}, server={"port": "9100"})
    with pytest.raises(ConfigError, match=r"^flags: server\.prot: unknown key"):
        load_config(None, {}, server={"prot": 9100})


def test_config_errors_belong_to_both_hierarchies():
    assert issubclass(ConfigError, StreamsError) and issubclass(ConfigError, SettingsError)


# --- the command line -----------------------------------------------------------------------
def test_a_bad_file_or_variable_ends_in_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = 8765.9\n")
    assert main(["serve", "--config", str(path)]) == 2
    assert capsys.readouterr().err == f"callassist: {path}: server.port: expected int, got float\n"
    monkeypatch.setenv("CALLASSIST_ASSIST_ENABLED", "maybe")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("callassist: CALLASSIST_ASSIST_ENABLED: 'maybe' is not a boolean")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "name, value", [("CALLASSIST_LOG_FORMAT", "xml"), ("CALLASSIST_LOG_LEVEL", "loud")]
)
def test_bad_log_variables_are_refused(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"callassist: {name}: ") and "is not one of" in err


def test_config_from_argv_only_reads_serve_lines():
    with pytest.raises(ValueError, match="not a serve command line"):
        config_from_argv(["schema", "--check"], {})


# --- callassist schema ----------------------------------------------------------------------
def test_schema_writes_the_files_then_check_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["schema", "--check"]) == 1  # the default root: this directory
    assert capsys.readouterr().err == (
        "callassist: docs/events.schema.json is missing; streams/static/events.js is missing; "
        "run `callassist schema`\n"
    )
    assert main(["schema"]) == 0
    for path, text in published():
        assert (tmp_path / path).read_text(encoding="utf-8") == text
    assert main(["schema", "--check"]) == 0


def test_schema_check_finds_a_stale_file_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["schema", "--root", str(tmp_path)]) == 0
    schema = tmp_path / "docs" / "events.schema.json"
    schema.write_text('{"stale": true}\n')
    assert main(["schema", "--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"callassist: {schema} is out of date; run `callassist schema --root {tmp_path}`\n"
    )
    assert schema.read_text() == '{"stale": true}\n'
    assert main(["schema", "--root", str(tmp_path)]) == 0
    assert main(["schema", "--check", "--root", str(tmp_path)]) == 0
    assert schema.read_text(encoding="utf-8") == schema_text()


# --- access settings ------------------------------------------------------------------------
def test_access_settings_and_their_defaults():
    server, tokens = load_config(environ={}).server, load_config(environ={}).tokens
    assert (server.allow_open, server.allowed_origins, server.frame_ancestors) == (
        False,
        (),
        "'none'",
    )
    assert (server.first_message_timeout_s, server.idle_timeout_s) == (5.0, 60.0)
    assert (server.max_connections, server.max_connections_per_client) == (1000, 100)
    assert tokens.link_secret is None
    environ = {
        "CALLASSIST_SERVER_ALLOW_OPEN": "yes",
        "CALLASSIST_SERVER_MAX_CONNECTIONS_PER_CLIENT": "7",
        "CALLASSIST_SERVER_FRAME_ANCESTORS": "'self' https://crm.example.com",
        "CALLASSIST_TOKENS_LINK_SECRET": "x" * 32,
    }
    config = load_config(environ=environ, server={"allowed_origins": ["https://crm.example.com"]})
    assert config.server.allow_open and config.server.max_connections_per_client == 7
    assert config.server.allowed_origins == ("https://crm.example.com",)
    assert config.tokens.link_secret == "x" * 32


@pytest.mark.parametrize(
    "text, message",
    [
        ('[server]\nallowed_origins = ["https://crm.example.com/app"]\n', "is not an origin"),
        ('[server]\nallowed_origins = ["*"]\n', "is not an origin"),
        ('[server]\nallowed_origins = "https://crm.example.com"\n', "expected array"),
        ('[server]\nframe_ancestors = "none"\n', "with its quotes"),
        ("[server]\nframe_ancestors = \"'none'; script-src *\"\n", "not a CSP source list"),
        ("[server]\nidle_timeout_s = -1\n", "idle_timeout_s must be >= 0"),
        ('[tokens]\nlink_secret = "short"\n', "link_secret needs at least 32 characters"),
    ],
)
def test_bad_access_settings_are_refused(tmp_path: Path, text: str, message: str):
    path = tmp_path / "callassist.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, {})


def test_serve_refuses_half_configured_tokens_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("CALLASSIST_TOKENS_INGEST", "in-secret")
    monkeypatch.setenv("CALLASSIST_TOKENS_AGENT", "agent-secret")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "callassist: [tokens] supervisor is not set while ingest and agent are: set it, or "
        "unset ingest and agent to run open on a loopback address\n"
    )
    monkeypatch.delenv("CALLASSIST_TOKENS_INGEST")
    monkeypatch.delenv("CALLASSIST_TOKENS_AGENT")
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "set [server] allow_open = true" in capsys.readouterr().err


# --- callassist link ------------------------------------------------------------------------
def test_link_prints_a_desktop_path_the_service_accepts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    from urllib.parse import parse_qs, urlsplit

    from streams.access import LinkCheck, check_link

    secret = "k" * 40
    monkeypatch.setenv("CALLASSIST_TOKENS_LINK_SECRET", secret)
    assert main(["link", "CA:1@x", "--ttl", "120"]) == 0
    out, err = capsys.readouterr()
    url = urlsplit(out.strip())
    query = parse_qs(url.query)
    assert url.path == "/desktop" and query["call"] == ["CA:1@x"]
    assert check_link(secret, query["token"][0], "CA:1@x", time.time()) is LinkCheck.VALID
    assert check_link(secret, query["token"][0], "CA:1@x", time.time() + 121) is LinkCheck.EXPIRED
    assert check_link(secret, query["token"][0], "CA:2", time.time()) is LinkCheck.INVALID
    assert err.startswith("valid until ")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["link", "c1"], "links are off: set [tokens] link_secret"),
        (["link", "a/b"], "not a call id"),
        (["link", "c1", "--ttl", "0"], "the ttl must be"),
    ],
)
def test_link_refusals_are_one_line(
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    if argv != ["link", "c1"]:
        monkeypatch.setenv("CALLASSIST_TOKENS_LINK_SECRET", "k" * 40)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("callassist: ") and message in err and err.count("\n") == 1


def test_backends_come_from_their_urls_and_default_to_one_process():
    config = load_config(
        None,
        {
            "CALLASSIST_STORE_URL": "postgresql://callassist:pw@db:5432/callassist",
            "CALLASSIST_BUS_URL": "redis://:pw@redis:6379/0",
        },
    )
    assert config.store.url.startswith("postgresql://") and config.bus.url.startswith("redis://")
    assert load_config(None, {}).store.url == load_config(None, {}).bus.url == ""


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"CALLASSIST_BUS_URL": "redis://r:6379/0"}, "[bus] url needs [store] url"),
        ({"CALLASSIST_STORE_URL": "mysql://db/x"}, "start with postgresql://"),
        (
            {"CALLASSIST_STORE_URL": "postgresql://d/x", "CALLASSIST_BUS_URL": "nats://n"},
            "redis://",
        ),
    ],
)
def test_a_backend_that_cannot_work_is_refused_at_start(environ: dict[str, str], message: str):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(None, environ)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://u:s3cret@db:5432/x", "postgresql://u:***@db:5432/x"),
        ("redis://:s3cret@[::1]:6379/0", "redis://:***@[::1]:6379/0"),
        ("redis://r:6379/0", "redis://r:6379/0"),
        ("postgresql://u:s3c@ret@db:abc/x", "postgresql://u:***@db:abc/x"),
    ],
)
def test_a_backend_url_in_a_message_hides_its_password(url: str, shown: str):
    assert safe_url(url) == shown


def test_candidates_are_configured_as_a_list_and_default_to_a_short_one():
    assert load_config(None, {}).call.languages == DEFAULT_CANDIDATE_LANGUAGES
    assert "en" in DEFAULT_CANDIDATE_LANGUAGES and len(DEFAULT_CANDIDATE_LANGUAGES) <= 10
    narrowed = load_config(None, {"CALLASSIST_CALL_LANGUAGES": "en, de"})
    assert narrowed.call.languages == ("en", "de")
    with pytest.raises(ConfigError, match="not a language code"):
        load_config(None, {"CALLASSIST_CALL_LANGUAGES": "english"})
