"""Kilo CLI: an OpenCode fork with OpenCode's schema, in ``$XDG_DATA_HOME/kilo``.

``kilo.db`` (and ``kilo-<channel>.db``) plus legacy ``storage/message/<session>/<msg>.json``;
the rules, the key (message id) and the prios are OpenCode's, under Kilo's own key prefix.
No Kilo-owned variable that relocates the database is documented, so none is honoured.
"""

from __future__ import annotations

from app.core.descriptor import Descriptor
from app.sources.opencode import OpenCode


class KiloCli(OpenCode):
    agent = "kilo-cli"
    title = "Kilo CLI"
    descriptor = Descriptor(env=("XDG_DATA_HOME",))
    dir_name = "kilo"
    db_env = None
    key_prefix = "kilo"
