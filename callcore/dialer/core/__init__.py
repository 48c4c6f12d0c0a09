"""The dialer's pure core: ``Dialer.handle(event, now) -> list[Command]``.

Nothing in this package performs I/O, reads a clock or imports the shell (``callcore.dialer.runtime``,
``store``, ARI, asyncio): the executor turns ARI events, database results and ACD notifications into
:mod:`~callcore.dialer.core.events` and carries out the :mod:`~callcore.dialer.core.commands`. The
campaign rules (``callcore.dialer.campaign``), the guards (``compliance``) and the pacer (``pacer``) are
pure modules the core builds on.
"""
