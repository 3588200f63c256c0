"""``wismo`` sub-commands; each module has ``register(subparsers)`` and a handler."""

from __future__ import annotations

import argparse
from typing import TypeAlias

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
