"""Loopback stand-ins for Lenovo's and HP's warranty APIs (Dell's is controller.demo.fake_warranty).

Each answers as its vendor documents, and refuses what the vendor would refuse: a missing
or wrong ClientID (Lenovo, 401), wrong Basic credentials or grant type at HP's token
endpoint, an unknown bearer token, a body that is not the documented form or JSON.
``script`` queues failures for the next API answers, as with the Dell fake.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from controller.demo.fake_warranty import FakeVendorServer, Scripted, SeenRequest, basic_credentials, json_reply


def lenovo_record(serial: str, product: str, warranties: Sequence[tuple[str, str, str, str]]) -> dict[str, Any]:
    """A serial as Lenovo returns it; warranties are (name, start, end, type) with ISO dates."""
    return {
        "Serial": serial, "Product": product, "InWarranty": True, "Purchased": "2023-01-10T00:00:00Z",
        "Shipped": "2023-01-05T00:00:00Z", "Country": "DE", "UpgradeUrl": "https://example.invalid/upgrade",
        "ErrorCode": 0, "ErrorMessage": "",
        "Warranty": [{"ID": f"5WS{i}", "Name": name, "Description": f"{name} (description)", "Type": kind,
                      "Start": f"{start}T00:00:00Z", "End": f"{end}T00:00:00Z"}
                     for i, (name, start, end, kind) in enumerate(warranties)],
    }


class FakeLenovoApi(FakeVendorServer):
    PATH = "/v2.5/warranty"
    MAX_SERIALS = 100

    def __init__(self, client_id: str, records: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.client_id = client_id
        self.records = {serial.upper(): record for serial, record in (records or {}).items()}

    def answer(self, request: SeenRequest) -> Scripted:
        if request.path != self.PATH:
            return json_reply(404, {"Message": "not found"})
        if request.headers.get("clientid") != self.client_id:
            return json_reply(401, {"Message": "Authorization has been denied for this request."})
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        if request.method == "POST":
            if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                return json_reply(415, {"Message": "unsupported media type"})
            values = parse_qs(request.body.decode(errors="replace")).get("Serial", [])
        else:
            values = request.query.get("Serial", [])
        serials = [s for s in ",".join(values).split(",") if s]
        if not serials or len(serials) > self.MAX_SERIALS:
            return json_reply(400, {"Message": "Serial is required (at most 100)"})
        items = [self.records.get(s.upper()) or {"Serial": s, "ErrorCode": 101,
                                                   "ErrorMessage": "Serial number not found", "Warranty": []}
                 for s in serials]
        return json_reply(200, items[0] if len(items) == 1 else items)


def hp_result(serial: str, description: str, offers: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """A product as HP's job results list it; offers are (description, start, end) with ISO dates."""
    return {
        "product": {"serialNumber": serial, "productNumber": "6F6J5EA", "productDescription": description,
                    "countryCode": "DE", "productLineCode": "KV"},
        "offers": [{"offerDescription": text, "offerProductIdentifier": f"U{i}X", "offerSequenceNumber": i,
                    "serviceObligationLineItemStartDate": start, "serviceObligationLineItemEndDate": end,
                    "serviceObligationIdentifier": f"SO{i}", "serviceObligationStatusCode": "ACTIVE"}
                   for i, (text, start, end) in enumerate(offers)],
    }


class FakeHpApi(FakeVendorServer):
    TOKEN_PATH = "/oauth/v1/token"
    JOBS_PATH = "/productwarranty/v2/jobs"
    MAX_SERIALS = 5000

    def __init__(self, api_key: str, api_secret: str, products: dict[str, dict[str, Any]] | None = None, *,
                 polls_before_done: int = 1) -> None:
        super().__init__()
        self.api_key = api_key
        self.api_secret = api_secret
        self.products = {serial.upper(): item for serial, item in (products or {}).items()}
        self.polls_before_done = polls_before_done
        self.tokens: set[str] = set()
        self.jobs: dict[str, dict[str, Any]] = {}

    def answer(self, request: SeenRequest) -> Scripted:
        if request.path == self.TOKEN_PATH:
            form = parse_qs(request.body.decode(errors="replace"))
            if request.method != "POST" or form.get("grant_type") != ["client_credentials"]:
                return json_reply(400, {"error": "invalid_request"})
            if basic_credentials(request.headers.get("authorization", "")) != (self.api_key, self.api_secret):
                return json_reply(401, {"error": "invalid_client"})
            token = secrets.token_hex(16)
            with self.lock:
                self.tokens.add(token)
            return json_reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3599})
        if not request.path.startswith(self.JOBS_PATH):
            return json_reply(404, {"error": "not found"})
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            known = token in self.tokens
        if scheme.lower() != "bearer" or not known:
            return json_reply(401, {"error": "invalid_token"})
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        rest = request.path[len(self.JOBS_PATH):].strip("/").split("/")
        if request.method == "POST" and rest == [""]:
            return self._create(request)
        job = self.jobs.get(rest[0])
        if job is None:
            return json_reply(404, {"error": "no such job"})
        if rest[1:] == []:
            job["polls"] += 1
            done = job["polls"] >= self.polls_before_done
            return json_reply(200, {"status": "completed" if done else "incomplete", "estimatedTime": 0})
        if rest[1:] == ["results"]:
            return json_reply(200, [self.products.get(sn.upper()) or {"product": {"serialNumber": sn}, "offers": []}
                                    for sn in job["serials"]])
        return json_reply(404, {"error": "not found"})

    def _create(self, request: SeenRequest) -> Scripted:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return json_reply(415, {"error": "unsupported media type"})
        try:
            body = json.loads(request.body)
        except ValueError:
            return json_reply(400, {"error": "body is not JSON"})
        if (not isinstance(body, list) or not body or len(body) > self.MAX_SERIALS
                or not all(isinstance(item, dict) and isinstance(item.get("sn"), str) for item in body)):
            return json_reply(400, {"error": "expected [{\"sn\": ...}]"})
        job_id = secrets.token_hex(8)
        with self.lock:
            self.jobs[job_id] = {"serials": [item["sn"] for item in body], "polls": 0}
        return json_reply(200, {"jobId": job_id, "estimatedTime": 0})
