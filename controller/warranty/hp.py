"""HP warranty lookups (warranty API v2): an API key and secret for a token, then a batch job.

The documented exchange::

    POST {base}/oauth/v1/token      Authorization: Basic base64(key:secret)
         form: grant_type=client_credentials
      -> {"access_token": "...", "expires_in": 3599, ...}
    POST {base}/productwarranty/v2/jobs          Bearer; JSON body [{"sn": "SN1"}, {"sn": "SN2"}, ...]
      -> {"jobId": "...", "estimatedTime": <seconds>}
    GET  {base}/productwarranty/v2/jobs/{jobId}  -> {"status": "incomplete" | "completed", "estimatedTime": ...}
    GET  {base}/productwarranty/v2/jobs/{jobId}/results
      -> [{"product": {"serialNumber", "productNumber", "productDescription", "countryCode"},
           "offers": [{"offerDescription", "offerProductIdentifier",
                       "serviceObligationLineItemStartDate", "serviceObligationLineItemEndDate"}]}]

The job flow takes large batches (HP's synchronous ``/queries`` takes five serials); a job is
polled as HP's estimate suggests, and a job that does not finish within :data:`MAX_JOB_WAIT`
counts as the vendor being unavailable (retried later). A serial HP does not know comes back
without offers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from urllib.parse import quote

import httpx

from controller.secrets import Secret
from controller.warranty.calling import DEFAULT_TIMEOUT, ProviderBase, VendorCaller, parse_json, shape_error
from controller.warranty.errors import VendorUnavailable
from controller.warranty.results import Coverage, WarrantyResult, coverages, parse_day, text
from controller.warranty.serials import chunks
from controller.warranty.tokens import TokenCache, read_token, send_with_token

TOKEN_PATH = "/oauth/v1/token"  # noqa: S105 (a URL path, not a password)
JOBS_PATH = "/productwarranty/v2/jobs"
BATCH_SIZE = 100
MAX_JOB_WAIT = 180.0
"""Seconds a refresh waits for one HP job before giving up on it."""
MAX_POLL_PAUSE = 30.0


class HpProvider(ProviderBase):
    vendor = "hp"
    batch_size = BATCH_SIZE

    def __init__(self, api_key: Secret, api_secret: Secret, base_url: str, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = DEFAULT_TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 max_job_wait: float = MAX_JOB_WAIT) -> None:
        self._api_key = api_key
        self._api_secret = api_secret
        self.caller = VendorCaller(self.vendor, base_url, transport=transport, timeout=timeout)
        self.tokens = TokenCache(self._fetch_token)
        self._sleep = sleep
        self._clock = clock
        self.max_job_wait = max_job_wait

    def _fetch_token(self) -> tuple[str, float]:
        answer = self.caller.json("POST", TOKEN_PATH, "getting a token", data={"grant_type": "client_credentials"},
                                  auth=(self._api_key.reveal(), self._api_secret.reveal()))
        return read_token(self.caller, answer, "getting a token")

    def _call(self, method: str, path: str, what: str, json_body: object = None) -> object:
        response, body = send_with_token(self.tokens, lambda token: self.caller.send(
            method, path, json_body=json_body, headers={"Authorization": f"Bearer {token}"}))
        self.caller.check(response, what)
        return parse_json(self.vendor, body, what)

    def lookup(self, serials: Sequence[str]) -> dict[str, WarrantyResult]:
        results = {serial: WarrantyResult(serial, self.vendor, found=False) for serial in serials}
        asked: dict[str, list[str]] = {}
        for serial in serials:
            asked.setdefault(serial.strip().upper(), []).append(serial)
        for batch in chunks(sorted(asked), self.batch_size):
            for item in self._run_job(batch):
                product = item.get("product")
                serial = text(product.get("serialNumber")) if isinstance(product, dict) else ""
                for original in asked.get(serial.upper(), ()):
                    results[original] = self._result(original, item)
        return results

    def _run_job(self, batch: list[str]) -> list[dict[str, object]]:
        what = f"a job for {len(batch)} serials"
        created = self._call("POST", JOBS_PATH, f"creating {what}", [{"sn": serial} for serial in batch])
        if not isinstance(created, dict) or not isinstance(created.get("jobId"), str) or not created["jobId"]:
            raise shape_error(self.vendor, f"creating {what}", "an object with jobId")
        job_path = f"{JOBS_PATH}/{quote(created['jobId'], safe='')}"
        deadline = self._clock() + self.max_job_wait
        pause = _pause(created)
        while True:
            self._sleep(pause)
            status = self._call("GET", job_path, f"polling {what}")
            if not isinstance(status, dict) or not isinstance(status.get("status"), str):
                raise shape_error(self.vendor, f"polling {what}", "an object with status")
            if status["status"].lower() == "completed":
                break
            if status["status"].lower() in ("failed", "error", "cancelled"):
                raise VendorUnavailable(self.vendor, f"{what} ended as {text(status['status'], 20)!r}",
                                        hint="retried later with backoff")
            pause = _pause(status)
            if self._clock() >= deadline:
                raise VendorUnavailable(self.vendor, f"{what} did not finish within {self.max_job_wait:.0f} s",
                                        hint="retried later with backoff")
        answer = self._call("GET", f"{job_path}/results", f"reading the results of {what}")
        if not isinstance(answer, list):
            raise shape_error(self.vendor, f"reading the results of {what}", "a list of products")
        return [item for item in answer if isinstance(item, dict)]

    def _result(self, serial: str, item: dict[str, object]) -> WarrantyResult:
        raw = item.get("offers")
        offers = [o for o in raw if isinstance(o, dict)] if isinstance(raw, list) else []
        if not offers:
            return WarrantyResult(serial, self.vendor, found=False)
        product = item.get("product") if isinstance(item.get("product"), dict) else {}
        assert isinstance(product, dict)
        details = {key: value for key, value in (
            ("productNumber", text(product.get("productNumber"))),
            ("countryCode", text(product.get("countryCode")))) if value}
        return WarrantyResult(serial, self.vendor, found=True, model=text(product.get("productDescription")),
                              details=details, coverages=coverages(
            Coverage(text(o.get("offerDescription")), parse_day(o.get("serviceObligationLineItemStartDate")),
                     parse_day(o.get("serviceObligationLineItemEndDate")), text(o.get("offerProductIdentifier")))
            for o in offers))


def _pause(status: dict[str, object]) -> float:
    estimate = status.get("estimatedTime")
    seconds = float(estimate) if isinstance(estimate, int | float) and not isinstance(estimate, bool) else 1.0
    return min(max(seconds, 0.0), MAX_POLL_PAUSE)
