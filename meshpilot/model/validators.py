"""The validator of each kind: decoded spec -> FieldErrors with paths from the document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meshpilot.model.decode import FieldError
from meshpilot.model.validate_gateway import validate_gateway
from meshpilot.model.validate_routes import validate_virtual_service
from meshpilot.model.validate_services import (
    validate_destination_rule,
    validate_service,
    validate_service_entry,
    validate_workload_entry,
)
from meshpilot.model.validate_sidecar import validate_secret, validate_sidecar

VALIDATORS: dict[str, Callable[[Any], list[FieldError]]] = {
    "Gateway": validate_gateway,
    "VirtualService": validate_virtual_service,
    "DestinationRule": validate_destination_rule,
    "ServiceEntry": validate_service_entry,
    "WorkloadEntry": validate_workload_entry,
    "Service": validate_service,
    "Sidecar": validate_sidecar,
    "Secret": validate_secret,
}
