"""``wismo schema --out DIR``: JSON Schemas of the canonical events, the timeline and settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from cli.commands import SubParsers


def register(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "schema", help="write the JSON Schemas of the contracts to a directory"
    )
    parser.add_argument("--out", required=True, type=Path, help="directory to write into")
    parser.set_defaults(handler=run)


def schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema, for every contract an integrator or analyst may need."""
    from pydantic import TypeAdapter

    from projections.timeline_model import Timeline
    from wismo.events import EVENT_ADAPTER, Event, EventKind
    from wismo.settings import Settings

    documents: dict[str, dict[str, Any]] = {
        "event.schema.json": EVENT_ADAPTER.json_schema(),
        "timeline.schema.json": TypeAdapter(Timeline).json_schema(),
        "settings.schema.json": Settings.model_json_schema(),
    }
    for member in Event.__origin__.__args__:  # type: ignore[attr-defined]
        for kind in member.model_fields["kind"].annotation.__args__:
            schema = member.model_json_schema()
            schema["properties"]["kind"] = {"const": kind.value, "type": "string"}
            schema["title"] = EventKind(kind).value
            documents[f"{kind.value}.schema.json"] = schema
    return documents


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in sorted(schemas().items()):
        schema.setdefault("$schema", "https://json-schema.org/draft/2020-12/schema")
        (out / name).write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2) + b"\n")
        print(out / name)
    return 0
