"""Which entities each SQL template applies to: shared by the tests that render every template."""

from __future__ import annotations

from ppstack.entities import ENTITIES
from ppstack.sql import template_names


def entity_of(name: str) -> str | None:
    """The entity a staging template belongs to (by its name's prefix); None for shared ones."""
    for spec in ENTITIES.values():
        for template in spec.staging_template.values():
            if name.startswith(template):
                return spec.name
    return None


def template_entity_cases() -> list[tuple[str, str]]:
    """(template, entity) for every template and every entity it applies to."""
    return [(name, entity) for name in template_names() for entity in ENTITIES
            if entity_of(name) in (None, entity)]
