"""The wire layer, private to mailcore: MIME (``mime``), header values (``headers``),
addresses (``addresses``) and international domains (``domains``). Only
:class:`mailcore.EmailMessage` and the core use it; plugins use the public names of
:mod:`mailcore` instead. Each module's ``__all__`` lists what the others use."""
