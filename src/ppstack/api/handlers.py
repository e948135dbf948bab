"""Lambda handlers for the read API: REST (v1) proxy event in, proxy response out.

Each handler parses the event, calls one read in ``service``/``search`` and builds the response;
every error, expected or not, becomes the one error envelope in ``responses.error_response``.
Imports: boto3 (through ``config``) and the standard library only, so the Lambda bundle needs no
DuckDB, pyarrow or pyiceberg (a test imports this module with those blocked).

The handlers are built per entity spec (``entity_handlers``); the route table ``ROUTES`` pairs the
OpenAPI paths with them and is what the local server dispatches on. ``GET /`` is the explorer
page (``explorer``), served by a handler too, so API Gateway and ``ppstack serve`` ship it alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ppstack.api import config, explorer, feed, search, service
from ppstack.api.responses import error_response, header, json_response, text_response
from ppstack.entities import EntitySpec, get_entity
from ppstack.errors import BadInput, PpstackError, ServiceUnavailable

Event = dict[str, Any]
Response = dict[str, Any]
Handler = Callable[[Event, Any], Response]

log = logging.getLogger("ppstack.api")


def _path_param(event: Event, name: str) -> str | None:
    return (event.get("pathParameters") or {}).get(name)


def _query_param(event: Event, name: str) -> str | None:
    return (event.get("queryStringParameters") or {}).get(name)


def _respond(event: Event, read: Callable[[Any, str], Any]) -> Response:
    """Run one read with the process's client and table; translate every failure to the envelope.

    A 200 carries an ETag; the request's ``If-None-Match`` turns an unchanged answer into a 304.
    """
    try:
        cfg = config.get_config()
        return json_response(200, read(config.get_client(), cfg.table),
                             if_none_match=header(event, "If-None-Match"))
    except PpstackError as e:
        return error_response(e)
    except (ClientError, BotoCoreError) as e:
        log.warning("DynamoDB call failed: %s", e)
        return error_response(
            ServiceUnavailable("the data store is not answering; try again shortly"))
    except Exception:  # noqa: BLE001 - the last line of defence: a 500 envelope, logged
        log.exception("unhandled error")
        return error_response(RuntimeError())


@dataclass(frozen=True)
class EntityHandlers:
    """The handlers of one entity type (each a Lambda function on AWS)."""

    get: Handler
    history: Handler
    search: Handler
    changes: Handler
    batches: Handler


def entity_handlers(spec: EntitySpec) -> EntityHandlers:
    """The handlers of one entity type; the path parameter is ``spec.key``."""

    def get(event: Event, context: Any) -> Response:
        def read(client: Any, table: str) -> Any:
            entity_id = service.normalize_key(spec, _path_param(event, spec.key))
            day = service.parse_date("as_of", _query_param(event, "as_of"))
            if day is not None:
                return service.get_as_of(client, table, spec, entity_id, day)
            return service.get_current(client, table, spec, entity_id)

        return _respond(event, read)

    def history(event: Event, context: Any) -> Response:
        def read(client: Any, table: str) -> Any:
            entity_id = service.normalize_key(spec, _path_param(event, spec.key))
            start = service.parse_date("from", _query_param(event, "from"))
            end = service.parse_date("to", _query_param(event, "to"))
            if start is not None and end is not None and start > end:
                raise BadInput(f"from ({start}) is after to ({end})")
            versions = service.get_history(client, table, spec, entity_id)
            return {"entity_id": entity_id, "versions": service.overlapping(versions, start, end)}

        return _respond(event, read)

    def search_(event: Event, context: Any) -> Response:
        def read(client: Any, table: str) -> Any:
            return search.search(client, table, spec, _query_param(event, "q"),
                                 _query_param(event, "limit"), _query_param(event, "cursor"))

        return _respond(event, read)

    def changes(event: Event, context: Any) -> Response:
        def read(client: Any, table: str) -> Any:
            return feed.list_changes(client, table, spec, _query_param(event, "batch_id"),
                                     _query_param(event, "kind"), _query_param(event, "limit"),
                                     _query_param(event, "cursor"))

        return _respond(event, read)

    def batches(event: Event, context: Any) -> Response:
        def read(client: Any, table: str) -> Any:
            return feed.list_batches(client, table, spec, _query_param(event, "limit"),
                                     _query_param(event, "cursor"))

        return _respond(event, read)

    return EntityHandlers(get, history, search_, changes, batches)


def explorer_page(event: Event, context: Any) -> Response:
    """GET /: the explorer page, one HTML file shipped in the package (no build step)."""
    return text_response(200, explorer.page(), "text/html; charset=utf-8",
                         if_none_match=header(event, "If-None-Match"))


DRUG = get_entity("DRUG")
DRUG_HANDLERS = entity_handlers(DRUG)
get_drug = DRUG_HANDLERS.get
get_drug_history = DRUG_HANDLERS.history
search_drug = DRUG_HANDLERS.search
list_drug_changes = DRUG_HANDLERS.changes
list_drug_batches = DRUG_HANDLERS.batches


def routes_for(spec: EntitySpec, handlers: EntityHandlers) -> tuple[tuple[str, Handler], ...]:
    """OpenAPI resource paths of one entity type, from ``spec.api_path`` and ``spec.key``."""
    base = f"/{spec.api_path}/{{{spec.key}}}"
    return (
        (base, handlers.get),
        (f"{base}/history", handlers.history),
        (f"/search/{spec.api_path}", handlers.search),
        (f"/changes/{spec.api_path}", handlers.changes),
        (f"/batches/{spec.api_path}", handlers.batches),
    )


# resource path -> handler; GET only. Must equal the paths of openapi.yaml (a test checks).
ROUTES: tuple[tuple[str, Handler], ...] = routes_for(DRUG, DRUG_HANDLERS) + (("/", explorer_page),)
