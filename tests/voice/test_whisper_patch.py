"""The encoder-window fitting in voice/whisper.py replaces one faster-whisper internal
(faster-whisper is pinned for it): it must still apply, and only when an engine is made."""

import inspect
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import faster_whisper.audio as fw_audio
import faster_whisper.transcribe as fw_transcribe
import numpy as np

from voice import whisper

ROOT = Path(__file__).parents[2]
FRAMES_2_S = 200  # 10 ms mel frames


def parameters(function: Callable[..., object]) -> list[tuple[str, object, object]]:
    signature = inspect.signature(function)
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_the_replaced_function_is_still_there_with_the_signature_we_replace():
    original = fw_audio.pad_or_trim
    assert fw_transcribe.pad_or_trim in (original, whisper._pad_to_fitted_window)
    assert parameters(original) == [
        ("array", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
        ("length", inspect.Parameter.POSITIONAL_OR_KEYWORD, 3000),
        ("axis", inspect.Parameter.KEYWORD_ONLY, -1),
    ]
    assert parameters(whisper._pad_to_fitted_window) == parameters(original)
    # ... and the decode loop still pads each window through the module's global
    assert "pad_or_trim(segment)" in inspect.getsource(fw_transcribe.WhisperModel.generate_segments)


def test_installed_the_padding_fits_the_window_only_inside_the_context():
    threads = [threading.Thread(target=whisper._install_fitted_windows) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    whisper._install_fitted_windows()  # again: nothing changes
    assert fw_transcribe.pad_or_trim is whisper._pad_to_fitted_window
    features = np.zeros((80, FRAMES_2_S), np.float32)
    with whisper._fitted_window(True):
        fitted = fw_transcribe.pad_or_trim(features)
    assert fitted.shape == (80, 1000)  # the 10 s minimum, not 30 s
    assert fw_transcribe.pad_or_trim(features).shape == (80, 3000)
    with whisper._fitted_window(False):
        assert fw_transcribe.pad_or_trim(features).shape == (80, 3000)


def test_loading_the_configuration_does_not_patch_faster_whisper():
    check = (
        "import faster_whisper.audio as a, faster_whisper.transcribe as t\n"
        "import streams.config, voice.whisper\n"
        "assert t.pad_or_trim is a.pad_or_trim, 'faster_whisper was patched at import'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
