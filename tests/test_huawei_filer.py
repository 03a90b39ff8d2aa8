"""The huawei-osm filer: the real huaweicloudsdkosm client against the loopback stand-in."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, Literal

import pytest
import requests
from huawei_standin import CASES, HuaweiStandIn, serving
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkosm.v2 import CreateCasesRequest, CreateOrderIncidentV2Req, OsmClient

from chalicelib.adapters.huawei_osm import API_SOURCE_ID, DESCRIPTION_LIMIT, HuaweiOsmFiler
from chalicelib.domain.lifecycle import marker_for
from chalicelib.domain.tickets import Ticket
from chalicelib.workflows.ports import FilingError

AK = "AKSTANDIN0000EXAMPLE"
SK = "sk-standin-0000-secret-example"
MARKER = marker_for("req-cn-2027-02-05")
IDS = {"business_type_id": "bt-configured", "product_category_id": "pc-configured"}
Served = tuple[str, HuaweiStandIn]


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    with serving() as (endpoint, state):
        # An IAM or STS lookup by the SDK (the domain id) would land here, where tests see it.
        monkeypatch.setenv("HUAWEICLOUD_SDK_IAM_ENDPOINT", endpoint)
        monkeypatch.setenv("HUAWEICLOUD_SDK_STS_ENDPOINT", endpoint)
        yield endpoint, state


def filer(endpoint: str, **options: Any) -> HuaweiOsmFiler:
    options.setdefault("timeout", (1, 0.5))
    return HuaweiOsmFiler(endpoint, AK, SK, **options)


def ticket(marker: str = MARKER, body: str = "- 范围 / Scope: CN\n- Window: 02-05 19:55") -> Ticket:
    summary = f"[{marker}] 业务保障申请 Service assurance: CN 2027-02-05"
    return Ticket("req-cn-2027-02-05", marker, summary, body, {"marker": marker})


def only_osm_calls(state: HuaweiStandIn) -> bool:
    return all(path.startswith("/v2/servicerequest/") for path in state.paths())


def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- filing -------------------------------------------------------------------------------
def test_files_a_signed_case_with_the_fields_the_provider_requires(standin: Served) -> None:
    endpoint, state = standin
    ticket_id = filer(endpoint, **IDS, incident_sub_type_id="st-1", x_site=1).file(ticket())

    [received] = state.requests
    assert (received.method, received.path) == ("POST", CASES)
    assert received.body == {
        "business_type_id": "bt-configured",
        "product_category_id": "pc-configured",
        "incident_sub_type_id": "st-1",
        "simple_description": f"{ticket().summary}\n\n{ticket().body}",
        "source_id": API_SOURCE_ID,
    }
    assert received.headers["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK},")
    assert received.headers["X-Site"] == "1"
    assert "X-Domain-Id" not in received.headers
    assert state.cases[ticket_id]["simple_description"].startswith(f"[{MARKER}]")


def test_sends_the_domain_id_when_given_and_never_asks_iam_for_it(standin: Served) -> None:
    endpoint, state = standin
    filer(endpoint, **IDS, domain_id="domain-0001").file(ticket())
    filer(endpoint, **IDS).file(ticket())

    assert [r.headers.get("X-Domain-Id") for r in state.requests] == ["domain-0001", None]
    assert only_osm_calls(state)


def test_a_long_body_is_cut_to_the_limit_keeping_the_marker_first(standin: Served) -> None:
    endpoint, state = standin
    ticket_id = filer(endpoint, **IDS).file(ticket(body="预留 reserve " * 400))

    sent = state.cases[ticket_id]["simple_description"]
    assert len(sent) == DESCRIPTION_LIMIT
    assert sent.startswith(f"[{MARKER}] ")
    assert sent.endswith("…")


# -- the ids a case is filed under ----------------------------------------------------------
def test_ids_not_configured_are_looked_up_once_and_kept(standin: Served) -> None:
    endpoint, state = standin
    osm = filer(endpoint)
    osm.file(ticket())
    osm.file(ticket(marker_for("another-request")))

    assert state.paths() == [
        "/v2/servicerequest/config/product-categories",
        "/v2/servicerequest/config/problems",
        CASES,
        CASES,
    ]
    assert state.requests[1].query["product_category_id"] == ["pc-live-0001"]
    for received in state.requests[2:]:
        assert received.body["business_type_id"] == "bt-assurance-01"
        assert received.body["product_category_id"] == "pc-live-0001"


def test_a_configured_problem_type_needs_no_lookup(standin: Served) -> None:
    endpoint, state = standin
    filer(endpoint, business_type_id="bt-configured").file(ticket())

    assert state.paths() == [CASES]
    assert state.requests[0].body["business_type_id"] == "bt-configured"
    assert "product_category_id" not in state.requests[0].body


def test_no_sensible_problem_type_names_the_setting(standin: Served) -> None:
    endpoint, state = standin
    state.problem_types["pc-live-0001"] = [
        {"business_type_id": "bt-a", "business_type_name": "计费问题 Billing"},
        {"business_type_id": "bt-b", "business_type_name": "使用咨询 Usage"},
    ]
    with pytest.raises(FilingError, match="BURST_ASSURANCE_HUAWEI_BUSINESS_TYPE_ID") as caught:
        filer(endpoint).file(ticket())

    assert caught.value.outcome_unknown is False
    assert "Billing (bt-a)" in str(caught.value)
    assert CASES not in state.paths()


def test_no_live_product_category_names_the_setting(standin: Served) -> None:
    endpoint, state = standin
    state.product_categories = [c for c in state.product_categories if "Live" not in str(c)]
    with pytest.raises(FilingError, match="BURST_ASSURANCE_HUAWEI_PRODUCT_CATEGORY_ID") as caught:
        filer(endpoint).file(ticket())

    assert caught.value.outcome_unknown is False
    assert CASES not in state.paths()


# -- unknown outcomes, and finding the case afterwards ------------------------------------
@pytest.mark.parametrize("how", ["500", "stall", "drop"])
def test_a_lost_answer_is_unknown_and_find_then_finds_the_case(
    standin: Served, how: Literal["500", "stall", "drop"]
) -> None:
    endpoint, state = standin
    state.lose_create = how
    osm = filer(endpoint, **IDS)
    with pytest.raises(FilingError) as caught:
        osm.file(ticket())

    assert caught.value.outcome_unknown is True
    [created] = state.cases
    assert osm.find(MARKER) == created
    assert osm.find(marker_for("never-filed")) is None


def test_find_pages_past_cases_that_only_mention_the_marker(standin: Served) -> None:
    endpoint, state = standin
    state.page_size = 1
    state.add_case(f"Follow-up to {MARKER}: same event, second venue")
    state.add_case(f"Re {MARKER}")
    filed = state.add_case(f"{ticket().summary}\n\n{ticket().body}")

    assert filer(endpoint).find(MARKER) == filed
    assert [r.query["offset"] for r in state.requests] == [["0"], ["1"], ["2"]]
    assert state.requests[0].query["search_key"] == [MARKER]


# -- failures -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "unknown"),
    [(400, False), (401, False), (403, False), (408, True), (429, True), (500, True), (503, True)],
)
def test_http_errors_say_whether_the_case_may_exist(
    standin: Served, status: int, unknown: bool
) -> None:
    endpoint, state = standin
    state.fail_next, state.fail_status = 1, status
    state.fail_message = f"verify aksk signature fail, ak={AK}, sk={SK}"  # a careless provider
    with pytest.raises(FilingError) as caught:
        filer(endpoint, **IDS).file(ticket())

    assert caught.value.outcome_unknown is unknown
    assert f"HTTP {status}" in str(caught.value)
    assert AK not in str(caught.value)
    assert SK not in str(caught.value)


@pytest.mark.parametrize("status", [429, 500])
def test_find_reports_provider_trouble_as_unknown(standin: Served, status: int) -> None:
    endpoint, state = standin
    state.fail_next, state.fail_status = 1, status
    with pytest.raises(FilingError) as caught:
        filer(endpoint).find(MARKER)

    assert caught.value.outcome_unknown is True


def test_a_read_timeout_is_unknown(standin: Served) -> None:
    endpoint, state = standin
    state.slow(3)
    osm = filer(endpoint, **IDS)
    with pytest.raises(FilingError, match=r"no answer within 0\.5 s") as filing:
        osm.file(ticket())  # the POST's timeout escapes the SDK as requests' ReadTimeout
    with pytest.raises(FilingError) as finding:
        osm.find(MARKER)  # a GET's is wrapped in a ConnectionException

    assert filing.value.outcome_unknown is True
    assert finding.value.outcome_unknown is True


def test_a_refused_connection_is_unknown() -> None:
    osm = filer(f"http://127.0.0.1:{refused_port()}", **IDS)
    with pytest.raises(FilingError, match="ConnectionException") as caught:
        osm.file(ticket())

    assert caught.value.outcome_unknown is True


# -- following and urging ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "state_name"),
    [(0, None), (1, "processing"), (2, "processing"), (3, "completed"),
     (4, "cancelled"), (12, "cancelled"), (17, "processing"), (99, None)],
)  # fmt: skip
def test_follow_maps_the_provider_status(
    standin: Served, status: int, state_name: str | None
) -> None:
    endpoint, state = standin
    case = state.add_case(ticket().summary, status=status)

    assert filer(endpoint).follow(case) == state_name
    assert state.paths() == [f"{CASES}/{case}/status"]


def test_following_a_case_the_provider_does_not_know_is_refused(standin: Served) -> None:
    endpoint, _ = standin
    with pytest.raises(FilingError, match="HTTP 404") as caught:
        filer(endpoint).follow("CS-NO-SUCH-CASE")

    assert caught.value.outcome_unknown is False


def test_urge_presses_the_case_with_the_message(standin: Served) -> None:
    endpoint, state = standin
    case = state.add_case(ticket().summary)
    message = "直播活动 2027-02-05 19:55 开始，请尽快受理 / the event starts soon, please accept"
    filer(endpoint).urge(case, message)

    assert state.presses == [(case, message)]
    [received] = state.requests
    assert (received.path, received.query) == (f"{CASES}/{case}/action", {"action_id": ["press"]})


# -- construction ------------------------------------------------------------------------------
@pytest.mark.parametrize(("ak", "sk"), [("", SK), (AK, ""), ("  ", SK), (AK, "\t")])
def test_blank_keys_are_refused(ak: str, sk: str) -> None:
    with pytest.raises(ValueError, match="AK and SK") as caught:
        HuaweiOsmFiler("https://osm.myhuaweicloud.com", ak, sk)

    assert SK not in str(caught.value)


@pytest.mark.parametrize(
    "endpoint",
    ["", "osm.myhuaweicloud.com", "http://osm.myhuaweicloud.com", "ftp://127.0.0.1",
     "https://osm.myhuaweicloud.com/v2"],
)  # fmt: skip
def test_an_endpoint_that_is_not_https_is_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        HuaweiOsmFiler(endpoint, AK, SK)


def test_an_https_endpoint_is_built_without_any_network_call() -> None:
    osm = HuaweiOsmFiler("https://osm.myhuaweicloud.com", AK, SK, x_site=0)
    assert osm.channel == "huawei-osm"


# -- the stand-in answers as Huawei Cloud does ---------------------------------------------------
def test_the_standin_refuses_unsigned_and_incomplete_requests(standin: Served) -> None:
    endpoint, state = standin
    unsigned = requests.post(f"{endpoint}{CASES}", json={}, timeout=2)
    assert unsigned.status_code == 401
    assert unsigned.headers["X-Request-Id"]
    assert set(unsigned.json()) == {"error_code", "error_msg"}

    credentials = GlobalCredentials(AK, SK)
    sdk = OsmClient.new_builder().with_credentials(credentials).with_endpoint(endpoint).build()
    with pytest.raises(Exception, match="400"):  # the SDK sends {} without complaint
        sdk.create_cases(CreateCasesRequest(body=CreateOrderIncidentV2Req()))
    assert state.requests[-1].body == {}
    assert not state.cases
