"""Dell TechDirect warranty lookups: OAuth2 client credentials, then asset-entitlements in batches.

The documented exchange::

    POST {base}/auth/oauth/v2/token        form: grant_type=client_credentials, client_id, client_secret
      -> {"access_token": "...", "token_type": "Bearer", "expires_in": 3600}
    GET  {base}/PROD/sbil/eapi/v5/asset-entitlements?servicetags=TAG1,TAG2,...   (at most 100 tags)
         Authorization: Bearer <token>
      -> [{"id", "serviceTag", "orderBuild", "shipDate", "productCode", "productLineDescription",
           "productFamily", "systemDescription", "productLobDescription", "countryCode", "duplicated",
           "invalid", "entitlements": [{"itemNumber", "startDate", "endDate", "entitlementType",
           "serviceLevelCode", "serviceLevelDescription", "serviceLevelGroup"}]}, ...]

A tag Dell does not know comes back with ``invalid: true``. Service tags are alphanumeric;
anything else (a comma above all, which would ask about another tag) is never sent.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from controller.secrets import Secret
from controller.warranty.calling import DEFAULT_TIMEOUT, ProviderBase, VendorCaller, parse_json, shape_error
from controller.warranty.results import Coverage, WarrantyResult, coverages, parse_day, text
from controller.warranty.serials import chunks
from controller.warranty.tokens import TokenCache, read_token, send_with_token

TOKEN_PATH = "/auth/oauth/v2/token"  # noqa: S105 (a URL path, not a password)
ENTITLEMENTS_PATH = "/PROD/sbil/eapi/v5/asset-entitlements"
BATCH_SIZE = 100


def is_service_tag(serial: str) -> bool:
    return serial.isascii() and serial.isalnum()


class DellProvider(ProviderBase):
    vendor = "dell"
    batch_size = BATCH_SIZE

    def __init__(self, client_id: Secret, client_secret: Secret, base_url: str, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self.caller = VendorCaller(self.vendor, base_url, transport=transport, timeout=timeout)
        self.tokens = TokenCache(self._fetch_token)

    def _fetch_token(self) -> tuple[str, float]:
        answer = self.caller.json("POST", TOKEN_PATH, "getting a token", data={
            "grant_type": "client_credentials", "client_id": self._client_id.reveal(),
            "client_secret": self._client_secret.reveal()})
        return read_token(self.caller, answer, "getting a token")

    def lookup(self, serials: Sequence[str]) -> dict[str, WarrantyResult]:
        results = {serial: WarrantyResult(serial, self.vendor, found=False) for serial in serials}
        asked: dict[str, list[str]] = {}
        for serial in serials:
            if is_service_tag(serial.strip()):
                asked.setdefault(serial.strip().upper(), []).append(serial)
        for batch in chunks(sorted(asked), self.batch_size):
            for item in self._entitlements(batch):
                for original in asked.get(text(item.get("serviceTag")).upper(), ()):
                    results[original] = self._result(original, item)
        return results

    def _entitlements(self, tags: list[str]) -> list[dict[str, object]]:
        what = f"asking about {len(tags)} service tags"
        response, body = send_with_token(self.tokens, lambda token: self.caller.send(
            "GET", ENTITLEMENTS_PATH, params={"servicetags": ",".join(tags)},
            headers={"Authorization": f"Bearer {token}"}))
        self.caller.check(response, what)
        answer = parse_json(self.vendor, body, what)
        if not isinstance(answer, list):
            raise shape_error(self.vendor, what, "a list of assets")
        return [item for item in answer if isinstance(item, dict)]

    def _result(self, serial: str, item: dict[str, object]) -> WarrantyResult:
        if item.get("invalid") is True:
            return WarrantyResult(serial, self.vendor, found=False)
        raw = item.get("entitlements")
        entitlements = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
        model = text(item.get("systemDescription")) or text(item.get("productLineDescription"))
        details = {key: value for key, value in (
            ("shipDate", text(item.get("shipDate"))[:10]), ("countryCode", text(item.get("countryCode"))),
            ("productLine", text(item.get("productLineDescription"))),
            ("productFamily", text(item.get("productFamily")))) if value}
        return WarrantyResult(serial, self.vendor, found=True, model=model, details=details, coverages=coverages(
            Coverage(text(e.get("serviceLevelDescription")) or text(e.get("serviceLevelCode")),
                     parse_day(e.get("startDate")), parse_day(e.get("endDate")), text(e.get("entitlementType")))
            for e in entitlements))
