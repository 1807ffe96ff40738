"""`outreach campaign import FILE [--start] [--dry-run]`: a campaign from a YAML file, without Slack.

For scripting, the demo and the benchmarks. The file names the owner, the sending mailbox, the
sequence, the campaign's settings (SPEC "When to send", "Choosing the recipient address") and the
candidates. The whole file is checked before anything is written: every problem found is reported
as `FILE:LINE: field.path: what is wrong: what is expected` (list positions count from 1, as step
numbers do), the command exits 2, and the database is left as it was. A good file is written in one
transaction and one summary line is printed.

From Python (the demo and the benchmarks)::

    result = import_campaign(runtime, "campaign.yaml", start=True)      # or a Path
    result = import_campaign_text(runtime, yaml_text, start=True)
    print(result.summary())
    # a bad file raises ImportProblems (a UserError); .problems lists every Problem found

The package, by job: `yaml_lines` (YAML with the line of every value), `schema` (the file's
shape, with the example), `checks` (the file, then the database, checked before anything is
written), `writing` (the one transaction, and the Python API above) and `cli`.
"""
from __future__ import annotations

from bot.campaign_import.cli import EXIT_OK, EXIT_PROBLEMS
from bot.campaign_import.problems import ImportProblems, ImportResult, Problem
from bot.campaign_import.writing import import_campaign, import_campaign_text

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "ImportProblems", "ImportResult", "Problem", "import_campaign",
           "import_campaign_text"]
