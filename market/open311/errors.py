"""Open311's refusals: the spec's `{code, description}` pairs, `code` being the HTTP status.

Each case has one fixed English description, so that integrating systems may match on it; the
product's own refusals met on the way (from the order flow, the people registry) are passed on
with their English detail under the status the spec allows (400, 403 or 404).
"""

from __future__ import annotations

from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_403_FORBIDDEN, HTTP_404_NOT_FOUND

# Case → (HTTP status, description). The descriptions are part of the interface: keep them stable.
CASES: dict[str, tuple[int, str]] = {
    "unknown_format": (HTTP_404_NOT_FOUND, "Unknown format: end the path with .json or .xml."),
    "unknown_resource": (HTTP_404_NOT_FOUND, "Unknown resource."),
    "tokens_not_supported": (
        HTTP_404_NOT_FOUND,
        "tokens are not supported: every service is realtime, POST requests returns the service_request_id.",
    ),
    "api_key_missing": (HTTP_403_FORBIDDEN, "api_key is required to create a service request."),
    "api_key_invalid": (HTTP_403_FORBIDDEN, "Invalid api_key received: unknown or revoked."),
    "api_key_lapsed": (
        HTTP_403_FORBIDDEN,
        "This api_key no longer works: the person who issued it no longer manages its jurisdiction.",
    ),
    "jurisdiction_mismatch": (HTTP_403_FORBIDDEN, "This api_key is not for the given jurisdiction_id."),
    "jurisdiction_required": (HTTP_400_BAD_REQUEST, "jurisdiction_id is required (a street code)."),
    "jurisdiction_not_found": (HTTP_404_NOT_FOUND, "jurisdiction_id not found."),
    "service_code_required": (HTTP_400_BAD_REQUEST, "service_code is required."),
    "service_code_not_found": (HTTP_404_NOT_FOUND, "service_code not found."),
    "service_request_not_found": (HTTP_404_NOT_FOUND, "service_request_id not found."),
    "location_required": (
        HTTP_400_BAD_REQUEST,
        "A location is required: address_id (a building or compound code) or address_string.",
    ),
    "lat_long_not_supported": (
        HTTP_400_BAD_REQUEST,
        "lat/long alone cannot place a request (the address tree has no coordinates): "
        "send address_id or address_string.",
    ),
    "address_id_not_found": (
        HTTP_400_BAD_REQUEST,
        "address_id is not a building or compound code in this jurisdiction.",
    ),
    "address_string_not_found": (
        HTTP_400_BAD_REQUEST,
        "address_string matches no building or compound in this jurisdiction (give its exact name or code).",
    ),
    "address_string_ambiguous": (
        HTTP_400_BAD_REQUEST,
        "address_string matches more than one place in this jurisdiction: send address_id instead.",
    ),
    "description_required": (HTTP_400_BAD_REQUEST, "description is required."),
    "phone_required": (
        HTTP_400_BAD_REQUEST,
        "phone is required: the reporter's mainland mobile number (11 digits, starting with 1).",
    ),
    "name_required": (
        HTTP_400_BAD_REQUEST,
        "first_name or last_name is required for a reporter new to this jurisdiction.",
    ),
    "reporter_elsewhere": (
        HTTP_400_BAD_REQUEST,
        "This phone number cannot report in this jurisdiction: it belongs to an account that is not "
        "an active resident here.",
    ),
    "attribute_not_defined": (HTTP_400_BAD_REQUEST, "attribute given that this service does not define."),
    "invalid_value": (HTTP_400_BAD_REQUEST, "A parameter's value is not valid."),
    "invalid_date": (
        HTTP_400_BAD_REQUEST,
        "start_date and end_date must be ISO 8601 date-times from 2000 to 2099.",
    ),
    "date_range_too_long": (HTTP_400_BAD_REQUEST, "start_date and end_date may be at most 90 days apart."),
    "date_range_reversed": (HTTP_400_BAD_REQUEST, "end_date must not be before start_date."),
    "invalid_status": (HTTP_400_BAD_REQUEST, "status must be open, closed, or both comma separated."),
    "invalid_page": (HTTP_400_BAD_REQUEST, "page must be a whole number from 1."),
    "invalid_page_size": (HTTP_400_BAD_REQUEST, "page_size must be a whole number from 1 to 100."),
    "too_many_ids": (HTTP_400_BAD_REQUEST, "At most 100 service_request_id values at once."),
    "busy": (503, "The service was busy; nothing was changed. Please try again."),
    "internal_error": (500, "Something went wrong on our side; nothing was changed. Please try again."),
}


class Open311Error(Exception):
    """A refusal in Open311's terms; `detail` replaces the case's description (a passed-on refusal)."""

    def __init__(self, case: str, detail: str | None = None, status: int | None = None) -> None:
        super().__init__(case)
        self.case = case
        default_status, description = CASES[case]
        self.status = status or default_status
        self.description = detail or description
