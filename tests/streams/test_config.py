import pytest

from streams.config import load_config
from streams.errors import ConfigError


def test_defaults_need_no_file():
    config = load_config(environ={})
    assert config.server.port == 8765
    assert config.asr.model == "tiny.en"
    assert config.tokens.agent is None


def test_file_then_environment_then_overrides(tmp_path):
    path = tmp_path / "callassist.toml"
    path.write_text(
        '[server]\nport = 9000\n[asr]\nmodel = "base"\ncpu_threads = 2\n'
        '[streaming.vad]\nmin_silence_s = 0.6\n[tokens]\nagent = "from-file"\n'
    )
    environ = {
        "CALLASSIST_ASR_DEVICE": "cuda",
        "CALLASSIST_TOKENS_AGENT": "from-env",
        "CALLASSIST_STREAMING_VAD_THRESHOLD": "0.6",
    }
    config = load_config(path, environ, server={"port": 9100})
    assert config.server.port == 9100
    assert config.asr.model == "base" and config.asr.device == "cuda"
    assert config.asr.cpu_threads == 2
    assert config.streaming.vad.min_silence_s == 0.6
    assert config.streaming.vad.threshold == 0.6
    assert config.tokens.agent == "from-env"


def test_unknown_keys_and_bad_values_are_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nprot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_config(path, {})
    with pytest.raises(ConfigError, match="CALLASSIST_SERVER_PORT"):
        load_config(None, {"CALLASSIST_SERVER_PORT": "eighty"})
