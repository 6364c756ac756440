"""Spreadsheet connector: score a CSV or XLSX export without a CRM.

`SpreadsheetSource` reads a file through a model's field mapping and yields
`Contact` objects; `write_scored` writes every input row unchanged plus the
score columns.
"""

from connectors.spreadsheet.columns import (
    DEFAULT_ACTIVITY_COLUMNS,
    ColumnPlan,
    MissingAnswerColumnsError,
    plan_columns,
)
from connectors.spreadsheet.source import CellIssue, SpreadsheetSource
from connectors.spreadsheet.table import Table, cell_text, read_table
from connectors.spreadsheet.writer import SCORE_COLUMNS, output_format, write_scored

__all__ = [
    "DEFAULT_ACTIVITY_COLUMNS",
    "SCORE_COLUMNS",
    "CellIssue",
    "ColumnPlan",
    "MissingAnswerColumnsError",
    "SpreadsheetSource",
    "Table",
    "cell_text",
    "output_format",
    "plan_columns",
    "read_table",
    "write_scored",
]
