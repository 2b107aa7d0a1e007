"""A log with planted personal data of every kind in every field it can sit in, and look-alikes
that must not match. Used by tests/test_privacy.py, tests/test_scrub.py and bench/bench_privacy.py.

``PLANTED``: (kind, field, the datum as logged). ``DECOYS``: text that looks personal and is not
(a 16-digit order number failing Luhn, ``token=`` empty, an e-mail shape in a user agent's URL,
a retina image name, a cache-busting timestamp, an IBAN with a wrong checksum).
"""

from __future__ import annotations

from loglines import CHROME, line, utc

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
# (kind, field, datum): each is planted in a request of its own.
PLANTED: list[tuple[str, str, str]] = [
    ("e-mail address", "query", "john.doe%40example.com"),
    ("e-mail address", "path", "jane.roe@example.org"),
    ("e-mail address", "referrer", "mary@example.net"),
    ("e-mail address", "agent", "owner@example.info"),
    ("e-mail address", "user", "sam@example.com"),
    ("phone number", "query", "%2B4915112345678"),
    ("phone number", "path", "+447911123456"),
    ("phone number", "referrer", "%2B33612345678"),
    ("payment card number", "query", "4111111111111111"),
    ("payment card number", "path", "5500-0000-0000-0004"),
    ("payment card number", "referrer", "340000000000009"),
    ("IBAN", "query", "DE89370400440532013000"),
    ("IBAN", "path", "GB82WEST12345698765432"),
    ("IBAN", "referrer", "NL91ABNA0417164300"),
    ("national ID", "query", "12345678Z"),
    ("national ID", "path", "811218-9876"),
    ("national ID", "query", "184127645108946"),
    ("JSON web token", "query", JWT),
    ("JSON web token", "referrer", JWT),
    ("JSON web token", "agent", JWT),
    ("password", "query", "hunter2hunter2"),
    ("password", "referrer", "s3cretpass"),
    ("token or API key", "query", "AKIAIOSFODNN7EXAMPLE"),
    ("token or API key", "referrer", "ya29.a0AfH6SMBx"),
    ("session id", "query", "8f14e45fceea167a5a36dedd4bea2543"),
    ("session id", "path", "6B3E5D4F0A1C2B3D4E5F6A7B8C9D0E1F"),
    ("session id", "referrer", "c9f0f895fb98ab9159f51fd0297e236d"),
    ("password-reset or login link", "path", "Zm9vYmFyYmF6cXV4MTIzNDU2"),
    ("password-reset or login link", "query", "q7PzR2xV9mK4wN8bL3cT"),
    ("password-reset or login link", "referrer", "aGVsbG93b3JsZHRva2VuMTIz"),
    ("credentials in a URL", "referrer", "admin:letmein"),
    ("credentials in a URL", "query", "bob:pa55word"),
]

# The request, referrer, agent and user of a planted datum, by field.
def _placed(kind: str, field: str, datum: str) -> dict[str, str]:
    path_of = {
        "e-mail address": f"/users/{datum}/profile",
        "phone number": f"/call/{datum}",
        "payment card number": f"/pay/{datum}/confirm",
        "IBAN": f"/sepa/{datum}",
        "session id": f"/cart;jsessionid={datum}",
        "national ID": f"/person/{datum}",
        "password-reset or login link": f"/account/reset-password/{datum}",
    }
    query_of = {
        "e-mail address": f"email={datum}&x=1",
        "phone number": f"phone={datum}",
        "payment card number": f"card={datum}",
        "IBAN": f"iban={datum}",
        "national ID": f"id={datum}",
        "JSON web token": f"jwt={datum}",
        "password": f"user=x&password={datum}",
        "token or API key": f"api_key={datum}",
        "session id": f"sid={datum}",
        "password-reset or login link": f"reset_token={datum}",
        "credentials in a URL": f"next=https://{datum}@intranet.example.com/",
    }
    referrer_of = {
        "e-mail address": f"https://mail.example.com/read?from={datum}",
        "phone number": f"https://crm.example.com/contact?tel={datum}",
        "payment card number": f"https://pay.example.com/?cc={datum}",
        "IBAN": f"https://bank.example.com/?iban={datum}",
        "JSON web token": f"https://app.example.com/cb/{datum}",
        "password": f"https://old.example.com/login?pass={datum}",
        "token or API key": f"https://api.example.com/v1?access_token={datum}",
        "session id": f"https://shop.example.com/?PHPSESSID={datum}",
        "password-reset or login link": f"https://shop.example.com/forgot-password/{datum}",
        "credentials in a URL": f"https://{datum}@shop.example.com/admin",
    }
    out = {"request": "GET / HTTP/1.1", "referrer": "-", "agent": CHROME, "user": "-"}
    if field == "path":
        out["request"] = f"GET {path_of[kind]} HTTP/1.1"
    elif field == "query":
        out["request"] = f"GET /form?{query_of[kind]} HTTP/1.1"
    elif field == "referrer":
        out["referrer"] = referrer_of[kind]
    elif field == "agent":
        out["agent"] = (
            f"Mozilla/5.0 (compatible; Fetcher/1.0; {datum})"
            if kind == "e-mail address" else f"App/2.0 (auth {datum})"
        )
    elif field == "user":
        out["user"] = datum
    return out


DECOYS: list[dict[str, str]] = [
    {"request": "GET /order?order=1234567890123456 HTTP/1.1"},  # 16 digits, fails Luhn
    {"request": "GET /order/1234567890123456/track HTTP/1.1"},
    {"request": "GET /search?token=&q=shoes HTTP/1.1"},  # empty token
    {"request": "GET /search?token=null&session= HTTP/1.1"},  # placeholder, empty
    {"agent": "Mozilla/5.0 (compatible; Bot/2.1; +https://bot.example.com/contact@bot.html)"},
    {"agent": "Mozilla/5.0 (compatible; Crawler/1.0; +http://info@crawler.example.com/)"},
    {"request": "GET /static/img/logo@2x.png HTTP/1.1"},  # retina image, not an address
    {"request": "GET /api/items?_=1700000000123 HTTP/1.1"},  # cache-busting timestamp
    {"request": "GET /sepa?iban=DE89370400440532013001 HTTP/1.1"},  # wrong IBAN checksum
    {"request": "GET /id?dni=12345678A HTTP/1.1"},  # wrong DNI letter
    {"request": "GET /person/811218-9875 HTTP/1.1"},  # personnummer failing Luhn
    {"request": "GET /id?nir=184127645108947 HTTP/1.1"},  # NIR with a wrong key
    {"request": "GET /call?phone=12 HTTP/1.1"},  # too short for a phone number
    {"referrer": "https://www.example.com/reset-password/"},  # no token in the link
    {"request": "GET /v/1.2.3.4567 HTTP/1.1"},
]

CLIENTS = [f"198.51.100.{10 + i}" for i in range(40)] + ["2001:db8:85a3::8a2e:370:7334"]


def lines(repeat: int = 1, ordinary: int = 200) -> list[str]:
    """Ordinary traffic with each planted datum and each decoy once per ``repeat``."""
    out: list[str] = []
    n = 0

    def add(request: str = "GET / HTTP/1.1", referrer: str = "-", agent: str = CHROME,
            user: str = "-") -> None:
        nonlocal n
        out.append(
            line(client=CLIENTS[n % len(CLIENTS)], when=utc(2024, 3, 1, 8 + (n // 3600) % 12,
                 (n // 60) % 60, n % 60), request=request, status=200, size=100 + n % 500,
                 referrer=referrer, agent=agent, user=user)
        )
        n += 1

    for _ in range(repeat):
        for i in range(ordinary):
            add(request=f"GET /p/{i % 37}?page={i % 5}&sort=price HTTP/1.1",
                referrer="https://www.google.com/" if i % 4 == 0 else "-")
        for kind, field, datum in PLANTED:
            add(**_placed(kind, field, datum))
        for d in DECOYS:
            add(**d)
    return out
