"""Entity registry: ``get_entity('DRUG')``. Standard library only."""

from __future__ import annotations

from ppstack.entities.drug import DRUG
from ppstack.entities.labeler import LABELER
from ppstack.entities.sources import SOURCES
from ppstack.entities.spec import EntitySpec, Source
from ppstack.errors import BadInput

ENTITIES: dict[str, EntitySpec] = {e.name: e for e in (DRUG, LABELER)}


def get_entity(name: str) -> EntitySpec:
    try:
        return ENTITIES[name.upper()]
    except KeyError:
        raise BadInput(
            f"unknown entity type {name!r}; known: {', '.join(sorted(ENTITIES))}"
        ) from None


def get_source(entity: EntitySpec, name: str) -> Source:
    if name.upper() not in entity.sources or name.upper() not in SOURCES:
        raise BadInput(
            f"unknown source {name!r} for {entity.name}; known: {', '.join(entity.sources)}"
        )
    return SOURCES[name.upper()]


__all__ = ["DRUG", "ENTITIES", "LABELER", "SOURCES", "EntitySpec", "Source", "get_entity",
           "get_source"]
