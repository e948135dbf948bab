"""Lambda handlers for the read API: REST (v1) proxy event in, proxy response out.

Each handler parses the event, calls one read in ``service``/``search`` and builds the response;
every error, expected or not, becomes the one error envelope in ``responses.error_response``.
Imports: boto3 (through ``config``) and the standard library only, so the Lambda bundle needs no
DuckDB, pyarrow or pyiceberg (a test imports this module with those blocked).

The handlers are built per entity spec (``entity_handlers``); the route table ``ROUTES`` pairs the
OpenAPI paths with them and is what the local server dispatches on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ppstack.api import config, search, service
from ppstack.api.responses import error_response, json_response
from ppstack.entities import EntitySpec, get_entity
from ppstack.errors import PpstackError, ServiceUnavailable

Event = dict[str, Any]
Response = dict[str, Any]
Handler = Callable[[Event, Any], Response]

log = logging.getLogger("ppstack.api")


def _path_param(event: Event, name: str) -> str | None:
    return (event.get("pathParameters") or {}).get(name)


def _query_param(event: Event, name: str) -> str | None:
    return (event.get("queryStringParameters") or {}).get(name)


def _respond(read: Callable[[Any, str], Any]) -> Response:
    """Run one read with the process's client and table; translate every failure to the envelope."""
    try:
        cfg = config.get_config()
        return json_response(200, read(config.get_client(), cfg.table))
    except PpstackError as e:
        return error_response(e)
    except (ClientError, BotoCoreError) as e:
        log.warning("DynamoDB call failed: %s", e)
        return error_response(ServiceUnavailable("the data store is not answering; try again shortly"))
    except Exception:  # noqa: BLE001 - the last line of defence: a 500 envelope, logged
        log.exception("unhandled error")
        return error_response(RuntimeError())


def entity_handlers(spec: EntitySpec) -> tuple[Handler, Handler, Handler]:
    """(get, history, search) handlers for one entity type; the path parameter is ``spec.key``."""

    def get(event: Event, context: Any) -> Response:
        def read(client: Any, table: str) -> Any:
            entity_id = service.normalize_key(spec, _path_param(event, spec.key))
            return service.get_current(client, table, spec, entity_id)

        return _respond(read)

    def history(event: Event, context: Any) -> Response:
        def read(client: Any, table: str) -> Any:
            entity_id = service.normalize_key(spec, _path_param(event, spec.key))
            versions = service.get_history(client, table, spec, entity_id)
            return {"entity_id": entity_id, "versions": versions}

        return _respond(read)

    def search_(event: Event, context: Any) -> Response:
        def read(client: Any, table: str) -> Any:
            return search.search(client, table, spec, _query_param(event, "q"),
                                 _query_param(event, "limit"), _query_param(event, "cursor"))

        return _respond(read)

    return get, history, search_


DRUG = get_entity("DRUG")
get_drug, get_drug_history, search_drug = entity_handlers(DRUG)


def routes_for(spec: EntitySpec, handlers: tuple[Handler, Handler, Handler]) -> tuple[tuple[str, Handler], ...]:
    """OpenAPI resource paths of one entity type, derived from ``spec.api_path`` and ``spec.key``."""
    get, history, search_ = handlers
    base = f"/{spec.api_path}/{{{spec.key}}}"
    return (
        (base, get),
        (f"{base}/history", history),
        (f"/search/{spec.api_path}", search_),
    )


# resource path -> handler; GET only. Must equal the paths of openapi.yaml (a test checks).
ROUTES: tuple[tuple[str, Handler], ...] = routes_for(DRUG, (get_drug, get_drug_history, search_drug))
