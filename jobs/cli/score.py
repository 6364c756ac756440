"""`leadscore score` and `leadscore explain`: score a spreadsheet, explain one lead.

Exit codes:

- 0: the file was scored. Rows that could not be scored are listed in the summary.
- 1: `explain` could not score the lead because the engine failed on it, or
  found no stored score for it in the state store.
- 2: the input, output, model or an option is invalid, or `explain` found no
  usable row for the lead in the file. The message explains the fix.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table as RichTable
from rich.text import Text

from connectors.base import Contact, SkippedRecord
from connectors.errors import InputFileError
from connectors.spreadsheet import MissingAnswerColumnsError, SpreadsheetSource
from jobs.cli.options import UsageProblem, load_model, parse_now
from scoring.result import ScoreResult, Tier

if TYPE_CHECKING:
    from jobs.spreadsheet_job import UnreadableColumn

EXIT_INVALID_INPUT = 2
EXIT_SCORING_FAILED = 1
# Files with fewer rows finish before a progress bar is worth drawing.
PROGRESS_MIN_ROWS = 2_000
DEFAULT_TOP_HOT = 10
# Skipped rows listed one by one in the summary; the rest are counted.
MAX_SKIPPED_LISTED = 20
# Data row numbers listed per column of unreadable cells; the rest are counted.
MAX_ROWS_PER_COLUMN = 5
# Extensions `-o` accepts; the writer picks CSV (tabs for .tsv) or XLSX from them.
OUTPUT_EXTENSIONS = (".csv", ".tsv", ".txt", ".xlsx")

# Typer 0.29 shows a value type such as <bool> beside every option, flags
# included, although a flag takes no value (`--force true` is rejected). An
# empty metavar leaves the column blank for a flag.
# NOTE: Typer's own --help flag still shows <bool>; its metavar is not ours to set.
FLAG_METAVAR = ""

InputArg = Annotated[
    Path, typer.Argument(help="CSV or XLSX file of leads, with a header row.", show_default=False)
]
ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model", "-m", help="Scoring model TOML file. Default: the built-in med spa model."
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Score as of this ISO 8601 time (e.g. 2026-12-01T12:00:00Z) instead of the "
        "current time; a time without an offset is read in --timezone.",
    ),
]
SheetOption = Annotated[
    str | None, typer.Option("--sheet", help="XLSX sheet to read. Default: the first sheet.")
]
TimezoneOption = Annotated[
    str,
    typer.Option(
        "--timezone",
        help="IANA time zone (e.g. America/Chicago) of dates written without an offset, "
        "such as HubSpot's '2025-11-14 14:30'.",
    ),
]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict",
        metavar=FLAG_METAVAR,
        # Rich reads an unescaped [mapping] in help text as a markup tag and drops it.
        help="Stop when any answer or attribute column named in the model's "
        "\\[mapping] is missing. Missing engagement columns (email opens, page views) "
        "are listed in the summary and never stop the run.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the `score` and `explain` commands to the `leadscore` application."""
    app.command("score")(score_command)
    app.command("explain")(explain_command)


def score_command(
    input_path: InputArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Scored file to write: .csv, .tsv, .txt or .xlsx, which sets the format. "
            "Default: INPUT-scored next to the input.",
        ),
    ] = None,
    model_path: ModelOption = None,
    now: NowOption = None,
    sheet: SheetOption = None,
    timezone: TimezoneOption = "UTC",
    in_place: Annotated[
        bool,
        typer.Option(
            "--in-place", metavar=FLAG_METAVAR, help="Overwrite INPUT with the scored copy."
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", metavar=FLAG_METAVAR, help="Overwrite OUTPUT if it already exists."
        ),
    ] = False,
    strict: StrictOption = False,
    allow_missing_answers: Annotated[
        bool,
        typer.Option(
            "--allow-missing-answers",
            metavar=FLAG_METAVAR,
            help="Score even when none of the model's answer columns is in the file, "
            "from attributes and engagement alone. Without it the command stops.",
        ),
    ] = False,
    top: Annotated[
        int, typer.Option("--top", min=0, help="Number of hot leads listed in the summary.")
    ] = DEFAULT_TOP_HOT,
    verbose: Annotated[
        bool, typer.Option("--verbose", metavar=FLAG_METAVAR, help="Log progress events.")
    ] = False,
) -> None:
    """Score every lead in a CSV or XLSX file and write a copy with score columns.

    The copy keeps every input row unchanged and adds score, fit, intent, tier
    and reasons.
    """
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    _configure_logging(verbose)
    try:
        output_path = _resolve_output(input_path, output, in_place=in_place, force=force)
        zone = _parse_timezone(timezone)
        moment = parse_now(now, zone)
        model = load_model(model_path)
        source = SpreadsheetSource(
            input_path,
            model.mapping,
            sheet=sheet,
            timezone=zone,
            strict=strict,
            allow_missing_answers=allow_missing_answers,
        )
        if not source.rows:
            raise UsageProblem(
                f"{input_path} has a header row but no data rows; add one row per lead "
                "below the header"
            )
    except MissingAnswerColumnsError as problem:
        hint = "Or pass --allow-missing-answers to score the file without answers."
        err.print(Text(f"Error: {problem}\n{hint}", style="red"))
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    except (UsageProblem, InputFileError) as problem:
        err.print(Text(f"Error: {problem}", style="red"))
        raise typer.Exit(EXIT_INVALID_INPUT) from None

    from jobs.spreadsheet_job import score_sheet, write_report

    total = len(source.rows)
    if err.is_terminal and total >= PROGRESS_MIN_ROWS:
        with _progress(err) as progress:
            task = progress.add_task("Scoring", total=total)
            report = score_sheet(
                source, model, moment, on_row=lambda n: progress.update(task, completed=n)
            )
    else:
        report = score_sheet(source, model, moment)

    try:
        write_report(report, output_path)
    except InputFileError as exc:
        err.print(Text(f"Error: {exc}", style="red"))
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    _print_summary(out, report, output_path, top=top)


def explain_command(
    contact: Annotated[
        str,
        typer.Argument(
            help="Lead id from the id column, or row:N for the N-th data row (1-based).",
            show_default=False,
        ),
    ],
    input_path: Annotated[
        Path | None, typer.Option("--input", "-i", help="CSV or XLSX file that contains the lead.")
    ] = None,
    model_path: ModelOption = None,
    now: NowOption = None,
    sheet: SheetOption = None,
    timezone: TimezoneOption = "UTC",
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            "-a",
            help="Account key (hubspot:123) or id of a stored lead, when it is in several.",
        ),
    ] = None,
) -> None:
    """Show the full explanation of one lead's score: every rule, part, tier and unknown answer."""
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    _configure_logging(False)
    try:
        zone = _parse_timezone(timezone)
        moment = parse_now(now, zone)
        model = load_model(model_path)
        if input_path is None:
            from jobs.explain_store import explain_stored_lead

            explain_stored_lead(contact, model, out=out, err=err, account=account)
            return
        else:
            found = _explain_from_file(contact, input_path, model, moment, sheet=sheet, zone=zone)
    except UsageProblem as problem:
        err.print(Text(f"Error: {problem}", style="red"))
        raise typer.Exit(EXIT_INVALID_INPUT) from None

    record, result, note = found
    if isinstance(result, SkippedRecord):
        err.print(
            Text(f"Error: data row {result.row} cannot be scored: {result.reason}", style="red")
        )
        raise typer.Exit(EXIT_SCORING_FAILED)
    print_explanation(out, record, result, model, note=note)


def _explain_from_file(
    contact: str,
    input_path: Path,
    model: Any,
    now: datetime,
    *,
    sheet: str | None,
    zone: tzinfo,
) -> tuple[Contact, ScoreResult | SkippedRecord, str]:
    """Find and score one lead of a file; the result is a `SkippedRecord` if scoring failed.

    Raises `UsageProblem` when the file cannot be read or has no usable row for the lead.
    """
    from jobs.spreadsheet_job import score_contact

    try:
        source = SpreadsheetSource(input_path, model.mapping, sheet=sheet, timezone=zone)
    except InputFileError as exc:
        raise UsageProblem(str(exc)) from None

    record, note = _find_record(source, contact)
    if record is None:
        raise UsageProblem(note)
    if isinstance(record, SkippedRecord):
        raise UsageProblem(f"data row {record.row} cannot be scored: {record.reason}")
    return record, score_contact(record, model, now), note


def _find_record(
    source: SpreadsheetSource, contact: str
) -> tuple[Contact | SkippedRecord | None, str]:
    total = len(source.rows)
    where = f"{source.path}"
    if contact.lower().startswith("row:"):
        text = contact[4:].strip()
        if not text.isdigit() or not 1 <= int(text) <= total:
            raise UsageProblem(
                f"{contact!r} is not a data row of {where}: use row:1 to row:{total}"
            )
        return source.record_for_row(int(text)), f"data row {text} of {where}"

    matches = [
        record
        for record in source.iter_records()
        if isinstance(record, Contact) and record.id == contact
    ]
    if not matches:
        id_column = source.plan.contact.get("id")
        column = repr(source.header[id_column]) if id_column is not None else "none found"
        return None, (
            f"no lead with id {contact!r} in {where} (id column: {column}); "
            "check the id, or pass row:N for the N-th data row"
        )
    first = matches[0]
    note = f"data row {first.source_row} of {where}"
    if len(matches) > 1:
        rows = ", ".join(str(match.source_row) for match in matches)
        note += f"; {len(matches)} rows have this id ({rows}), showing the first"
    return first, note


def _resolve_output(input_path: Path, output: Path | None, *, in_place: bool, force: bool) -> Path:
    if in_place:
        if output is not None and output.resolve() != input_path.resolve():
            raise UsageProblem("--in-place and --output name different files; pass only one")
        return input_path
    if output is not None and output.suffix.lower() not in OUTPUT_EXTENSIONS:
        found = f"extension {output.suffix!r}" if output.suffix else "no extension"
        raise UsageProblem(
            f"output {output} has {found}; name it with .csv, .tsv, .txt or .xlsx, "
            "which sets the format written"
        )
    if output is None:
        suffix = input_path.suffix.lower() if input_path.suffix.lower() in (".xlsx", ".csv") else ""
        suffix = suffix or (".xlsx" if _looks_like_xlsx(input_path) else ".csv")
        output = input_path.with_name(f"{input_path.stem}-scored{suffix}")
    if input_path.exists() and output.exists() and output.resolve() == input_path.resolve():
        raise UsageProblem(
            f"output {output} is the input file; pass --in-place to overwrite the input"
        )
    if output.exists() and not force:
        raise UsageProblem(
            f"output {output} already exists; pass --force to overwrite it or choose "
            "another path with -o"
        )
    if output.exists() and output.is_dir():
        raise UsageProblem(f"output {output} is a directory; pass a file name with -o")
    return output


def _looks_like_xlsx(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _parse_timezone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageProblem(
            f"--timezone {name!r} is not a known IANA time zone; use a name such as "
            "America/New_York or UTC"
        ) from None


def _configure_logging(verbose: bool) -> None:
    from jobs.logging import configure_logging

    configure_logging(level="INFO" if verbose else "WARNING")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


_TIER_STYLE = {
    Tier.HOT: "bold red",
    Tier.WARM: "yellow",
    Tier.COLD: "cyan",
    Tier.DISQUALIFIED: "dim",
}


def _print_summary(console: Console, report: Any, output_path: Path, *, top: int) -> None:
    source = report.source
    scored = len(report.results)
    console.print(
        f"Scored {scored} of {len(report.rows)} rows from {source.path} "
        f"with model {report.model_version}; wrote {output_path}"
    )

    tiers = RichTable(title="Leads per tier", title_justify="left")
    tiers.add_column("tier")
    tiers.add_column("leads", justify="right")
    tiers.add_column("share", justify="right")
    for tier, count in sorted(report.tier_counts().items(), key=lambda item: -item[0].rank):
        share = f"{100 * count / scored:.0f}%" if scored else "-"
        tiers.add_row(Text(tier.value, style=_TIER_STYLE[tier]), str(count), share)
    console.print(tiers)

    for warning in source.table.warnings:
        console.print(f"Note: {warning}")
    answers = [item for item in source.plan.missing if not item.fact.startswith("activities.")]
    engagement = [item.fact.split(".", 1)[1] for item in source.plan.missing if item not in answers]
    if answers:
        console.print(
            "Columns not found, so these facts are unknown on every row: "
            + "; ".join(
                f"{item.fact} (tried {', '.join(repr(n) for n in item.tried)})" for item in answers
            )
        )
    if engagement:
        console.print("Engagement columns not found: " + ", ".join(engagement))
    if source.plan.ignored_post_outcome:
        console.print(
            "Not read, because the model marks them as filled in after the outcome: "
            + ", ".join(repr(name) for name in source.plan.ignored_post_outcome)
        )

    _print_unparsed(console, report.unparsed_by_column())
    _print_unreadable(console, report.unreadable_cells())
    _print_skipped(console, report.skipped)
    _print_hot(console, report, top)


def _print_unparsed(console: Console, unparsed: dict[str, Counter[str]]) -> None:
    if not unparsed:
        return
    table = RichTable(title="Unparsed answers by column (scored as unknown)", title_justify="left")
    table.add_column("column")
    table.add_column("rows", justify="right")
    table.add_column("most common values")
    for column, values in sorted(unparsed.items(), key=lambda item: -item[1].total()):
        common = ", ".join(f"{value!r} ×{n}" for value, n in values.most_common(3))
        table.add_row(column, str(values.total()), common)
    console.print(table)


def _print_unreadable(console: Console, cells: dict[str, UnreadableColumn]) -> None:
    if not cells:
        return
    table = RichTable(title="Cells that could not be read (left out)", title_justify="left")
    table.add_column("column")
    table.add_column("rows", justify="right")
    table.add_column("data rows")
    table.add_column("most common values")
    table.add_column("reason")
    for name, column in sorted(cells.items(), key=lambda item: -item[1].values.total()):
        common = ", ".join(f"{value!r} ×{n}" for value, n in column.values.most_common(3))
        table.add_row(
            name, str(column.values.total()), _first_rows(column.rows), common, column.reason
        )
    console.print(table)


def _first_rows(rows: list[int]) -> str:
    listed = ", ".join(str(row) for row in rows[:MAX_ROWS_PER_COLUMN])
    if len(rows) > MAX_ROWS_PER_COLUMN:
        listed += f", … (+{len(rows) - MAX_ROWS_PER_COLUMN} more)"
    return listed


def _print_skipped(console: Console, skipped: list[SkippedRecord]) -> None:
    if not skipped:
        return
    console.print(f"Rows not scored: {len(skipped)}")
    for record in skipped[:MAX_SKIPPED_LISTED]:
        detail = f" (value {record.value!r})" if record.value else ""
        console.print(f"  data row {record.row}: {record.reason}{detail}")
    if len(skipped) > MAX_SKIPPED_LISTED:
        console.print(f"  … and {len(skipped) - MAX_SKIPPED_LISTED} more rows")


def _print_hot(console: Console, report: Any, top: int) -> None:
    hot = report.hot_leads(top)
    if not hot:
        return
    table = RichTable(title=f"Top hot leads (up to {top})", title_justify="left")
    table.add_column("row", justify="right")
    table.add_column("lead")
    table.add_column("score", justify="right")
    table.add_column("fit", justify="right")
    table.add_column("intent", justify="right")
    table.add_column("top reasons")
    for row, result in hot:
        name = row.name or result.lead_id
        table.add_row(
            str(row.row),
            name,
            str(result.score),
            str(result.fit),
            str(result.intent),
            result.reasons_text(limit=3),
        )
    console.print(table)


def print_explanation(
    console: Console, contact: Contact, result: ScoreResult, model: Any, *, note: str = ""
) -> None:
    """Print every rule that fired, the parts, the tier and why, and the unknown answers."""
    lead_label = f"{contact.name} ({contact.id})" if contact.name else contact.id
    console.print(Text(f"Lead {lead_label}" + (f", {note}" if note else ""), style="bold"))
    console.print(
        f"Score {result.score}/100, fit {result.fit}/100, intent {result.intent}/100, "
        f"model {result.model_version or getattr(model, 'version', '')}"
    )
    console.print(
        Text(f"Tier: {result.tier.value}", style=_TIER_STYLE[result.tier]),
        Text(f"({tier_reason(result, model)})"),
    )

    hits = RichTable(title="Rules that fired", title_justify="left")
    hits.add_column("part")
    hits.add_column("rule")
    hits.add_column("points", justify="right")
    hits.add_column("evidence")
    for hit in result.hits:
        points = f"{hit.points:+g}"
        hits.add_row(hit.part.value, f"{hit.label} [{hit.rule_id}]", points, hit.evidence)
    if result.hits:
        console.print(hits)
    else:
        console.print("No rule fired.")

    if result.unknowns:
        unknowns = RichTable(title="Unknown answers (scored nothing)", title_justify="left")
        unknowns.add_column("field")
        unknowns.add_column("value")
        unknowns.add_column("reason")
        for unknown in result.unknowns:
            unknowns.add_row(unknown.field, repr(unknown.value), unknown.reason)
        console.print(unknowns)

    _print_facts(console, contact)


def _print_facts(console: Console, contact: Contact) -> None:
    lead = contact.lead
    facts = RichTable(title="Facts read from the row", title_justify="left")
    facts.add_column("fact")
    facts.add_column("value")
    for key, value in {**lead.attributes, **lead.answers}.items():
        facts.add_row(key, str(value))
    if lead.tags:
        facts.add_row("tags", ", ".join(sorted(lead.tags)))
    if lead.created_at:
        facts.add_row("created", lead.created_at.isoformat())
    for activity in lead.activities:
        last = f", last {activity.last_at.isoformat()}" if activity.last_at else ""
        url = f", {activity.url}" if activity.url else ""
        facts.add_row(activity.kind.value, f"{activity.count}{last}{url}")
    if lead.unsubscribed:
        facts.add_row("unsubscribed", "yes")
    if lead.do_not_contact:
        facts.add_row("do not contact", "yes")
    console.print(facts)


def tier_reason(result: ScoreResult, model: Any) -> str:
    """Explain the tier from the model's cutoffs and part minimums."""
    if result.tier is Tier.DISQUALIFIED:
        return "disqualified by " + (", ".join(result.disqualified_by) or "a disqualifier rule")
    tiers = getattr(model, "tiers", None)
    hot = getattr(tiers, "hot", 80)
    warm = getattr(tiers, "warm", 50)
    hot_gates = _failed_gates(result, tiers, "hot")
    warm_gates = _failed_gates(result, tiers, "warm")
    if result.tier is Tier.HOT:
        return f"score {result.score} is at least the hot cutoff {hot}"
    if result.tier is Tier.WARM:
        if result.score >= hot and hot_gates:
            return f"score {result.score} reaches the hot cutoff {hot} but " + " and ".join(
                hot_gates
            )
        return f"score {result.score} is at least the warm cutoff {warm} and below hot {hot}"
    if result.score >= warm and warm_gates:
        return f"score {result.score} reaches the warm cutoff {warm} but " + " and ".join(
            warm_gates
        )
    return f"score {result.score} is below the warm cutoff {warm}"


def _failed_gates(result: ScoreResult, tiers: Any, tier: str) -> list[str]:
    failed = []
    for part, value in (("fit", result.fit), ("intent", result.intent)):
        minimum = getattr(tiers, f"{tier}_min_{part}", 0) or 0
        if value < minimum:
            failed.append(f"{part} {value} is below the {tier} minimum {minimum}")
    return failed
