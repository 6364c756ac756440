"""Write `examples/leads.csv`: about 200 made-up med spa leads in a messy CRM export shape.

The people are invented (names drawn from fixed lists, `example.com` emails,
555 phone numbers). The answers use the wordings of real med spa intake
forms, including their spelling variants and placeholders, and the file has
the quirks of real GoHighLevel and HubSpot exports: a UTF-8 byte order mark,
CRLF line ends, every cell quoted, mixed-case headers, a multi-line notes
cell, blank answers, a few budgets no parser can read, an unsubscribed lead
and a test lead.

The output depends only on the seed, so the committed file can be checked:

    python examples/make_leads.py            # rewrites examples/leads.csv
    python examples/make_leads.py --check    # exits 1 if the file differs
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import string
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20261201
LEAD_COUNT = 200
# Every date in the file is before this moment; score with `--now 2026-12-01T12:00:00Z`
# to reproduce the scores shown in the README.
EXPORTED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OUTPUT = Path(__file__).resolve().parent / "leads.csv"

HEADER = (
    "Contact Id",
    "first name",
    "Last Name",
    "Phone",
    "EMAIL",
    "Created",
    "Tags",
    "Treatment Interest",
    "How soon are you looking to book?",
    "Budget",
    "Have you had this treatment before?",
    "How many sessions are you considering?",
    "Age Range",
    "Lead Source",
    "Marketing emails delivered",
    "Marketing emails opened",
    "Last marketing email open date",
    "Marketing emails clicked",
    "Last marketing email click date",
    "Number of Pageviews",
    "Last Page Seen",
    "Time Last Seen",
    "Number of Form Submissions",
    "Recent Sales Email Replied Date",
    "Unsubscribed",
    "Notes",
)

FIRST_NAMES = (
    "Olivia", "Emma", "Ava", "Sophia", "Isabella", "Mia", "Amelia", "Harper", "Evelyn",
    "Abigail", "Emily", "Ella", "Madison", "Scarlett", "Victoria", "Aria", "Grace", "Chloe",
    "Camila", "Penelope", "Riley", "Layla", "Lillian", "Nora", "Zoey", "Hannah", "Lily",
    "Addison", "Aubrey", "Ellie", "Stella", "Natalie", "Leah", "Hazel", "Violet", "Aurora",
    "Savannah", "Audrey", "Brooklyn", "Bella", "Claire", "Skylar", "Lucy", "Paisley", "Maya",
    "James", "Michael", "Daniel", "Ryan", "Marcus", "Renée", "Zoë", "José", "Chloé",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "O'Brien",
)  # fmt: skip

# Treatment wordings from real clinic dropdowns, spelling variants included.
TREATMENTS = (
    "Botox", "Botox & Injectables", "Dysport", "Cosmetic Injections", "Dermal Fillers",
    "Fillers", "Lip Filler", "Hydrafacial", "HydraFacial", "CoolSculpting", "Coolsculpting",
    "Cryolipolysis", "Cool Lipo", "Laser Hair Removal", "Hair Removal Laser",
    "Microneedling", "Microneedling with PRP", "Chemical Peel", "IPL Photofacial",
    "Laser Skin Resurfacing", "PRP", "Semaglutide", "Radiofrequency Skin Tightening",
    "Botox; Hydrafacial", "Fillers, Botox",
)  # fmt: skip
UNSURE_TREATMENTS = ("Not sure", "Other", "Want professional assessment", "")

# Timeline options, soonest first, as real forms word them.
TIMELINES_SOON = (
    "This Week (Ready to begin)", "This Week", "ASAP", "Immediately",
    "Ready now / this week", "Within 2 weeks",
)  # fmt: skip
TIMELINES_MID = (
    "This Month (Planning ahead)", "Within 1 month", "Special Event (Preparing for occasion)",
    "2-3 months",
)  # fmt: skip
TIMELINES_LATE = (
    "3-6 months", "6+ months", "Just Exploring (Learning options)", "Just researching",
)  # fmt: skip
TIMELINES_BLANK = ("Not sure", "Select", "")

BUDGETS_HIGH = (
    "$1,000-$2,500", "$2,500+", "$800+", "2k", "Premium — £800+ per session", "Package Deal",
)  # fmt: skip
BUDGETS_MID = ("$500-$1,000", "$400-$800", "Standard — £400-800 per session", "$600")
BUDGETS_LOW = ("Under $200", "$100-$200", "Under $300", "Entry Level — £200-400 per session")
BUDGETS_BLANK = ("Not sure", "", "Select")
# Free text that no budget parser can read; the summary lists these.
BUDGETS_UNREADABLE = ("depends on the price", "cheap as possible lol", "reasonable", "ask me")

PRIOR_TREATMENT = (
    "No, this would be my first", "First treatment", "Yes, other clinics",
    "Yes, multiple treatments", "Yes", "No", "",
)  # fmt: skip
COMMITMENT = (
    "Try one session first", "3 sessions (recommended)", "6 sessions (optimal)",
    "Need guidance", "",
)  # fmt: skip
AGE_RANGES = ("18-25", "26-35", "26-35", "36-45", "36-45", "46+", "")
SOURCES = (
    "Facebook Lead Ad", "Instagram", "Google Ads", "Website Form", "Referral", "Walk-in",
    "TikTok",
)  # fmt: skip
TAGS = ("facebook lead", "instagram", "new inquiry", "consult requested", "vip", "returning")
PAGES = (
    "https://spa.example.com/",
    "https://spa.example.com/pricing",
    "https://spa.example.com/treatments/botox",
    "https://spa.example.com/book-now",
    "https://spa.example.com/blog/what-to-expect",
    "https://spa.example.com/specials",
)
NOTES = (
    "",
    "",
    "",
    "Asked about pricing on Instagram DM",
    "Called twice, no answer.\nLeft voicemail 11/20.\nTry again after 5pm.",
    "Wants a consult before her wedding\r\nprefers Saturday mornings",
    'Said "just looking" on the phone',
)


def _pick(rng: random.Random, options: tuple[str, ...]) -> str:
    return options[rng.randrange(len(options))]


def _ghl_id(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(rng.choice(alphabet) for _ in range(20))


def _phone(rng: random.Random) -> str:
    line = rng.randrange(100, 200)  # 555-0100 to 555-0199 are reserved for fiction
    area = _pick(rng, ("512", "737", "210", "713"))
    style = rng.randrange(4)
    if style == 0:
        return f"+1{area}5550{line}"
    if style == 1:
        return f"({area}) 555-0{line}"
    if style == 2:
        return f"{area}-555-0{line}"
    return f"{area}5550{line}"


def _iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _hubspot_minutes(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _us_date(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d} " + (
        "AM" if moment.hour < 12 else "PM"
    )


def _choose_band(rng: random.Random, readiness: float, bands: tuple[tuple[str, ...], ...]):
    """Pick a band: readier leads lean to the first band, the rest to the later ones."""
    roll = rng.random()
    if roll < 0.08:
        return bands[-1]  # blank or placeholder, whatever the readiness
    if roll < 0.08 + 0.8 * readiness:
        return bands[0]
    return bands[1] if rng.random() < 0.6 else bands[2]


def _lead_row(rng: random.Random, index: int) -> dict[str, str]:
    readiness = rng.random()
    first = _pick(rng, FIRST_NAMES)
    last = _pick(rng, LAST_NAMES)
    created = EXPORTED_AT - timedelta(minutes=rng.randrange(60, 60 * 24 * 75))
    email_user = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
    email_user = email_user.encode("ascii", "ignore").decode("ascii")

    treatment = _pick(rng, TREATMENTS if rng.random() < 0.85 else UNSURE_TREATMENTS)
    timeline = _pick(
        rng, _choose_band(rng, readiness, (TIMELINES_SOON, TIMELINES_MID, TIMELINES_LATE,
                                           TIMELINES_BLANK))
    )  # fmt: skip
    if rng.random() < 0.05:
        budget = _pick(rng, BUDGETS_UNREADABLE)
    else:
        budget = _pick(
            rng, _choose_band(rng, readiness, (BUDGETS_HIGH, BUDGETS_MID, BUDGETS_LOW,
                                               BUDGETS_BLANK))
        )  # fmt: skip

    delivered = rng.randrange(0, 9)
    opened = min(delivered, int(delivered * readiness + rng.random() * 2))
    clicked = min(opened, int(opened * readiness * rng.random() * 1.5))
    last_open = created + timedelta(hours=rng.randrange(2, 24 * 40)) if opened else None
    if last_open is not None and last_open > EXPORTED_AT:
        last_open = EXPORTED_AT - timedelta(hours=rng.randrange(1, 48))
    last_click = last_open - timedelta(minutes=rng.randrange(1, 90)) if clicked else None
    pageviews = int(readiness * 14 * rng.random())
    last_seen = EXPORTED_AT - timedelta(hours=rng.randrange(1, 24 * 45)) if pageviews else None
    if last_seen is not None and last_seen < created:
        last_seen = created + timedelta(minutes=rng.randrange(1, 120))
    replied = rng.random() < readiness * 0.35
    replied_at = (
        min(EXPORTED_AT, created + timedelta(hours=rng.randrange(1, 24 * 10))) if replied else None
    )

    tags = {_pick(rng, TAGS) for _ in range(rng.randrange(0, 3))}
    if readiness > 0.85:
        tags.add("consult requested")
    created_text = _iso_ms(created) if rng.random() < 0.9 else _us_date(created)
    return {
        "Contact Id": _ghl_id(rng),
        "first name": first.upper() if rng.random() < 0.05 else first,
        "Last Name": last,
        "Phone": _phone(rng) if rng.random() < 0.9 else "",
        "EMAIL": f"{email_user}{index}@{_pick(rng, ('example.com', 'example.net'))}",
        "Created": created_text,
        "Tags": ", ".join(sorted(tags)),
        "Treatment Interest": treatment,
        "How soon are you looking to book?": timeline,
        "Budget": budget,
        "Have you had this treatment before?": _pick(rng, PRIOR_TREATMENT),
        "How many sessions are you considering?": _pick(rng, COMMITMENT),
        "Age Range": _pick(rng, AGE_RANGES),
        "Lead Source": _pick(rng, SOURCES),
        "Marketing emails delivered": str(delivered),
        "Marketing emails opened": str(opened),
        "Last marketing email open date": _hubspot_minutes(last_open) if last_open else "",
        "Marketing emails clicked": str(clicked),
        "Last marketing email click date": _hubspot_minutes(last_click) if last_click else "",
        "Number of Pageviews": str(pageviews),
        "Last Page Seen": _pick(rng, PAGES) if pageviews else "",
        "Time Last Seen": _hubspot_minutes(last_seen) if last_seen else "",
        "Number of Form Submissions": str(1 + int(rng.random() < readiness * 0.4)),
        "Recent Sales Email Replied Date": _us_date(replied_at) if replied_at else "",
        "Unsubscribed": "",
        "Notes": _pick(rng, NOTES),
    }


def _special_rows(rng: random.Random) -> list[dict[str, str]]:
    """Rows that exercise the disqualifiers: an unsubscribed lead and a test lead."""
    unsubscribed = _lead_row(rng, 9001)
    unsubscribed.update(
        {
            "How soon are you looking to book?": "This Week",
            "Budget": "$1,000-$2,500",
            "Unsubscribed": "Yes",
            "Notes": "Asked to stop all emails",
        }
    )
    test = _lead_row(rng, 9002)
    test.update(
        {
            "first name": "Test",
            "Last Name": "Test",
            "EMAIL": "test@example.com",
            "Phone": "+15125550100",
            "Tags": "test",
            "Notes": "form test by web agency - ignore",
        }
    )
    return [unsubscribed, test]


def build_rows(seed: int = SEED, count: int = LEAD_COUNT) -> list[dict[str, str]]:
    """Return `count` leads, the last two being the unsubscribed and the test lead."""
    rng = random.Random(seed)
    rows = [_lead_row(rng, index) for index in range(1, count - 1)]
    specials = _special_rows(rng)
    rows.insert(count // 3, specials[0])
    rows.insert(2 * count // 3, specials[1])
    return rows


def render(rows: list[dict[str, str]], header: Sequence[str] = HEADER) -> bytes:
    """Return the CSV bytes: UTF-8 with a byte order mark, CRLF, every cell quoted."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row[name] for name in header])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def write_or_check(
    argv: list[str] | None,
    *,
    description: str,
    script: str,
    output: Path,
    seed: int,
    count: int,
    make_csv: Callable[[int, int], bytes],
) -> int:
    """Write the CSV that `make_csv(seed, count)` returns, or with `--check` compare it.

    Shared by the example generators, so `--output`, `--count`, `--seed` and
    `--check` work the same in each. Returns the exit status: 1 when `--check`
    finds the file out of date, else 0.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--output", type=Path, default=output, help="CSV file to write.")
    parser.add_argument("--count", type=int, default=count, help="Number of leads.")
    parser.add_argument("--seed", type=int, default=seed, help="Random seed.")
    parser.add_argument(
        "--check", action="store_true", help="Exit 1 if the output file differs; write nothing."
    )
    args = parser.parse_args(argv)
    data = make_csv(args.seed, args.count)
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != data:
            print(f"{args.output} is out of date; run python {script}", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"wrote {args.count} leads to {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return write_or_check(
        argv,
        description=__doc__.splitlines()[0],
        script="examples/make_leads.py",
        output=OUTPUT,
        seed=SEED,
        count=LEAD_COUNT,
        make_csv=lambda seed, count: render(build_rows(seed, count)),
    )


if __name__ == "__main__":
    sys.exit(main())
