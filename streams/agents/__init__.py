"""Faust agents: thin loops that read a topic, call pure code and a store, and publish.

Each module has ``register(ctx)`` adding its agent to ``ctx.app``; :mod:`cli.runtime.roles` picks
which ones a process runs.
"""
