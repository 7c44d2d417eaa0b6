"""The wire layer, private to mailcore: MIME (``mime``), header values (``headers``) and
addresses (``addresses``). Only :class:`mailcore.EmailMessage` and the core use it;
plugins use the public names of :mod:`mailcore` instead."""
