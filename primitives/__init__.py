"""The ground every layer stands on: the clock, the shared enums and ids.

Nothing here imports anything of ours, so every package (storage, providers, routing, the
HTTP side, Slack, the emulators) may import it without pulling in another layer.
"""
