"""The ``notify`` role's I/O: dispatching due messages and recording their outcomes."""
