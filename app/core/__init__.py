"""Qt-free core: the usage model, the incremental index, prices and reports."""
