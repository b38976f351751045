"""Audio in, transcript out: codecs, resampling, voice activity and streaming Whisper.

`voice` imports neither `assist` nor `streams`; the events it hands out are
frozen values from `contract.events`.
"""
