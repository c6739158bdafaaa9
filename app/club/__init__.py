"""The club leaderboard: signed member exports, their merge into a board, and the share card's numbers.

Qt-free (the PNG card is drawn by ``app.gui.share_card``). ``export`` builds a member's
numbers-only document from the daily report and signs it (``signing``); ``merge`` verifies
a folder of such files, applies the plausibility rules and writes the board (``board``:
CSV, JSON, SQLite, HTML). ``docs/club-schema.md`` is the file format.
"""

SCHEMA = "tokenclub.club-export"
VERSION = 1  # the export format's version; a reader refuses a newer one
BOARD_SCHEMA = "tokenclub.club-board"
BOARD_VERSION = 1
