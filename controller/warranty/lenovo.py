"""Lenovo warranty lookups (supportapi v2.5): a ClientID header, serials in a form body.

The documented exchange::

    POST {base}/v2.5/warranty     ClientID: <client id>
         Content-Type: application/x-www-form-urlencoded    Serial=SN1,SN2,...
      -> one serial:  {"Serial", "Product", "InWarranty", "Purchased", "Shipped", "Country",
                       "Warranty": [{"ID", "Name", "Description", "Type", "Start", "End"}], ...}
      -> several:     [ {same}, ... ]

(``GET {base}/v2.5/warranty?Serial=SN`` answers the same for one serial; POST keeps serials out
of URLs and logs.) A serial Lenovo does not know comes back with a non-zero ``ErrorCode`` and
no ``Warranty``. Batches are kept to 50 serials, what Lenovo's partners are told to send.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from controller.secrets import Secret
from controller.warranty.calling import DEFAULT_TIMEOUT, ProviderBase, VendorCaller, shape_error
from controller.warranty.results import Coverage, WarrantyResult, coverages, parse_day, text
from controller.warranty.serials import chunks

WARRANTY_PATH = "/v2.5/warranty"
BATCH_SIZE = 50


class LenovoProvider(ProviderBase):
    vendor = "lenovo"
    batch_size = BATCH_SIZE

    def __init__(self, client_id: Secret, base_url: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self._client_id = client_id
        self.caller = VendorCaller(self.vendor, base_url, transport=transport, timeout=timeout)

    def lookup(self, serials: Sequence[str]) -> dict[str, WarrantyResult]:
        results = {serial: WarrantyResult(serial, self.vendor, found=False) for serial in serials}
        asked: dict[str, list[str]] = {}
        for serial in serials:
            if "," not in serial:  # a comma would split into a serial somebody else owns
                asked.setdefault(serial.strip().upper(), []).append(serial)
        for batch in chunks(sorted(asked), self.batch_size):
            what = f"asking about {len(batch)} serials"
            answer = self.caller.json("POST", WARRANTY_PATH, what, data={"Serial": ",".join(batch)},
                                      headers={"ClientID": self._client_id.reveal()})
            items = [answer] if isinstance(answer, dict) else answer
            if not isinstance(items, list):
                raise shape_error(self.vendor, what, "an object or a list of objects")
            for item in items:
                if isinstance(item, dict):
                    for original in asked.get(text(item.get("Serial")).upper(), ()):
                        results[original] = self._result(original, item)
        return results

    def _result(self, serial: str, item: dict[str, object]) -> WarrantyResult:
        raw = item.get("Warranty")
        entries = [w for w in raw if isinstance(w, dict)] if isinstance(raw, list) else []
        error_code = item.get("ErrorCode")
        if (error_code not in (None, 0, "0")) and not entries:
            return WarrantyResult(serial, self.vendor, found=False)
        details = {key: value for key, value in (
            ("purchased", text(item.get("Purchased"))[:10]), ("shipped", text(item.get("Shipped"))[:10]),
            ("country", text(item.get("Country")))) if value}
        model = text(item.get("Product")) or text(item.get("Machine"))
        return WarrantyResult(serial, self.vendor, found=True, model=model, details=details, coverages=coverages(
            Coverage(text(w.get("Name")) or text(w.get("Description")), parse_day(w.get("Start")),
                     parse_day(w.get("End")), text(w.get("Type"))) for w in entries))
