"""Reads the HAR files of a schemathesis run and fails on what must never happen: an
HTTP 5xx, an error with code INTERNAL, an error without a stable code, a BAD_INPUT
without a `detail` (or, unless it is about the whole request, without a `field`), or an answer that is not a GraphQL response (a JSON object with `data` and/or `errors`)."""
import collections
import json
import sys

# BAD_INPUT details about the request as a whole: no `field` (tests/it/helpers/mod.rs
# keeps the same list).
WHOLE_REQUEST = {
    "INVALID_QUERY", "MALFORMED_REQUEST", "UNREADABLE_BODY", "TOO_COMPLEX",
    "RESPONSE_TOO_LARGE", "MUTATION_OVER_GET", "TOO_MANY_PHOTOS", "TOO_MANY_WEBHOOKS", "TOO_MANY_CLIENTS",
    "NOT_UPLOADED_YET", "NOT_UPLOADED", "UPLOAD_UNREADABLE", "UPLOAD_INTERRUPTED",
    "SIZE_MISMATCH", "HASH_MISMATCH", "NOT_AN_IMAGE", "TYPE_MISMATCH",
    "DIMENSIONS_TOO_LARGE", "TOO_LARGE",
}

problems = []
summary = collections.Counter()
total = 0
for path in sys.argv[1:]:
    role = path.rsplit("/", 1)[-1].removesuffix(".har")
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)["log"]["entries"]
    if len(entries) < 50:
        problems.append(f"{role}: only {len(entries)} requests recorded")
    for e in entries:
        total += 1
        status = e["response"]["status"]
        text = e["response"]["content"].get("text", "")
        query = (e["request"].get("postData") or {}).get("text", "")[:300]
        where = f"{role}: HTTP {status} for {query!r}"
        if status >= 500:
            problems.append(f"{where}: server error")
            continue
        try:
            body = json.loads(text)
        except ValueError:
            problems.append(f"{where}: not JSON: {text[:200]!r}")
            continue
        if not isinstance(body, dict) or not ({"data", "errors"} & body.keys()):
            problems.append(f"{where}: not a GraphQL response: {text[:200]!r}")
            continue
        if "data" in body and not (body["data"] is None or isinstance(body["data"], dict)):
            problems.append(f"{where}: `data` is neither an object nor null")
        errors = body.get("errors") or []
        if "errors" in body and not (isinstance(body["errors"], list) and body["errors"]):
            problems.append(f"{where}: `errors` present but not a non-empty list")
        codes = set()
        for err in errors:
            code = (err.get("extensions") or {}).get("code") if isinstance(err, dict) else None
            if not isinstance(code, str) or not isinstance(err.get("message"), str):
                problems.append(f"{where}: an error without message or code: {err!r}")
                continue
            if code == "INTERNAL":
                problems.append(f"{where}: INTERNAL: {err.get('message')}")
            detail = err["extensions"].get("detail")
            if code == "BAD_INPUT" and not isinstance(detail, str):
                problems.append(f"{where}: BAD_INPUT without a detail: {err.get('message')}")
            elif code == "BAD_INPUT" and detail not in WHOLE_REQUEST:
                field = err["extensions"].get("field")
                if not (isinstance(field, str) and field):
                    problems.append(f"{where}: BAD_INPUT {detail} names no field: {err.get('message')}")
            codes.add(code)
        summary[(role, status, ",".join(sorted(codes)) or "OK")] += 1

for (role, status, codes), n in sorted(summary.items()):
    print(f"  {role:20} HTTP {status}  {codes:40} {n}")
print(f"{total} requests checked, {len(problems)} problems")
for p in problems[:50]:
    print("PROBLEM", p)
sys.exit(1 if problems else 0)
