"""Generates the evaluation corpus of agenttrail's developer view
(server/redact/evaluation/testdata/corpus.jsonl).

The corpus is independent of the unit-test corpus in server/redact/testdata:
it is made here, by Faker (pinned in requirements.txt beside this file) in many locales and by
the token formats of the providers named below, with a fixed seed, so that
anyone can rebuild it byte for byte:

    python3 -m venv /tmp/redact-tools
    /tmp/redact-tools/bin/pip install --require-hashes --no-deps -r server/redact/tools/requirements.txt
    /tmp/redact-tools/bin/python server/redact/tools/evalcorpus.py > server/redact/evaluation/testdata/corpus.jsonl

Each line is one item, a text an agent could log, with:

- kind: what it holds (email, phone, card, iban, national_id, ip, api_key,
  token, password, private_key, encoded, name, address, dob, passport);
- locale: the Faker locale its values come from;
- sensitive: true for an item that holds a sensitive value, false for a clean
  look-alike of that kind, which the developer view must leave unchanged;
- text: the text;
- secrets (sensitive items): substrings of text that must not survive
  redaction. For names, each part of the name is listed; for addresses, the
  street line and the postal code; for formatted numbers, the number as
  written (the evaluation also looks for its digits alone).

The generator writes what it would want masked by any reader's standards,
not what agenttrail's detectors happen to find: texts are written in the
locale's language where a template exists, values are put in prose, JSON,
key-value lines, command lines, headers and encoded blobs.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import random
import string
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker

SEED = 20261102

LOCALES = [
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR",
    "pl_PL", "sv_SE", "ru_RU", "ja_JP", "zh_CN", "ko_KR", "tr_TR", "da_DK",
]
LATIN = [loc for loc in LOCALES if loc not in ("ru_RU", "ja_JP", "zh_CN", "ko_KR")]

rng = random.Random(SEED)
fakers: dict[str, Faker] = {}
for _i, _loc in enumerate(LOCALES):
    _f = Faker(_loc)
    _f.seed_instance(SEED + _i)
    fakers[_loc] = _f


def pick(xs):  # type: ignore[no-untyped-def]
    return xs[rng.randrange(len(xs))]


def lang(loc: str) -> str:
    return loc.split("_")[0]


@dataclass
class Item:
    kind: str
    locale: str
    sensitive: bool
    text: str
    secrets: list[str] = field(default_factory=list)

    def line(self) -> str:
        d: dict[str, object] = {"kind": self.kind, "locale": self.locale, "sensitive": self.sensitive, "text": self.text}
        if self.sensitive:
            missing = [s for s in self.secrets if not any(form in self.text for form in written_forms(s))]
            if missing or not self.secrets:
                raise ValueError(f"{self.kind}: secrets {missing or self.secrets} not in {self.text!r}")
            d["secrets"] = self.secrets
        return json.dumps(d, ensure_ascii=False)


def written_forms(secret: str) -> list[str]:
    """How a secret can be written in a text: as is, or escaped inside a
    JSON string (with or without \\u escapes for non-ASCII)."""
    return [secret, json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]]


def rand_alnum(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def jsonify(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=rng.random() < 0.2, indent=pick([None, None, 2]))


# --- Carriers shared by several kinds -----------------------------------------------

def chat(text: str) -> str:
    return pick([
        "{}",
        "User: {}",
        "Customer wrote: \"{}\"",
        "[2026-11-02T09:31:07Z] INFO ticket#{} note: {{}}".format(rng.randint(1000, 99999)),
        "Transcript excerpt:\n> {}\n> thanks",
        "Summary for the agent: {}",
    ]).format(text)


# --- Emails -------------------------------------------------------------------------

IDN_DOMAINS = ["почта.рф", "пример.рф", "例え.jp", "例子.中国", "münchen-mail.de", "bücher.example", "correo.españa.es", "예시.한국"]
NATIVE_LOCAL = {
    "ru_RU": lambda f: f.first_name().lower(),
    "ja_JP": lambda f: f.last_name(),
    "zh_CN": lambda f: f.name(),
    "ko_KR": lambda f: f.name(),
}


def email_item(loc: str) -> Item:
    f = fakers[loc]
    style = rng.random()
    if style < 0.45:
        addr = pick([f.email(), f.free_email(), f.company_email(), f.safe_email()])
        if rng.random() < 0.15:
            user, dom = addr.split("@")
            addr = f"{user}+{pick(['orders', 'news', 'x', 'billing'])}@{dom}"
        if rng.random() < 0.1:
            addr = addr.upper()
        text = pick([
            "Please send the invoice to {} instead.",
            "My email is {} — reply there.",
            "Contact: {}",
            "{{\"to\": [\"{}\"], \"subject\": \"Order update\"}}",
            "mailto:{}?subject=Refund",
            "email={}&plan=pro",
            "Reply-To: {}",
            "From: \"{}\" <{{}}>".format(f.name()),
            "SMTP 550 5.1.1 <{}>: Recipient address rejected",
            "customer_email: {}",
            "Kunde bittet um Antwort an {}.",
            "Écrivez-moi à {}, merci.",
        ]).format(addr).replace("{}", addr)
        return Item("email", loc, True, chat(text), [addr])
    if style < 0.6:
        user = NATIVE_LOCAL.get(loc, lambda f: f.user_name())(f)
        addr = f"{user}@{pick(IDN_DOMAINS)}"
        text = pick([
            "请联系{}，谢谢。", "メールは{}、よろしくお願いします。", "Пишите на {}, пожалуйста.", "이메일: {}，감사합니다",
            "Contact {} for the contract.", "email：{}",
        ]).format(addr)
        return Item("email", loc, True, text, [addr])
    if style < 0.72:
        addr = f.email()
        enc = addr.replace("@", "%40")
        text = pick([
            "GET /unsubscribe?email={}&token=none HTTP/1.1",
            "redirect_uri=https%3A%2F%2Fshop.example%2Fdone&login_hint={}",
            "https://crm.example.com/search?q={}",
        ]).format(enc)
        return Item("email", loc, True, text, [enc, addr.split("@")[0] + "%40"])
    if style < 0.86:
        user, dom = f.free_email().split("@")
        name, tld = dom.rsplit(".", 1)
        ob = pick([
            f"{user} at {name} dot {tld}",
            f"{user} [at] {name} [dot] {tld}",
            f"{user}(at){name}(dot){tld}",
            f"{user} AT {name} DOT {tld}",
        ])
        text = pick(["write to {} please", "my address is {}", "Contact: {}", "reach me: {} (no spam)"]).format(ob)
        return Item("email", loc, True, text, [ob])
    addr = f.free_email()
    fw = addr.replace("@", "＠") if rng.random() < 0.5 else addr
    text = pick(["連絡先：{}，よろしく", "邮箱：{}，谢谢", "E-mail : {} ; merci", "email\u00a0: {}"]).format(fw)
    return Item("email", loc, True, text, [fw])


def email_clean(loc: str) -> Item:
    f = fakers[loc]
    text = pick([
        "git clone git@github.com:{}/{}.git".format(f.user_name(), f.word()),
        "npm install lodash@4.17.{} @types/node@20".format(rng.randint(1, 30)),
        "Use the icon@2x.png and logo@3x.webp assets.",
        "Ping @{} on Slack about the deploy.".format(f.user_name()),
        "The decorator @dataclass(frozen=True) is used in models.py.",
        "Meet me at the office at {} o'clock.".format(rng.randint(1, 12)),
        "ssh deploy@{} -p 22".format(pick(["bastion", "prod-web-1", "localhost"])),
        "The user name is {} and the domain is {}.".format(f.user_name(), pick(["example", "corp"])),
        "docker pull ghcr.io/org/app@sha256:{}".format(hashlib.sha256(f.word().encode()).hexdigest()),
        "Send it to the support team at the front desk.",
        "Email addresses are validated by the signup form.",
    ])
    return Item("email", loc, False, text)


# --- Phones -------------------------------------------------------------------------

def phone_value(loc: str) -> tuple[str, str]:
    """A phone number as written, and a context label in the locale's language."""
    f = fakers[loc]
    label = {"de": "Telefon", "fr": "Tél.", "es": "Teléfono", "it": "Cellulare", "nl": "Telefoon", "pt": "Telefone",
             "pl": "Telefon", "sv": "Telefon", "ru": "Телефон", "ja": "電話番号", "zh": "电话", "ko": "전화번호",
             "tr": "Telefon", "da": "Telefon"}.get(lang(loc), "Phone")
    special = rng.random()
    if loc == "ru_RU" and special < 0.5:
        n = f"8 (9{rng.randint(10, 99)}) {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"
        return n, label
    if loc == "it_IT" and special < 0.5:
        n = pick([f"+39 3{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                  f"3{rng.randint(20, 99)} {rng.randint(1000000, 9999999)}", f"3{rng.randint(20, 99)}{rng.randint(1000000, 9999999)}"])
        return n, label
    if loc == "fr_FR" and special < 0.5:
        sep = pick(["\u00a0", "\u202f", " ", "."])
        n = sep.join(["0" + str(rng.choice([1, 2, 3, 4, 5, 6, 7, 9]))] + [f"{rng.randint(0, 99):02d}" for _ in range(4)])
        return n, label
    if loc == "ja_JP" and special < 0.5:
        n = pick([f"090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}", f"03-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                  f"080{rng.randint(10000000, 99999999)}"])
        return n, label
    if loc == "en_US" and special < 0.3:
        n = f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
        return n, label
    return f.phone_number(), label


def phone_item(loc: str) -> Item:
    n, label = phone_value(loc)
    compact = "".join(c for c in n if c.isdigit() or c == "+")
    style = rng.random()
    secrets = [n]
    if style < 0.25:
        text = pick([
            f"{label}: {n}", f"{label}:{n}", f"{label.lower()}={n}", f"Call me back on {n} after 5pm.",
            f"SMS sent to {n}: your verification code is {rng.randint(100000, 999999)}.",
        ])
    elif style < 0.33:
        text = pick([f"phone={compact}", f"to={compact}&body=Your+code", f"tel:{compact}", f"<a href=\"tel:{compact}\">call us</a>"])
        secrets = [compact]
    elif style < 0.45:
        text = jsonify({pick(["phone", "mobile", "telefono", "tel", "contact_number", "phoneNumber", "whatsapp"]): n,
                        "name": fakers[loc].first_name(), "orders": rng.randint(1, 40)})
    elif style < 0.6 and lang(loc) in ("ja", "zh", "ko"):
        text = pick([f"お客様の電話番号は{n}です。", f"请拨打{n}联系我。", f"연락처는 {n}입니다.", f"{label}：{n}，谢谢"])
    elif style < 0.7:
        text = pick([f"Rufen Sie mich unter {n} an.", f"Appelez-moi au {n} demain.", f"Llámame al {n}.", f"Chiamami al {n} domani.",
                     f"Позвоните мне по номеру {n}.", f"Bel me op {n}.", f"Zadzwoń pod {n}.", f"Ring mig på {n}."])
    else:
        text = chat(pick([f"my number is {n}", f"you can reach me at {n} in the afternoon", f"{label} {n}",
                          f"Thanks,\n{fakers[loc].name()}\n{n}", f"emergency contact: {n}"]))
    return Item("phone", loc, True, text, secrets)


def phone_clean(loc: str) -> Item:
    text = pick([
        "Order #{} was placed on {} and shipped on {}.".format(rng.randint(1000, 99999), fake_date(), fake_date()),
        "Refund of ${}.{:02d} approved; balance 1,234.56 USD.".format(rng.randint(1, 999), rng.randint(0, 99)),
        "Upgraded from v{}.{}.{} to {}.{}.0; build 20261102.{}".format(rng.randint(1, 9), rng.randint(0, 20), rng.randint(0, 20), rng.randint(1, 9), rng.randint(0, 20), rng.randint(1, 999)),
        "ISBN 978-{}-{}-{}-{}".format(rng.randint(0, 9), rng.randint(10, 99), rng.randint(100000, 999999), rng.randint(0, 9)),
        "Tracking 1Z{}{} in transit, FedEx {} {} {}".format(rand_alnum(6, string.ascii_uppercase + string.digits), rng.randint(10 ** 9, 10 ** 10 - 1), rng.randint(1000, 9999), rng.randint(1000, 9999), rng.randint(1000, 9999)),
        "The model used {} input tokens and {} output tokens in {} ms.".format(rng.randint(100, 99999), rng.randint(10, 9999), rng.randint(100, 99999)),
        "Invoice INV-2026-{:06d} for PO {} is due in 30 days.".format(rng.randint(1, 999999), rng.randint(4500000000, 4599999999)),
        "Population 8 336 817 (2020), area 783.8 km².",
        "Meeting 09:30-10:15 in room 4.12, then 14:00–15:30.",
        "Coordinates 48.8584, 2.2945 at elevation 330 m.",
        "Timestamp 1730539807123 ms since epoch; offset +01:00.",
        "Ticket count went from 1 204 to 3 507 in Q3.",
        "Error code 0x80070005 at line 1204, column 33.",
        "Build #{} passed 1834 of 1840 tests.".format(rng.randint(1000, 9999)),
        "Zip code {} and order {}".format(fakers[loc].postcode(), rng.randint(100000, 999999)),
    ])
    return Item("phone", loc, False, text)


def fake_date() -> str:
    d = datetime.date(2026, 1, 1) + datetime.timedelta(days=rng.randint(0, 360))
    return pick([d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%d.%m.%Y"), d.strftime("%B %d, %Y")])


# --- Cards --------------------------------------------------------------------------

CARD_TYPES = ["visa", "visa16", "mastercard", "amex", "discover", "jcb", "diners", "maestro", "visa19"]


def card_number(loc: str) -> str:
    while True:
        n = fakers["en_US"].credit_card_number(pick(CARD_TYPES))
        if len(n) >= 13:
            return n


def group_card(n: str) -> str:
    if len(n) == 15:
        groups = [n[:4], n[4:10], n[10:]]
    elif len(n) == 14:
        groups = [n[:4], n[4:10], n[10:]]
    else:
        groups = [n[i:i + 4] for i in range(0, len(n), 4)]
    style = rng.random()
    if style < 0.25:
        return n
    if style < 0.5:
        return " ".join(groups)
    if style < 0.65:
        return "-".join(groups)
    if style < 0.8:
        return ".".join(groups)
    if style < 0.9:
        h = len(groups) // 2
        return " ".join(groups[:h]) + pick(["\n", " \n", "\n  "]) + " ".join(groups[h:])
    return "\u00a0".join(groups)


def card_item(loc: str) -> Item:
    n = card_number(loc)
    w = group_card(n)
    exp = f"{rng.randint(1, 12):02d}/{rng.randint(26, 31)}"
    style = rng.random()
    if style < 0.4:
        text = chat(pick([
            f"My card number is {w}, exp {exp}, can you retry the payment?",
            f"Charge failed for card {w}: insufficient funds (decline code 51).",
            f"Karte {w} gültig bis {exp}", f"Carte bancaire : {w}", f"Tarjeta {w} caduca {exp}",
            f"カード番号：{w}", f"卡号：{w}，有效期{exp}", f"Номер карты {w}",
            f"card={w}&exp={exp}", f"PAN {w}",
        ]))
    elif style < 0.7:
        key = pick(["card_number", "cardNumber", "pan", "number", "card", "cc"])
        value: object = int(n) if rng.random() < 0.3 else w
        text = jsonify({"payment_method": {key: value, "exp": exp, "holder": fakers[loc].name()}})
        if isinstance(value, int):
            return Item("card", loc, True, text, [n])
    else:
        text = pick([f"CC: {w} CVV {rng.randint(100, 999)}", f"payment.card = {w}", f"{w}", f"Paid with {w} on {fake_date()}."])
    secrets = [w]
    if "\n" in w:
        secrets = [w.split("\n")[0].strip(), w.split("\n")[-1].strip()]
    return Item("card", loc, True, text, secrets)


def luhn_ok(n: str) -> bool:
    s = 0
    for i, c in enumerate(reversed(n)):
        d = int(c)
        if i % 2:
            d *= 2
            d -= 9 if d > 9 else 0
        s += d
    return s % 10 == 0


def card_clean(loc: str) -> Item:
    n = card_number(loc)
    bad = n[:-1] + str((int(n[-1]) + rng.randint(1, 9)) % 10)
    assert not luhn_ok(bad)
    other = "".join(rng.choice(string.digits) for _ in range(16))
    while luhn_ok(other):
        other = "".join(rng.choice(string.digits) for _ in range(16))
    imei = "35" + "".join(rng.choice(string.digits) for _ in range(13))
    text = pick([
        f"Card {group_card(bad)} was declined as invalid (checksum).",
        f"Order reference {other} created.",
        f"Device IMEI {imei} registered.",
        f"Account 0{rng.randint(10 ** 14, 10 ** 15 - 1)} at the bank.",
        f"Last four digits: {n[-4:]}; card type {pick(CARD_TYPES)}.",
        f"Request id {uuid_like()} failed.",
        f"Gift card 6{rng.randint(10 ** 14, 10 ** 15 - 1)} balance 25.00",
        f"Session 9{rng.randint(10 ** 16, 10 ** 17 - 1)} expired",
    ])
    return Item("card", loc, False, text)


def uuid_like() -> str:
    h = hashlib.md5(str(rng.random()).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-8{h[17:20]}-{h[20:32]}"


# --- IBANs --------------------------------------------------------------------------

IBAN_LOCALES = ["de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "tr_TR", "da_DK", "en_GB", "pt_BR"]


def iban_item(loc: str) -> Item:
    iloc = loc if loc in IBAN_LOCALES else pick(IBAN_LOCALES)
    i = fakers[iloc].iban()
    style = rng.random()
    if style < 0.4:
        w = " ".join(i[k:k + 4] for k in range(0, len(i), 4))
    elif style < 0.5:
        w = i.lower()
    elif style < 0.55:
        w = "\u00a0".join(i[k:k + 4] for k in range(0, len(i), 4))
    else:
        w = i
    text = pick([
        f"Please refund to IBAN {w}.", f"IBAN: {w}", f"Bankverbindung: {w} (Sparkasse)",
        f"RIB / IBAN : {w}", jsonify({"iban": w, "bic": "DEUTDEFF"}), f"iban={i}", f"Transfer from {w} failed: account closed.",
        f"Conto corrente {w}", f"Rekeningnummer {w}", f"Numer konta {w}",
    ])
    return Item("iban", iloc, True, text, [i] if "iban=" in text else [w])


def iban_clean(loc: str) -> Item:
    i = fakers[pick(IBAN_LOCALES)].iban()
    bad = i[:2] + f"{(int(i[2:4]) + rng.randint(1, 50)) % 100:02d}" + i[4:]
    text = pick([
        f"IBAN {bad} rejected: checksum mismatch.",
        f"BIC {pick(['DEUTDEFF', 'BNPAFRPP', 'INGBNL2A', 'COBADEFFXXX'])} is the bank's code.",
        f"SKU DE{rng.randint(10, 99)}-NAVY-{rng.randint(30, 46)}-{rand_alnum(4, string.ascii_uppercase)}",
        f"Ticket GB{rng.randint(10 ** 8, 10 ** 9 - 1)} opened.",
        "The IBAN field is optional for card payments.",
    ])
    return Item("iban", loc, False, text)


# --- National ids -------------------------------------------------------------------

def nino() -> str:
    first = pick("ABCEGHJKLMNOPRSTWXYZ")
    second = pick("ABCEGHJKLMNPRSTWXYZ")
    d = "".join(rng.choice(string.digits) for _ in range(6))
    return first + second + d + pick("ABCD")


def national_value(loc: str) -> tuple[str, list[str]]:
    """A national id as written and context labels for it."""
    f = fakers[loc]
    if loc == "en_US":
        s = f.ssn()
        w = pick([s, s, s.replace("-", " "), s.replace("-", "")])
        return w, ["SSN", "Soc. Sec. No.", "social security number", "SSN#"]
    if loc == "en_GB":
        n = nino() if rng.random() < 0.7 else f.ssn().replace(" ", "")
        w = pick([n, f"{n[:2]} {n[2:4]} {n[4:6]} {n[6:8]} {n[8]}", n.lower(), f"{n[:2]} {n[2:8]} {n[8]}"])
        return w, ["NI number", "National Insurance No.", "NINO"]
    if loc == "fr_FR":
        s = f.ssn()
        w = pick([s, f"{s[0]} {s[1:3]} {s[3:5]} {s[5:7]} {s[7:10]} {s[10:13]} {s[13:]}"])
        return w, ["numéro de sécurité sociale", "NIR", "n° SS"]
    if loc == "it_IT":
        return f.ssn(), ["codice fiscale", "CF"]
    if loc == "nl_NL":
        return f.ssn(), ["BSN", "burgerservicenummer"]
    if loc == "pt_BR":
        return pick([f.cpf(), f.ssn()]), ["CPF"]
    if loc == "pl_PL":
        return f.ssn(), ["PESEL"]
    if loc == "sv_SE":
        return f.ssn(), ["personnummer"]
    if loc == "zh_CN":
        return f.ssn(), ["身份证号", "身份证"]
    if loc == "ko_KR":
        return f.ssn(), ["주민등록번호"]
    if loc == "tr_TR":
        return f.ssn(), ["TC kimlik no", "T.C. Kimlik"]
    if loc == "es_ES":
        return pick([f.nif(), f.nie()]), ["DNI", "NIE", "NIF"]
    if loc == "da_DK":
        d = f.date_of_birth(minimum_age=18, maximum_age=90)
        return f"{d:%d%m%y}-{rng.randint(1000, 9999)}", ["CPR-nummer", "CPR"]
    if loc == "ru_RU":
        return f.ssn(), ["ИНН"]
    if loc == "de_DE":
        return "".join(rng.choice(string.digits) for _ in range(11)), ["Steuer-ID", "Steueridentifikationsnummer"]
    return f.ssn(), ["national id"]


def national_item(loc: str) -> Item:
    v, labels = national_value(loc)
    label = pick(labels)
    style = rng.random()
    if style < 0.6:
        text = pick([f"{label}: {v}", f"{label} {v}", f"My {label} is {v}.", f"{label}:{v}", f"the customer's {label} ({v}) is on file",
                     f"Please verify {label} {v} before the payout."])
        text = chat(text)
    elif style < 0.85:
        key = pick(["ssn", "national_id", "nationalId", "tax_id", label.lower().replace(" ", "_").replace(".", "")])
        text = jsonify({"customer": {"name": fakers[loc].name(), key: v}})
    else:
        text = f"{label.upper().replace(' ', '_').replace('.', '')}={v}"
    return Item("national_id", loc, True, text, [v])


def national_clean(loc: str) -> Item:
    text = pick([
        "SSN field is required on form W-9.",
        f"Ticket 123-45-{rng.randint(1000, 9999)}0 closed.",
        f"Invalid SSN 000-{rng.randint(10, 99)}-{rng.randint(1000, 9999)} was rejected by the form.",
        f"Invalid SSN 666-{rng.randint(10, 99)}-{rng.randint(1000, 9999)} was rejected by the form.",
        f"Example NINO QQ 12 34 56 C from the HMRC guide.",
        f"Part number {rng.randint(10 ** 10, 10 ** 11 - 1)} is out of stock.",
        f"Batch {rng.randint(100000, 999999)}-{rng.randint(1000, 9999)} processed.",
        "The PESEL and CPF columns are hidden in exports.",
        f"Build {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}-rc",
    ])
    return Item("national_id", loc, False, text)


# --- IP addresses -------------------------------------------------------------------

def ip_item(loc: str) -> Item:
    f = fakers[loc]
    ip = pick([f.ipv4(), f.ipv4_private(), f.ipv6(), f.ipv4_public()])
    text = pick([
        f"Login from {ip} blocked after 5 attempts.", f"client_ip={ip}", jsonify({"session": {"client_ip": ip, "channel": "web"}}),
        f"X-Forwarded-For: {ip}", f"ssh admin@{ip}", f"connect to [{ip}]:443 failed" if ":" in ip else f"connect to {ip}:443 failed",
    ])
    return Item("ip", loc, True, text, [ip])


def ip_clean(loc: str) -> Item:
    text = pick([
        f"Upgraded to version 1.{rng.randint(0, 20)}.{rng.randint(0, 20)}.{rng.randint(0, 99)} of the agent.",
        "Section 4.2.1.3 of the contract applies.",
        "std::vector<int> and a::b::c are C++ names.",
        f"Ratio 16:9 at 09:30:{rng.randint(10, 59)}.",
        f"Python 3.11.{rng.randint(0, 9)}, Node 20.{rng.randint(0, 19)}.0",
    ])
    return Item("ip", loc, False, text)


# --- API keys and tokens ------------------------------------------------------------

def hexs(n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def b64s(n: int) -> str:
    return rand_alnum(n, string.ascii_letters + string.digits + "+/")


def mixed(n: int) -> str:
    while True:
        s = rand_alnum(n)
        if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
            return s


PROVIDER_KEYS: list[tuple[str, Callable[[], str]]] = [
    ("OpenAI", lambda: "sk-proj-" + mixed(48)),
    ("OpenAI", lambda: "sk-" + mixed(48)),
    ("Anthropic", lambda: "sk-ant-api03-" + rand_alnum(93, string.ascii_letters + string.digits + "-_") + "AA"),
    ("AWS", lambda: "AKIA" + rand_alnum(16, string.ascii_uppercase + "234567")),
    ("GitHub", lambda: "ghp_" + mixed(36)),
    ("GitHub", lambda: "github_pat_" + mixed(22) + "_" + mixed(59)),
    ("GitLab", lambda: "glpat-" + rand_alnum(20, string.ascii_letters + string.digits + "-_")),
    ("Slack", lambda: f"xoxb-{rng.randint(10 ** 10, 10 ** 11)}-{rng.randint(10 ** 12, 10 ** 13)}-{mixed(24)}"),
    ("Stripe", lambda: "sk_live_" + mixed(24)),
    ("Stripe", lambda: "rk_live_" + mixed(24)),
    ("Twilio", lambda: "SK" + hexs(32)),
    ("DigitalOcean", lambda: "dop_v1_" + hexs(64)),
    ("Hugging Face", lambda: "hf_" + rand_alnum(34, string.ascii_letters)),
    ("SendGrid", lambda: "SG." + rand_alnum(22, string.ascii_letters + string.digits + "-_") + "." + rand_alnum(43, string.ascii_letters + string.digits + "-_")),
    ("npm", lambda: "npm_" + mixed(36)),
    ("PyPI", lambda: "pypi-AgEIcHlwaS5vcmc" + rand_alnum(60, string.ascii_letters + string.digits + "-_")),
    ("Google", lambda: "AIza" + rand_alnum(35, string.ascii_letters + string.digits + "-_")),
    ("Shopify", lambda: "shpat_" + hexs(32)),
    ("Mailgun", lambda: "key-" + hexs(32)),
    ("Databricks", lambda: "dapi" + hexs(32)),
    ("Telegram", lambda: f"{rng.randint(10 ** 8, 10 ** 10)}:AA{rand_alnum(33, string.ascii_letters + string.digits + '-_')}"),
    ("Groq", lambda: "gsk_" + mixed(52)),
    ("Replicate", lambda: "r8_" + mixed(37)),
    ("Linear", lambda: "lin_api_" + mixed(40)),
    ("Notion", lambda: "secret_" + mixed(43)),
    ("Heroku", lambda: "HRKU-AA" + rand_alnum(58, string.ascii_letters + string.digits + "_-")),
    ("Atlassian", lambda: "ATATT3xFfGF0" + rand_alnum(180, string.ascii_letters + string.digits + "-_") + "=" + hexs(8).upper()),
    ("Azure Storage", lambda: b64s(86) + "=="),
    ("AWS secret", lambda: rand_alnum(40, string.ascii_letters + string.digits + "+/")),
]


def api_key_item(loc: str) -> Item:
    provider, make = pick(PROVIDER_KEYS)
    k = make()
    if provider == "Azure Storage":
        text = f"DefaultEndpointsProtocol=https;AccountName=prodstore;AccountKey={k};EndpointSuffix=core.windows.net"
        return Item("api_key", loc, True, text, [k])
    if provider == "AWS secret":
        text = pick([f"aws_secret_access_key = {k}", f"AWS_SECRET_ACCESS_KEY={k}", jsonify({"SecretAccessKey": k, "AccessKeyId": "AKIA" + rand_alnum(16, string.ascii_uppercase + "234567")})])
        return Item("api_key", loc, True, text, [k])
    style = rng.random()
    if style < 0.35:
        text = pick([f"export {provider.upper().replace(' ', '_')}_API_KEY={k}", f"{provider} key: {k}", f"api_key={k}",
                     f"Using key {k} for the {provider} client", f"client = Client(api_key=\"{k}\")", f"token: {k}"])
    elif style < 0.6:
        text = jsonify({"provider": provider.lower(), pick(["apiKey", "api_key", "key", "token", "credentials", "secret"]): k})
    elif style < 0.8:
        text = chat(pick([f"here is my key {k}, why does it fail?", f"The old {provider} token was {k}.", f"{k}"]))
    else:
        text = pick([f"Error: invalid API key provided: {k}", f"401 Unauthorized (key {k[:len(k)]})", f"curl -H 'X-Api-Key: {k}' https://api.example.com/v1/items"])
    return Item("api_key", loc, True, text, [k])


def api_key_clean(loc: str) -> Item:
    f = fakers[loc]
    text = pick([
        "Response id chatcmpl-" + mixed(29) + " from gpt-4.1-mini.",
        "Tool call id call_" + mixed(24) + " returned 200.",
        "Anthropic message msg_01" + mixed(22) + " used tool toolu_01" + mixed(22) + ".",
        "Set OPENAI_API_KEY=${OPENAI_API_KEY} in the environment.",
        "api_key = os.environ[\"OPENAI_API_KEY\"]",
        "Replace sk-xxxxxxxxxxxxxxxxxxxxxxxx with your own key.",
        "Pass --api-key YOUR_API_KEY to the CLI.",
        "commit " + hexs(40) + ": fix retry loop",
        "sha256:" + hexs(64),
        "Request " + uuid_like() + " took 120 ms.",
        "We use scikit-learn (sk-learn) and the ghp prefix for tokens.",
        "The function getUserAccountBalanceByCustomerIdentifier2 is deprecated.",
        "Stripe publishable key pk_live_" + mixed(24) + " is embedded in the page.",
        "Trace id 4bf92f3577b34da6a3ce929d0e0e4736, span " + hexs(16) + ".",
        "Image ghcr.io/agenttrail/server@sha256:" + hexs(64) + " pulled.",
        f"The {f.word()} token limit is 128000.",
    ])
    return Item("api_key", loc, False, text)


def jwt() -> str:
    header = base64.urlsafe_b64encode(json.dumps({"alg": pick(["HS256", "RS256", "ES256"]), "typ": "JWT"}).encode()).decode().rstrip("=")
    payload = base64.urlsafe_b64encode(json.dumps({"sub": str(rng.randint(1, 10 ** 9)), "name": fakers["en_US"].name(), "iat": rng.randint(1.6e9, 1.8e9)}).encode()).decode().rstrip("=")
    sig = rand_alnum(43, string.ascii_letters + string.digits + "-_")
    return f"{header}.{payload}.{sig}"


def token_item(loc: str) -> Item:
    style = rng.random()
    if style < 0.2:
        t = mixed(rng.randint(24, 48))
        text = pick([f"Authorization: Bearer {t}", f"curl -H \"Authorization: Bearer {t}\" https://api.example.com", f"headers={{'Authorization': 'Bearer {t}'}}"])
    elif style < 0.35:
        t = hexs(40)
        text = pick([f"Authorization: Token {t}", f"-H 'Authorization: token {t}'", f"Authorization: Token token=\"{t}\""])
    elif style < 0.5:
        t = jwt()
        text = pick([f"id_token={t}", f"Bearer {t}", jsonify({"access_token": t, "expires_in": 3600}), f"Set-Cookie: auth={t}; Path=/; HttpOnly", f"{t}"])
    elif style < 0.7:
        t = pick([hexs(32), mixed(32), rand_alnum(40, string.ascii_lowercase + string.digits)])
        name = pick(["sessionid", "session", "JSESSIONID", "connect.sid", "_session_id", "PHPSESSID", "laravel_session", "auth_token"])
        text = pick([f"Cookie: {name}={t}; csrftoken={mixed(32)}", f"Set-Cookie: {name}={t}; Path=/; Secure; HttpOnly", f"document.cookie = \"{name}={t}\"",
                     jsonify({"cookies": {name: t}})])
    elif style < 0.85:
        user = fakers[loc].user_name()
        pw = fakers[loc].password(length=rng.randint(10, 16))
        t = base64.b64encode(f"{user}:{pw}".encode()).decode()
        text = pick([f"Authorization: Basic {t}", f"curl -H 'Authorization: Basic {t}' https://x.example"])
    else:
        t = mixed(rng.randint(20, 40))
        text = pick([f"refresh_token={t}&grant_type=refresh_token", jsonify({"refresh_token": t, "token_type": "bearer"}), f"X-Auth-Token: {t}", f"?access_token={t}&page=2"])
    return Item("token", loc, True, text, [t])


def token_clean(loc: str) -> Item:
    text = pick([
        "Authorization: Bearer <token>", "Authorization: Bearer $TOKEN", "Bearer tokens are sent in the Authorization header.",
        "Set-Cookie: theme=dark; Path=/", "Cookie: locale=en-GB; consent=true", "token_type=bearer&expires_in=3600",
        "The access token expired; the client refreshes it.", "Use token-based authentication for the API.",
        "Authorization: Basic realm=\"admin\"", "csrf token missing or incorrect",
        "JWTs have three parts: header.payload.signature",
    ])
    return Item("token", loc, False, text)


# --- Passwords ----------------------------------------------------------------------

def password() -> str:
    f = fakers[pick(LATIN)]
    return pick([
        f.password(length=rng.randint(8, 16), special_chars=rng.random() < 0.6),
        f.word().capitalize() + str(rng.randint(1, 9999)) + pick(["!", "#", "$", "", "?"]),
        f.password(length=rng.randint(10, 20), special_chars=False),
    ])


def password_item(loc: str) -> Item:
    pw = password()
    q = pw.replace("'", "")
    label = {"fr": "mot de passe", "de": "Passwort", "es": "contraseña", "it": "password", "nl": "wachtwoord", "pt": "senha",
             "pl": "hasło", "sv": "lösenord", "ru": "пароль", "ja": "パスワード", "zh": "密码", "ko": "비밀번호", "tr": "şifre", "da": "adgangskode"}.get(lang(loc), "password")
    user = fakers[loc].user_name()
    text = pick([
        f"mysql -u {user} -p{pw} -h db.internal shop",
        f"mysqldump -u root --password={pw} shop > dump.sql",
        f"sshpass -p '{q}' ssh {user}@10.0.0.7",
        f"docker login -u {user} -p {pw} registry.example.com",
        f"redis-cli -h cache -a {pw} PING",
        f"my password is {pw}",
        f"My password is {pw} but it doesn't work",
        f"{label}: {pw}",
        f"{label.capitalize()} : {pw}",
        f"password=\n{pw}",
        f"Password:\n  {pw}",
        f"DB_PASS={pw}",
        f"POSTGRES_PASSWORD={pw}",
        f"PGPASSWORD={pw} psql -h db -U {user}",
        f"psql postgresql://{user}:{urllib.parse.quote(pw, safe='')}@db.example.com:5432/shop",
        f"--password {pw}",
        f"login --user {user} --password={pw}",
        jsonify({"user": user, "pass": pw}),
        jsonify({"username": user, "password": pw}),
        jsonify({"db": {"host": "db", "pwd": pw}}),
        f"smtp_password: \"{q}\"",
        f"the wifi password is {pw}",
        f"curl -u {user}:{pw} https://ci.example.com/api/json",
    ])
    secrets = [pw]
    if "psql postgresql://" in text:
        secrets = [urllib.parse.quote(pw, safe="")]
    if "sshpass" in text or "smtp_password" in text:
        secrets = [q]
    return Item("password", loc, True, text, secrets)


def password_clean(loc: str) -> Item:
    text = pick([
        "Reset your password from the settings page.", "password: ********", "password: <redacted>", "Passwordless login is enabled.",
        "The password field is required.", "docker login --password-stdin < token.txt", "password=${DB_PASSWORD}",
        "docker run -p 8080:80 nginx", "ssh -p 2222 deploy@bastion", "mkdir -p /var/lib/agenttrail/data", "ps -p 1234 -o etime",
        "cp -p config.yaml config.yaml.bak", "python -m pytest -p no:cacheprovider", "mysql -u root -p (prompts for the password)",
        "Password must be at least 12 characters.", "Forgot your password? Click the link.", "password_hash: argon2id",
        "The user changed their password on 2026-11-02.", "pass the test suite before merging", "tar -xpf backup.tar",
    ])
    return Item("password", loc, False, text)


# --- Private keys and encoded secrets -----------------------------------------------

def pem(kind: str) -> str:
    body = base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.choice([120, 300, 600])))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


KEY_KINDS = ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY"]


def private_key_item(loc: str) -> Item:
    k = pem(pick(KEY_KINDS))
    body_line = k.split("\n")[1]
    style = rng.random()
    if style < 0.4:
        text = f"Here is the deploy key:\n{k}\nDon't share it."
    elif style < 0.7:
        text = jsonify({"type": "service_account", "project_id": "prod", "private_key": k + "\n", "client_email": "svc@prod.iam.gserviceaccount.com"})
    else:
        text = f"ssh_key: |\n  " + k.replace("\n", "\n  ")
    return Item("private_key", loc, True, text, [body_line])


def private_key_clean(loc: str) -> Item:
    text = pick([pem("PUBLIC KEY"), pem("CERTIFICATE"), "Generate a private key with ssh-keygen -t ed25519.",
                 "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nrelease 2.4.1", "The private key never leaves the HSM."])
    return Item("private_key", loc, False, text)


def encoded_item(loc: str) -> Item:
    f = fakers[loc]
    style = rng.random()
    if style < 0.3:
        k = pem(pick(KEY_KINDS))
        b = base64.b64encode(k.encode()).decode()
        text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls-{f.word()}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\n  tls.key: {b}\n"
        return Item("encoded", loc, True, text, [b])
    if style < 0.55:
        n = card_number(loc)
        payload = pick([f"card={n};cvv={rng.randint(100, 999)};name={f.name()}", json.dumps({"card": n, "cvv": str(rng.randint(100, 999)), "name": f.name()})])
        b = base64.b64encode(payload.encode()).decode()
        text = pick([jsonify({"tool": "charge", "args_b64": b}), f"payload={b}", f"The tool was called with {b}"])
        return Item("encoded", loc, True, text, [b])
    if style < 0.7:
        secret = pick([f"password={password()}", f"api_key={pick(PROVIDER_KEYS[:8])[1]()}", f"email={f.email()}"])
        h = secret.encode().hex()
        text = pick([f"blob=0x{h}", f"hex dump: {h}", jsonify({"data_hex": h})])
        return Item("encoded", loc, True, text, [h])
    if style < 0.85:
        email = f.email()
        n = card_number(loc)
        q = urllib.parse.urlencode({"email": email, "card": " ".join(n[i:i + 4] for i in range(0, len(n), 4)), "next": "/done"})
        text = f"POST /checkout?{q}"
        return Item("encoded", loc, True, text, [urllib.parse.quote_plus(email), n[:4] + "+" + n[4:8]])
    secret = pick([f"user:{password()}", f"Bearer {mixed(32)}", f"sk_live_{mixed(24)}"])
    b = base64.urlsafe_b64encode(secret.encode()).decode()
    text = pick([f"state={b}", f"X-Debug-Context: {b}", f"ctx {b} restored"])
    return Item("encoded", loc, True, text, [b])


def encoded_clean(loc: str) -> Item:
    f = fakers[loc]
    plain = pick([json.dumps({"page": rng.randint(1, 9), "sort": "asc"}), f.sentence(), f"order {rng.randint(1000, 9999)} shipped", "Hello, World!"])
    b = base64.b64encode(plain.encode()).decode()
    text = pick([f"cursor={b}", f"state={b}", jsonify({"next_page_token": b}), f"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk{rand_alnum(20)}AAAAAElFTkSuQmCC",
                 f"GET /search?q={urllib.parse.quote_plus(f.sentence())}&page=2", f"checksum {hexs(64)}", f"hex {plain.encode().hex()}"])
    return Item("encoded", loc, False, text)


# --- Names --------------------------------------------------------------------------

def name_parts(loc: str) -> tuple[str, list[str]]:
    f = fakers[loc]
    if loc in ("ja_JP",):
        last, first = f.last_name(), f.first_name()
        full = pick([f"{last} {first}", f"{last}{first}"])
        return full, [full]
    if loc in ("zh_CN", "ko_KR"):
        last, first = f.last_name(), f.first_name()
        full = last + first
        return full, [full]
    if loc == "ru_RU":
        first, last = f.first_name(), f.last_name()
        if rng.random() < 0.3:
            middle = f.middle_name()
            return f"{last} {first} {middle}", [first, last, middle]
        full = pick([f"{first} {last}", f"{last} {first}"])
        return full, [first, last]
    first, last = f.first_name(), f.last_name()
    full = f"{first} {last}"
    if rng.random() < 0.15:
        full = f"{last}, {first}"
    parts = [p for p in (first.split() + last.split()) if len(p) >= 2 and p.lower() not in ("de", "da", "van", "von", "der", "del", "la", "le", "di", "du", "dos", "das", "y")]
    return full, parts or [full]


NAME_INTROS = {
    "en": ["My name is {}.", "I'm {} and I need help with my order.", "This is {} from accounting.", "Customer: {}", "Dear {},\nyour refund is on its way.",
           "Hi {}, thanks for reaching out!", "Regards,\n{}", "Thanks,\n{}\nHead of Operations", "Passenger {} checked in.",
           "{} called about the late delivery.", "Signed by {} on the form.", "The account holder is {}.", "Contact person: {}",
           "Ticket opened by {} (premium tier).", "Please ask {} to approve the refund."],
    "de": ["Mein Name ist {}.", "Ich heiße {}.", "Sehr geehrte Frau {},", "Mit freundlichen Grüßen\n{}", "Kunde: {}"],
    "fr": ["Je m'appelle {}.", "Bonjour {},", "Cordialement,\n{}", "Client : {}"],
    "es": ["Me llamo {}.", "Mi nombre es {}.", "Estimado {}:", "Atentamente,\n{}", "Cliente: {}"],
    "it": ["Mi chiamo {}.", "Gentile {},", "Cordiali saluti,\n{}", "Cliente: {}"],
    "nl": ["Mijn naam is {}.", "Beste {},", "Met vriendelijke groet,\n{}", "Klant: {}"],
    "pt": ["Meu nome é {}.", "Olá {},", "Atenciosamente,\n{}", "Cliente: {}"],
    "pl": ["Nazywam się {}.", "Dzień dobry {},", "Pozdrawiam,\n{}", "Klient: {}"],
    "sv": ["Jag heter {}.", "Hej {},", "Med vänliga hälsningar,\n{}", "Kund: {}"],
    "ru": ["Меня зовут {}.", "Здравствуйте, {}!", "С уважением,\n{}", "Клиент: {}", "ФИО: {}"],
    "ja": ["私の名前は{}です。", "{}様、お問い合わせありがとうございます。", "担当者：{}", "{}さんから電話がありました。", "氏名：{}"],
    "zh": ["我叫{}。", "{}先生您好，", "联系人：{}", "客户姓名：{}", "{}女士来电咨询退款。"],
    "ko": ["제 이름은 {}입니다.", "{}님, 문의 감사합니다.", "담당자: {}", "고객명: {}", "{} 씨가 전화했습니다."],
    "tr": ["Benim adım {}.", "Sayın {},", "Müşteri: {}", "Saygılarımla,\n{}"],
    "da": ["Jeg hedder {}.", "Kære {},", "Venlig hilsen\n{}", "Kunde: {}"],
}


def name_item(loc: str) -> Item:
    full, parts = name_parts(loc)
    style = rng.random()
    if style < 0.55:
        text = pick(NAME_INTROS.get(lang(loc), []) + NAME_INTROS["en"][:4] if rng.random() < 0.3 else NAME_INTROS.get(lang(loc), NAME_INTROS["en"])).format(full)
        text = chat(text)
    elif style < 0.8:
        key = pick(["name", "full_name", "customer_name", "holder", "contact", "recipient", "passenger", "patient_name", "fullName", "displayName"])
        text = jsonify({"customer": {key: full, "tier": pick(["gold", "silver"]), "orders": rng.randint(1, 50)}})
    elif style < 0.9 and loc not in ("ja_JP", "zh_CN", "ko_KR") and ", " not in full:
        f = fakers[loc]
        first, last = full.split(" ", 1)
        text = jsonify({"first_name": first, "last_name": last, "email_verified": True})
    else:
        text = pick(NAME_INTROS["en"][9:] + NAME_INTROS.get(lang(loc), [])).format(full)
    return Item("name", loc, True, text, parts)


def name_clean(loc: str) -> Item:
    f = fakers[loc]
    text = pick([
        "The Jordan River flows into the Dead Sea.", "We met at Victoria Station.", "Apple Park is in Cupertino.",
        "Order shipped via Royal Mail to New York.", "The Ford Focus and Tesla Model 3 were compared.",
        "Washington Monument tickets sold out.", "Will you ship it by Monday?", "May the refund arrive soon.",
        "Grand Central Terminal is busy at 9am.", "Use Microsoft Teams or Google Meet.", "The Rolling Stones played Hyde Park.",
        "Customer Success Team", "Dear Customer,\nyour order has shipped.", "Regards,\nThe Support Team",
        "Mount Everest and Lake Geneva are on the list.", "Amazon Web Services and Red Hat Linux.",
        f"The {f.word()} module is ready.", "Christmas Eve deliveries are delayed.", "Black Friday sale ends Sunday.",
        "Stanford University and Boston College.", "Golden Gate Bridge closed for fog.", "Bank of America and Wells Fargo.",
        "Hello World program in Go.", "Visual Studio Code crashed.", "Lord of the Rings audiobook.",
        "Hi team, the deploy is done.", "Thanks,\nSupport", "This is a reminder about your order.", "Customer: guest checkout",
    ])
    return Item("name", loc, False, text)


# --- Addresses ----------------------------------------------------------------------

ADDRESS_INTROS = {
    "en": ["Ship to: {}", "My address is {}.", "Please deliver to {} before Friday.", "The parcel went to {} instead.", "Billing address: {}",
           "I moved to {} last month.", "{}"],
    "de": ["Lieferadresse: {}", "Meine Adresse ist {}.", "Anschrift: {}"],
    "fr": ["Adresse de livraison : {}", "J'habite au {}.", "Adresse : {}"],
    "es": ["Dirección de envío: {}", "Vivo en {}.", "Dirección: {}"],
    "it": ["Indirizzo di consegna: {}", "Abito in {}.", "Indirizzo: {}"],
    "nl": ["Bezorgadres: {}", "Ik woon op {}.", "Adres: {}"],
    "pt": ["Endereço de entrega: {}", "Moro na {}.", "Endereço: {}"],
    "pl": ["Adres dostawy: {}", "Mieszkam przy {}.", "Adres: {}"],
    "sv": ["Leveransadress: {}", "Jag bor på {}.", "Adress: {}"],
    "ru": ["Адрес доставки: {}", "Я живу по адресу {}.", "Адрес: {}"],
    "ja": ["お届け先：{}", "住所は{}です。", "住所：{}"],
    "zh": ["收货地址：{}", "我住在{}。", "地址：{}"],
    "ko": ["배송지: {}", "주소는 {}입니다.", "주소: {}"],
    "tr": ["Teslimat adresi: {}", "Adresim {}.", "Adres: {}"],
    "da": ["Leveringsadresse: {}", "Jeg bor på {}.", "Adresse: {}"],
}


def address_parts(loc: str) -> tuple[str, list[str]]:
    f = fakers[loc]
    if lang(loc) in ("ja", "zh", "ko"):
        a = f.address().replace("\n", " ")
        return a, [a]
    street = f.street_address()
    city = f.city()
    postcode = f.postcode()
    style = rng.random()
    if style < 0.35:
        a = f.address()
        a = a if rng.random() < 0.4 else a.replace("\n", ", ")
        lines = [line.strip(", ") for line in a.replace(", ", "\n").split("\n")]
        secrets = [lines[0]]
        for line in lines[1:]:
            for tok in line.replace(",", " ").split():
                if any(c.isdigit() for c in tok) and len(tok) >= 3:
                    secrets.append(tok)
        return a, [s for s in secrets if s]
    if loc in ("en_US",):
        a = f"{street}, {city}, {f.state_abbr()} {postcode}"
    elif loc in ("en_GB",):
        a = f"{street}, {city} {postcode}"
    else:
        a = f"{street}, {postcode} {city}"
    return a, [street, postcode]


def address_item(loc: str) -> Item:
    a, secrets = address_parts(loc)
    style = rng.random()
    if style < 0.6:
        intros = ADDRESS_INTROS.get(lang(loc), ADDRESS_INTROS["en"]) + ADDRESS_INTROS["en"][:3]
        text = chat(pick(intros).format(a))
    elif style < 0.85:
        key = pick(["address", "shipping_address", "billing_address", "home_address", "street_address", "addr", "delivery_address"])
        text = jsonify({"customer_id": f"u_{hexs(8)}", key: a})
    else:
        f = fakers[loc]
        if lang(loc) in ("ja", "zh", "ko"):
            text = jsonify({"address": a})
        else:
            street = secrets[0]
            text = jsonify({"shipping": {"street": street, "city": f.city(), "postcode": f.postcode(), "country": f.current_country_code()}})
            secrets = [street]
    return Item("address", loc, True, text, secrets)


def address_clean(loc: str) -> Item:
    text = pick([
        "Floor 3, Building 2 has the meeting rooms.", "Route 66 diner opens at 8.", "Step 3: open Settings and select Privacy.",
        "Platform 9 at King's Cross.", "Highway 101 traffic is heavy.", "Room 12 on Level 4.", "See section 5 of the policy.",
        "Version 2 of the Street Fighter game.", "Top 10 Main Street stores in the mall directory.", "Apartment listings page 4.",
        "Gate 5, Terminal 2.", "Warehouse zone B, aisle 14, shelf 3.", "Chapter 7: The Road Not Taken.",
        "Address validation failed: missing postcode.", "The shipping address was updated.", "We deliver to 27 countries.",
        "Order 4411 ships from our Leeds warehouse.", "Postcode lookup is rate-limited to 50 requests per minute.",
        "The 3 Park Avenue project was cancelled.", "12 Monkeys is a film.", "Apollo 11 landed in 1969.",
    ])
    return Item("address", loc, False, text)


# --- Dates of birth -----------------------------------------------------------------

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"],
    "it": ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"],
}


def format_date(d: datetime.date, loc: str) -> str:
    lg = lang(loc)
    if lg in ("ja", "zh"):
        return pick([f"{d.year}年{d.month}月{d.day}日", d.isoformat(), f"{d.year}/{d.month:02d}/{d.day:02d}"])
    if lg == "ko":
        return pick([f"{d.year}년 {d.month}월 {d.day}일", d.isoformat(), f"{d.year}.{d.month:02d}.{d.day:02d}"])
    choices = [d.isoformat(), f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.day:02d}.{d.month:02d}.{d.year}"]
    if loc == "en_US":
        choices += [f"{d.month:02d}/{d.day:02d}/{d.year}", f"{MONTHS['en'][d.month - 1]} {d.day}, {d.year}", f"{d.month}/{d.day}/{d.year}"]
    if lg in MONTHS:
        choices.append(f"{d.day} {MONTHS[lg][d.month - 1]} {d.year}")
    if lg == "en":
        choices.append(f"{d.day} {MONTHS['en'][d.month - 1][:3]} {d.year}")
    return pick(choices)


DOB_INTROS = {
    "en": ["DOB: {}", "Date of birth: {}", "born on {}", "I was born {}.", "D.O.B. {}", "birthdate {}", "Birthday: {}", "b. {}"],
    "de": ["Geburtsdatum: {}", "geboren am {}", "geb. {}"],
    "fr": ["Date de naissance : {}", "né le {}", "née le {}"],
    "es": ["Fecha de nacimiento: {}", "nacido el {}"],
    "it": ["Data di nascita: {}", "nato il {}"],
    "nl": ["Geboortedatum: {}", "geboren op {}"],
    "pt": ["Data de nascimento: {}", "nascido em {}"],
    "pl": ["Data urodzenia: {}", "urodzony {}"],
    "sv": ["Födelsedatum: {}", "född {}"],
    "ru": ["Дата рождения: {}", "родился {}"],
    "ja": ["生年月日：{}", "{}生まれ"],
    "zh": ["出生日期：{}", "生日：{}"],
    "ko": ["생년월일: {}", "{}생"],
    "tr": ["Doğum tarihi: {}"],
    "da": ["Fødselsdato: {}", "født {}"],
}


def dob_item(loc: str) -> Item:
    d = fakers[loc].date_of_birth(minimum_age=16, maximum_age=95)
    w = format_date(d, loc)
    style = rng.random()
    if style < 0.6:
        intro = pick(DOB_INTROS.get(lang(loc), DOB_INTROS["en"]) + DOB_INTROS["en"][:2])
        text = chat(intro.format(w) + pick(["", f" — {fakers[loc].city()}", ", please update my profile."]))
    elif style < 0.85:
        key = pick(["dob", "date_of_birth", "birth_date", "birthDate", "birthdate", "birthday", "dateOfBirth", "geburtsdatum", "fecha_nacimiento"])
        text = jsonify({"patient": {"id": f"p_{hexs(6)}", key: w}})
    else:
        text = pick([f"DOB={w}", f"dob: {w}", f"Patient, {rng.randint(18, 90)}, born {w}, admitted today.", f"birth_date={w}&plan=basic"])
    return Item("dob", loc, True, text, [w])


def dob_clean(loc: str) -> Item:
    d = fakers[loc].date_between(start_date="-3y", end_date="+1y")
    w = format_date(d, loc)
    old = fakers[loc].date_of_birth(minimum_age=20, maximum_age=80)
    text = pick([
        f"Order placed on {w}.", f"Shipped {w}, delivered two days later.", f"Invoice date: {w}", f"Valid until {w}.",
        f"created_at: {w}", f"The company was founded on {format_date(old, loc)}.", f"Release date {w} for version 3.", f"Expiry: {w}",
        f"Last login {w} 09:30", f"Report for the week of {w}.", f"The contract was signed on {format_date(old, loc)}.",
        "Date of birth is optional in the signup form.", "Enter your birth date as YYYY-MM-DD.",
    ])
    return Item("dob", loc, False, text)


# --- Passports ----------------------------------------------------------------------

def passport_number(loc: str) -> str:
    f = fakers[loc]
    letters = string.ascii_uppercase
    fmt = {
        "en_US": lambda: f.passport_number(),
        "en_GB": lambda: "".join(rng.choice(string.digits) for _ in range(9)),
        "de_DE": lambda: rng.choice("CFGHJK") + rand_alnum(8, "CFGHJKLMNPRTVWXYZ0123456789"),
        "fr_FR": lambda: f"{rng.randint(10, 99)}{rand_alnum(2, letters)}{rng.randint(10000, 99999)}",
        "es_ES": lambda: rand_alnum(3, letters) + f"{rng.randint(100000, 999999)}",
        "it_IT": lambda: f.passport_number(),
        "nl_NL": lambda: rand_alnum(2, letters) + rand_alnum(6, letters + string.digits) + str(rng.randint(0, 9)),
        "pt_BR": lambda: rand_alnum(2, letters) + f"{rng.randint(100000, 999999)}",
        "pl_PL": lambda: rand_alnum(2, letters) + f"{rng.randint(1000000, 9999999)}",
        "sv_SE": lambda: f"{rng.randint(10000000, 99999999)}",
        "ru_RU": lambda: pick([f.passport_number(), f"{rng.randint(10, 99)} {rng.randint(1000000, 9999999)}"]),
        "ja_JP": lambda: rand_alnum(2, letters) + f"{rng.randint(1000000, 9999999)}",
        "zh_CN": lambda: rng.choice("EG") + f"{rng.randint(10000000, 99999999)}",
        "ko_KR": lambda: rng.choice("MS") + f"{rng.randint(10000000, 99999999)}",
        "tr_TR": lambda: rng.choice("UST") + f"{rng.randint(10000000, 99999999)}",
        "da_DK": lambda: f"{rng.randint(100000000, 999999999)}",
    }[loc]
    return fmt()


PASSPORT_LABELS = {
    "en": ["passport", "Passport No.", "passport number", "Passport #"], "de": ["Reisepass", "Passnummer", "Reisepassnummer"],
    "fr": ["passeport", "numéro de passeport"], "es": ["pasaporte", "número de pasaporte"], "it": ["passaporto", "numero di passaporto"],
    "nl": ["paspoort", "paspoortnummer"], "pt": ["passaporte"], "pl": ["paszport", "numer paszportu"], "sv": ["pass", "passnummer"],
    "ru": ["паспорт", "загранпаспорт"], "ja": ["パスポート番号", "旅券番号"], "zh": ["护照号码", "护照"], "ko": ["여권번호", "여권"],
    "tr": ["pasaport", "pasaport no"], "da": ["pas", "pasnummer"],
}


def passport_item(loc: str) -> Item:
    n = passport_number(loc)
    labels = PASSPORT_LABELS.get(lang(loc), []) + PASSPORT_LABELS["en"]
    label = pick(labels)
    style = rng.random()
    if style < 0.6:
        text = chat(pick([f"{label}: {n}", f"My {label} is {n}.", f"{label} {n}, expires {fake_date()}", f"{label}：{n}",
                          f"Traveller {fakers[loc].last_name()}, {label} {n}"]))
    elif style < 0.85:
        key = pick(["passport", "passport_number", "passportNo", "passport_no", "document_number"])
        text = jsonify({"traveller": {"nationality": loc[-2:], key: n}})
    else:
        text = pick([f"PASSPORT_NO={n}", f"passport={n}&nationality={loc[-2:]}", f"doc_type=passport doc_no={n}"])
    return Item("passport", loc, True, text, [n])


def passport_clean(loc: str) -> Item:
    text = pick([
        "Passport photo requirements: 35x45 mm.", "Bring your passport to the airport.", f"Order {passport_number(loc)} shipped.",
        f"Booking reference {rand_alnum(6, string.ascii_uppercase)} confirmed.", "pass 2 of 3 completed", "The Passport Index 2026 ranks 199 passports.",
        f"SKU {passport_number(loc)}-XL in stock.", "passport.js handles the OAuth login.",
    ])
    return Item("passport", loc, False, text)


KINDS: dict[str, tuple[Callable[[str], Item], Callable[[str], Item], int, int]] = {
    # kind: (sensitive, clean, how many sensitive, how many clean)
    "email": (email_item, email_clean, 320, 90),
    "phone": (phone_item, phone_clean, 400, 120),
    "card": (card_item, card_clean, 320, 90),
    "iban": (iban_item, iban_clean, 260, 70),
    "national_id": (national_item, national_clean, 380, 90),
    "ip": (ip_item, ip_clean, 160, 60),
    "api_key": (api_key_item, api_key_clean, 360, 110),
    "token": (token_item, token_clean, 260, 70),
    "password": (password_item, password_clean, 320, 110),
    "private_key": (private_key_item, private_key_clean, 100, 40),
    "encoded": (encoded_item, encoded_clean, 200, 80),
    "name": (name_item, name_clean, 420, 120),
    "address": (address_item, address_clean, 420, 110),
    "dob": (dob_item, dob_clean, 320, 110),
    "passport": (passport_item, passport_clean, 300, 80),
}


def main() -> None:
    out = []
    for kind, (sensitive, clean, ns, nc) in KINDS.items():
        for i in range(ns):
            out.append(sensitive(LOCALES[i % len(LOCALES)]).line())
        for i in range(nc):
            out.append(clean(LOCALES[i % len(LOCALES)]).line())
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
