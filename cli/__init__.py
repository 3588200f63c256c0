"""The top floor: the ``wismo`` command line and the assembly of processes.

:mod:`cli.main` parses ``wismo …`` and hands over to one module of :mod:`cli.commands` per
sub-command; :mod:`cli.runtime` composes roles into processes (:mod:`cli.runtime.roles`) and
launches the embedded services of ``wismo up`` (:mod:`cli.runtime.embedded`). This is the only
package that knows every layer; nothing below imports it.
"""
