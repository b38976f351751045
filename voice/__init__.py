"""Audio in, transcript out: codecs, resampling, voice activity and streaming Whisper.

`voice` imports neither `assist` nor `streams`; everything it hands out is a
frozen value from `voice.events`.
"""
