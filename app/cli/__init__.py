"""The command-line face: ``tokenclub`` and its commands (``main``), over the features, sources and core.

Kept empty of imports: ``tokenclub statusline`` loads ``launch`` and ``statusline`` from here
and nothing else.
"""
