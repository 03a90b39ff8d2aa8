"""The huawei-osm filer: files the ticket as a Huawei Cloud service-ticket case through the OSM
API (huaweicloudsdkosm), follows the case's status and presses the provider to hurry.

How the SDK is held (checked in huaweicloudsdkcore 3.1.219):

- The client is built with ``with_endpoint`` and GlobalCredentials, never ``with_region``: only
  ``with_region`` makes ``build()`` call ``GlobalCredentials.process_auth_params``, which asks
  IAM (then STS) for the account's domain id when none is given. So no IAM call is ever made.
  The price: without a ``domain_id`` the requests carry no X-Domain-Id header; pass the
  account id as ``domain_id`` where the OSM endpoint wants it.
- An empty AK and SK make the SDK fetch temporary credentials from the instance-metadata
  address (Credentials._process_accessor), so blank keys are refused here instead.
- HTTP errors come out as ClientRequestException (4xx) or ServerResponseException (5xx);
  refused connections, dropped connections and a read timeout on a GET as ConnectionException;
  a read timeout on a POST escapes as a bare ``requests.exceptions.ReadTimeout``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import (
    ClientRequestException,
    SdkException,
    ServiceResponseException,
)
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkosm.v2 import (
    CreateCasesRequest,
    CreateOrderIncidentV2Req,
    ListCasesRequest,
    ListProblemTypesRequest,
    ListProductCategoriesRequest,
    OsmClient,
    ShowCaseStatusRequest,
    UpdateCasesRequest,
    WorkOrderOperateV2Req,
)

from chalicelib.domain.tickets import Ticket
from chalicelib.workflows.ports import FilingError

# The case source the API documents for cases created through it.
API_SOURCE_ID = "83aeb0f2834c4df49826c781d32a963e"
# The v1 API documents 1,200 characters for the description; the v2 model gives no limit, so
# the v1 figure is kept as the safe ceiling.
DESCRIPTION_LIMIT = 1200
CASES_PER_PAGE = 100  # list_cases: limit is at most 100, offset at most 65,535
LAST_OFFSET = 65535
# Provider status codes (ShowCaseStatusResponse.status) in our words. 0 "to be accepted" has
# none: the case is not accepted yet, which is what urging is for (workflows.follow_up). Once
# an engineer has it the case is processing, also at 2 "result to be confirmed", 5 "paused"
# and 17 "waiting for our feedback".
PROVIDER_STATES = {
    1: "processing",
    2: "processing",
    3: "completed",
    4: "cancelled",
    5: "processing",
    12: "cancelled",  # declared invalid
    17: "processing",
}
UNKNOWN_OUTCOME_STATUSES = {408, 429}  # the provider may still act on the request
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LIVE_PRODUCT = re.compile(r"(?<![a-z])live(?![a-z])|直播", re.IGNORECASE)
ASSURANCE_PROBLEM = re.compile(r"assurance|reserv|保障|预留", re.IGNORECASE)

# The SDK logs errors we already report as FilingError; keep its logger from printing them.
logging.getLogger(f"HuaweiCloud-SDK-{OsmClient.__name__}").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class CaseIds:
    """What the provider files the case under."""

    business_type_id: str
    product_category_id: str | None
    incident_sub_type_id: str | None


class HuaweiOsmFiler:
    channel = "huawei-osm"

    def __init__(
        self,
        endpoint: str,
        ak: str,
        sk: str,
        *,
        business_type_id: str | None = None,
        product_category_id: str | None = None,
        incident_sub_type_id: str | None = None,
        x_site: int | None = None,
        domain_id: str | None = None,
        timeout: tuple[float, float] = (5, 20),
    ) -> None:
        """``timeout`` is (connect, read) seconds. Ids left out are looked up once, on the
        first filing (``case_ids``)."""
        _check_endpoint(endpoint)
        if not ak.strip() or not sk.strip():
            raise ValueError(
                "the Huawei Cloud AK and SK must both be set (BURST_ASSURANCE_HUAWEI_AK, "
                "BURST_ASSURANCE_HUAWEI_SK); without them the SDK would ask the "
                "instance-metadata address for credentials"
            )
        if x_site not in (None, 0, 1):
            raise ValueError(f"x_site is 0 (Chinese site) or 1 (international site), not {x_site}")
        self._secrets = (ak, sk)
        self._business_type_id = _given(business_type_id)
        self._product_category_id = _given(product_category_id)
        self._incident_sub_type_id = _given(incident_sub_type_id)
        self._x_site = x_site
        self._timeout = timeout
        self._case_ids: CaseIds | None = None
        self._client = _client(endpoint, ak, sk, _given(domain_id), timeout)

    # -- the Filer port -------------------------------------------------------------------
    def find(self, marker: str) -> str | None:
        """Pages through the cases the provider's keyword search finds for the marker, and
        takes the one whose description carries it as its tag, "[marker]" (a case that only
        mentions the marker is not the one we filed)."""
        tag, offset = f"[{marker}]", 0
        while True:
            page = self._cases_page(marker, offset)
            cases = page.incident_info_list or []
            for case in cases:
                if tag in (case.simple_description or ""):
                    return str(case.incident_id)
            offset += len(cases)
            if not cases or offset >= (page.total_count or 0) or offset > LAST_OFFSET:
                return None

    def file(self, ticket: Ticket) -> str:
        ids = self.case_ids()
        case = CreateOrderIncidentV2Req(
            business_type_id=ids.business_type_id,
            product_category_id=ids.product_category_id,
            incident_sub_type_id=ids.incident_sub_type_id,
            simple_description=describe(ticket),
            source_id=API_SOURCE_ID,
        )
        request = CreateCasesRequest(x_site=self._x_site, body=case)
        answer = self._call("file the case", lambda: self._client.create_cases(request))
        if not answer.incident_id:
            raise FilingError(
                "Huawei Cloud OSM accepted the case but answered without its number",
                outcome_unknown=True,
            )
        return str(answer.incident_id)

    def follow(self, ticket_id: str) -> str | None:
        request = ShowCaseStatusRequest(case_id=ticket_id, x_site=self._x_site)
        answer = self._call(
            f"read the status of case {ticket_id}",
            lambda: self._client.show_case_status(request),
        )
        return PROVIDER_STATES.get(answer.status)  # None: not accepted yet, or a new code

    def urge(self, ticket_id: str, message: str) -> None:
        request = UpdateCasesRequest(
            case_id=ticket_id,
            action_id="press",
            x_site=self._x_site,
            body=WorkOrderOperateV2Req(operate_desc=message),
        )
        self._call(f"press case {ticket_id}", lambda: self._client.update_cases(request))

    # -- the ids a case is filed under ----------------------------------------------------
    def case_ids(self) -> CaseIds:
        """The configured ids; what is missing is looked up once and kept. The product category
        is the one named Live (直播); the problem type is the category's one about assurance
        or reservation (保障, 预留), or its only one. Anything else is a configuration job."""
        if self._case_ids is None:
            sub_type = self._incident_sub_type_id
            if self._business_type_id is not None:
                ids = CaseIds(self._business_type_id, self._product_category_id, sub_type)
            else:
                category = self._product_category_id or self._live_category()
                ids = CaseIds(self._problem_type(category), category, sub_type)
            self._case_ids = ids
        return self._case_ids

    def _live_category(self) -> str:
        request = ListProductCategoriesRequest(x_site=self._x_site)
        answer = self._call(
            "list the product categories",
            lambda: self._client.list_product_categories(request),
        )
        categories = answer.incident_product_category_list or []
        live = [
            c
            for c in categories
            if LIVE_PRODUCT.search(c.incident_product_category_name or "")
            or LIVE_PRODUCT.search(c.incident_product_category_acronym or "")
        ]
        if len(live) != 1:
            found = [
                (c.incident_product_category_name, c.incident_product_category_id) for c in live
            ]
            raise _unchosen("product category for Live", found, "PRODUCT_CATEGORY_ID")
        return str(live[0].incident_product_category_id)

    def _problem_type(self, category: str) -> str:
        request = ListProblemTypesRequest(product_category_id=category, x_site=self._x_site)
        answer = self._call(
            "list the problem types", lambda: self._client.list_problem_types(request)
        )
        types = answer.incident_business_type_list or []
        chosen = [t for t in types if ASSURANCE_PROBLEM.search(t.business_type_name or "")]
        if len(chosen) != 1 and len(types) == 1:
            chosen = types
        if len(chosen) != 1:
            found = [(t.business_type_name, t.business_type_id) for t in chosen or types]
            raise _unchosen("problem type for service assurance", found, "BUSINESS_TYPE_ID")
        return str(chosen[0].business_type_id)

    # -- calling the provider -------------------------------------------------------------
    def _cases_page(self, marker: str, offset: int) -> Any:
        request = ListCasesRequest(
            search_key=[marker], offset=offset, limit=CASES_PER_PAGE, x_site=self._x_site
        )
        return self._call(
            f"look for the case marked {marker}", lambda: self._client.list_cases(request)
        )

    def _call(self, action: str, send: Callable[[], Any]) -> Any:
        try:
            return send()
        except (SdkException, requests.RequestException) as exc:
            raise self._failure(action, exc) from None  # the cause's text is not scrubbed

    def _failure(self, action: str, exc: Exception) -> FilingError:
        if isinstance(exc, ServiceResponseException):
            status = exc.status_code
            detail = (
                f"HTTP {status} {exc.error_code}: {exc.error_msg} (request id {exc.request_id})"
            )
            refused = isinstance(exc, ClientRequestException)
            unknown = not refused or status in UNKNOWN_OUTCOME_STATUSES
            if status in (401, 403):
                detail += "; check the AK/SK, the domain id and the account's OSM permissions"
        elif isinstance(exc, requests.Timeout):
            unknown, refused = True, False
            detail = f"no answer within {self._timeout[1]:g} s"
        else:
            unknown, refused = True, False
            detail = f"{type(exc).__name__}: {getattr(exc, 'error_msg', None) or exc}"
        verb = "refused to" if refused and not unknown else "could not"
        message = f"Huawei Cloud OSM {verb} {action}: {detail}"
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return FilingError(message, outcome_unknown=unknown)


def describe(ticket: Ticket) -> str:
    """The case's description: summary (marker first) and body, cut to the provider's limit."""
    summary = ticket.summary
    if not summary.startswith(f"[{ticket.marker}]"):
        summary = f"[{ticket.marker}] {summary}"
    text = f"{summary}\n\n{ticket.body}"
    if len(text) <= DESCRIPTION_LIMIT:
        return text
    return text[: DESCRIPTION_LIMIT - 1] + "…"


def _client(
    endpoint: str, ak: str, sk: str, domain_id: str | None, timeout: tuple[float, float]
) -> Any:
    config = HttpConfig.get_default_config()
    config.timeout = timeout
    credentials = GlobalCredentials(ak, sk, domain_id)
    return (
        OsmClient.new_builder()
        .with_credentials(credentials)
        .with_endpoint(endpoint)
        .with_http_config(config)
        .build()
    )


def _check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint or "")
    local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
    if not parts.hostname or not (parts.scheme == "https" or local):
        raise ValueError(
            "the OSM endpoint (BURST_ASSURANCE_HUAWEI_OSM_ENDPOINT) must be an https:// URL, "
            f"got {endpoint!r}"
        )
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(f"the OSM endpoint is scheme://host[:port] only, got {endpoint!r}")


def _given(value: str | None) -> str | None:
    """A blank setting counts as not set."""
    if value is None or not value.strip():
        return None
    return value.strip()


def _unchosen(what: str, found: list[tuple[Any, Any]], setting: str) -> FilingError:
    listed = "; ".join(f"{name} ({id_})" for name, id_ in found[:10]) or "none"
    return FilingError(
        f"cannot tell which Huawei Cloud OSM {what} to use (candidates: {listed}); "
        f"set BURST_ASSURANCE_HUAWEI_{setting}",
        outcome_unknown=False,
    )
